// SPDX-License-Identifier: GPL-2.0-or-later
//
// libFuzzer target for the hot-set file parser (block/hypercache/
// hotset-file.cc) through the core's C API, which is what QEMU calls on a
// file it did not write.  The first input byte picks how the rest is used:
//   0  the bytes as a file;
//   1  the same with the checksum made to match, so the fuzzer gets past it
//      to the header and body checks;
//   2  the same with the length fields made to agree with the input too;
//   3  block numbers (3 bytes each) for an encoder round trip, with one
//      byte of the encoding then changed.
// It checks that:
//   - nothing crashes, leaks, reads out of bounds or trips UBSan;
//   - a refused file gets -EINVAL and a message, and no hot set;
//   - an accepted file re-encodes to a file that parses to the same set,
//     its blocks lie inside its image, and it passes the node check for
//     its own block size, size and identity and fails any other;
//   - batches come out sorted, without duplicates, inside the image, at
//     most the runs' size, and together list every block of the set;
//   - the encoder's output always parses back to what it was given, in at
//     most 8 bytes per block on an image below 2^48 blocks.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "block/hypercache-core.h"
#include "hotset.h"

namespace {

constexpr uint64_t kMaxBlocks = 1 << 16;

[[noreturn]] void fail(const char *what) {
    fprintf(stderr, "fuzz_hotset: %s\n", what);
    abort();
}

void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        p[i] = uint8_t(v >> (8 * i));
    }
}

void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        p[i] = uint8_t(v >> (8 * i));
    }
}

uint32_t get32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v |= uint32_t(p[i]) << (8 * i);
    }
    return v;
}

void fix_crc(std::vector<uint8_t> *f) {
    if (f->size() < hypercache::kHotsetHeaderSize) {
        return;
    }
    put32(f->data() + 56, 0);
    put32(f->data() + 56, hypercache::crc32c(f->data(), f->size()));
}

void fix_lengths(std::vector<uint8_t> *f) {
    if (f->size() < hypercache::kHotsetHeaderSize) {
        return;
    }
    uint32_t idlen = get32(f->data() + 20) % 64;
    if (hypercache::kHotsetHeaderSize + idlen > f->size()) {
        idlen = uint32_t(f->size() - hypercache::kHotsetHeaderSize);
    }
    put32(f->data() + 12, hypercache::kHotsetHeaderSize + idlen);
    put32(f->data() + 20, idlen);
    put64(f->data() + 48, f->size() - hypercache::kHotsetHeaderSize - idlen);
}

std::vector<uint64_t> blocks_of(const hc_hotset *hs) {
    std::vector<uint64_t> v;
    for (uint64_t i = 0; i < hc_hotset_count(hs); i++) {
        v.push_back(hc_hotset_block(hs, i));
    }
    return v;
}

std::vector<uint8_t> encode(const hc_hotset *hs) {
    void *buf = nullptr;
    size_t len = 0;
    if (hc_hotset_encode(hs, &buf, &len) != 0) {
        fail("encode failed");
    }
    std::vector<uint8_t> v(static_cast<uint8_t *>(buf),
                           static_cast<uint8_t *>(buf) + len);
    free(buf);
    return v;
}

// Parse @f; on success check everything the parser promises.
void check_file(const std::vector<uint8_t> &f, uint64_t max_blocks) {
    hc_hotset *hs = nullptr;
    char err[512];
    err[0] = '\0';
    int r =
        hc_hotset_parse(f.data(), f.size(), max_blocks, &hs, err, sizeof(err));
    if (r != 0) {
        if (r != -EINVAL || hs || !err[0]) {
            fail("refusal without -EINVAL and a message, or with a set");
        }
        return;
    }
    std::vector<uint64_t> blocks = blocks_of(hs);
    if (blocks.size() > max_blocks) {
        fail("more blocks kept than asked for");
    }
    uint32_t bs = hc_hotset_block_size(hs);
    uint64_t image = hs->image_size;
    uint64_t image_blocks = image / bs + (image % bs != 0);
    for (uint64_t b : blocks) {
        if (b >= image_blocks) {
            fail("a block outside its image was accepted");
        }
    }
    if (hc_hotset_check(hs, bs, image, hs->identity.c_str(), err,
                        sizeof(err)) != 0) {
        fail("a set does not pass its own node check");
    }
    if (hc_hotset_check(hs, bs == 512 ? 1024 : 512, image, hs->identity.c_str(),
                        err, sizeof(err)) != -EINVAL ||
        hc_hotset_check(hs, bs, image + 1, hs->identity.c_str(), err,
                        sizeof(err)) != -EINVAL ||
        hc_hotset_check(hs, bs, image, (hs->identity + "x").c_str(), err,
                        sizeof(err)) != -EINVAL) {
        fail("a set passes another node's check");
    }

    // Round trip of what was kept.
    std::vector<uint8_t> again = encode(hs);
    hc_hotset *hs2 = nullptr;
    if (hc_hotset_parse(again.data(), again.size(), UINT64_MAX, &hs2, err,
                        sizeof(err)) != 0) {
        fail("a re-encoded set does not parse");
    }
    if (blocks_of(hs2) != blocks || hs2->identity != hs->identity ||
        hs2->image_size != image || hc_hotset_block_size(hs2) != bs) {
        fail("a re-encoded set parses to something else");
    }
    hc_hotset_free(hs2);

    // Batches.
    std::multiset<uint64_t> want(blocks.begin(), blocks.end());
    std::set<uint64_t> seen;
    std::vector<hc_hotset_run> runs(64);
    uint64_t pos = 0;
    size_t n;
    while ((n = hc_hotset_next_batch(hs, &pos, 64, 7, runs.data())) > 0) {
        uint64_t prev_end = 0;
        for (size_t i = 0; i < n; i++) {
            const hc_hotset_run &run = runs[i];
            if (run.len == 0 || run.len % bs || run.offset % bs ||
                run.len / bs > 7 || (i && run.offset < prev_end)) {
                fail("a batch run is empty, unaligned, too long or unsorted");
            }
            for (uint64_t b = run.offset / bs; b < (run.offset + run.len) / bs;
                 b++) {
                if (!want.count(b)) {
                    fail("a batch lists a block that is not in the set");
                }
                seen.insert(b);
            }
            prev_end = run.offset + run.len;
        }
    }
    if (pos != blocks.size() ||
        seen.size() !=
            std::set<uint64_t>(blocks.begin(), blocks.end()).size()) {
        fail("the batches do not cover the set");
    }
    hc_hotset_free(hs);
}

void round_trip(const uint8_t *data, size_t size) {
    if (size < 2) {
        return;
    }
    uint32_t bs = 512u << (data[0] % 8);
    // Below 2^48 blocks, so every block fits 8 bytes; sometimes tiny.
    uint64_t image = data[1] & 1 ? uint64_t(bs) << 47 : uint64_t(1) << 24;
    uint64_t image_blocks = image / bs;
    hc_hotset *hs = hc_hotset_new(bs, image, "fuzz");
    std::vector<uint64_t> blocks;
    for (size_t i = 2; i + 3 <= size; i += 3) {
        uint64_t v =
            data[i] | uint64_t(data[i + 1]) << 8 | uint64_t(data[i + 2]) << 16;
        // Spread over the image, with neighbours now and then.
        uint64_t b = (data[1] & 2) ? v : v * 0x9e3779b97f4a7c15ULL;
        b %= image_blocks;
        blocks.push_back(b);
        hc_hotset_add(hs, b);
    }
    std::vector<uint8_t> f = encode(hs);
    size_t body = f.size() - hypercache::kHotsetHeaderSize - 4;
    if (body > 8 * blocks.size()) {
        fail("more than 8 bytes per block");
    }
    hc_hotset *back = nullptr;
    char err[512];
    if (hc_hotset_parse(f.data(), f.size(), UINT64_MAX, &back, err,
                        sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_hotset: %s\n", err);
        fail("an encoded set does not parse");
    }
    if (blocks_of(back) != blocks) {
        fail("an encoded set parses to other blocks");
    }
    hc_hotset_free(back);
    hc_hotset_free(hs);
    // One byte changed: refused or accepted, never a crash.
    if (size > 2) {
        f[data[2] % f.size()] ^= uint8_t(data[size - 1] | 1);
        check_file(f, kMaxBlocks);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) {
        return 0;
    }
    uint8_t mode = data[0] % 4;
    // Bounded, as QEMU bounds it by the cache's size: a valid file may
    // describe 2^32 blocks in a few bytes.
    uint64_t max_blocks = data[0] & 0x80 ? 3 : kMaxBlocks;
    std::vector<uint8_t> f(data + 1, data + size);
    switch (mode) {
        case 0:
            check_file(f, max_blocks);
            break;
        case 1:
            fix_crc(&f);
            check_file(f, max_blocks);
            break;
        case 2:
            fix_lengths(&f);
            fix_crc(&f);
            check_file(f, max_blocks);
            break;
        default:
            round_trip(data + 1, size - 1);
            break;
    }
    return 0;
}
