// SPDX-License-Identifier: GPL-2.0-or-later
//
// The hot-set file (format in hotset.h): encoding and a parser that checks
// everything before it trusts anything, with messages that say which check
// failed.  Pure functions of bytes: no I/O, no cache, so the fuzzer drives
// exactly what QEMU runs.
#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "hotset.h"

namespace hypercache {

namespace {

constexpr uint32_t kCrcPoly = 0x82f63b78;  // CRC-32C, reflected

constexpr std::array<uint32_t, 256> crc_table() {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ kCrcPoly : c >> 1;
        }
        t[i] = c;
    }
    return t;
}

constexpr std::array<uint32_t, 256> kCrcTable = crc_table();

// Header field offsets.
enum : size_t {
    kOffVersion = 8,
    kOffHeaderLen = 12,
    kOffBlockSize = 16,
    kOffIdentityLen = 20,
    kOffImageSize = 24,
    kOffBlocks = 32,
    kOffRuns = 40,
    kOffBodyLen = 48,
    kOffCrc = 56,
    kOffReserved = 60,
};

// Largest run one body entry may describe.
constexpr uint64_t kMaxRun = UINT32_MAX;

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

uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v |= uint64_t(p[i]) << (8 * i);
    }
    return v;
}

void put_varint(std::vector<uint8_t> *out, uint64_t v) {
    while (v >= 0x80) {
        out->push_back(uint8_t(v) | 0x80);
        v >>= 7;
    }
    out->push_back(uint8_t(v));
}

// False on a varint that runs past @end or does not fit 64 bits.
bool get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p == end) {
            return false;
        }
        uint8_t b = *(*p)++;
        if (shift == 63 && (b & 0x7e)) {
            return false;  // bits beyond 64
        }
        r |= uint64_t(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

uint64_t zigzag(int64_t d) {
    return (uint64_t(d) << 1) ^ uint64_t(d >> 63);
}

int64_t unzigzag(uint64_t z) {
    return int64_t(z >> 1) ^ -int64_t(z & 1);
}

bool valid_block_size(uint32_t bs) {
    return bs >= 512 && bs <= 65536 && (bs & (bs - 1)) == 0;
}

uint64_t blocks_of(uint64_t image_size, uint32_t block_size) {
    return image_size / block_size + (image_size % block_size != 0);
}

int fail(std::string *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int fail(std::string *err, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (err) {
        *err = buf;
    }
    return -EINVAL;
}

}  // namespace

uint32_t crc32c(const uint8_t *p, size_t n, uint32_t crc) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc = kCrcTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

std::vector<uint8_t> hotset_encode(const hc_hotset &hs) {
    size_t idlen = std::min<size_t>(hs.identity.size(), kHotsetMaxIdentity);
    std::vector<uint8_t> out(kHotsetHeaderSize + idlen);
    std::memcpy(out.data() + kHotsetHeaderSize, hs.identity.data(), idlen);

    uint64_t runs = 0;
    uint64_t prev_end = 0;
    size_t i = 0;
    while (i < hs.blocks.size()) {
        uint64_t first = hs.blocks[i];
        uint64_t n = 1;
        while (i + n < hs.blocks.size() && n < kMaxRun &&
               hs.blocks[i + n] == first + n) {
            n++;
        }
        put_varint(&out, zigzag(int64_t(first - prev_end)));
        put_varint(&out, n - 1);
        prev_end = first + n;
        runs++;
        i += n;
    }

    uint8_t *h = out.data();
    std::memcpy(h, kHotsetMagic, sizeof(kHotsetMagic));
    put32(h + kOffVersion, kHotsetVersion);
    put32(h + kOffHeaderLen, uint32_t(kHotsetHeaderSize + idlen));
    put32(h + kOffBlockSize, hs.block_size);
    put32(h + kOffIdentityLen, uint32_t(idlen));
    put64(h + kOffImageSize, hs.image_size);
    put64(h + kOffBlocks, hs.blocks.size());
    put64(h + kOffRuns, runs);
    put64(h + kOffBodyLen, out.size() - kHotsetHeaderSize - idlen);
    put32(h + kOffCrc, 0);
    put32(h + kOffReserved, 0);
    put32(h + kOffCrc, crc32c(out.data(), out.size()));
    return out;
}

int hotset_parse(const uint8_t *p, size_t len, uint64_t max_blocks,
                 hc_hotset *out, std::string *err) {
    if (len < sizeof(kHotsetMagic) ||
        std::memcmp(p, kHotsetMagic, sizeof(kHotsetMagic)) != 0) {
        return fail(err, "not a hot-set file (bad magic)");
    }
    if (len < kHotsetHeaderSize) {
        return fail(err,
                    "truncated: %zu bytes, shorter than the %" PRIu32
                    "-byte header",
                    len, kHotsetHeaderSize);
    }
    uint32_t version = get32(p + kOffVersion);
    if (version != kHotsetVersion) {
        return fail(err,
                    "unsupported version %" PRIu32 " (this reads %" PRIu32 ")",
                    version, kHotsetVersion);
    }
    uint32_t header_len = get32(p + kOffHeaderLen);
    uint32_t idlen = get32(p + kOffIdentityLen);
    uint64_t body_len = get64(p + kOffBodyLen);
    if (idlen > kHotsetMaxIdentity || header_len != kHotsetHeaderSize + idlen) {
        return fail(err,
                    "corrupt header: header length %" PRIu32
                    " and identity length %" PRIu32 " do not agree",
                    header_len, idlen);
    }
    if (body_len > UINT64_MAX - header_len || header_len + body_len > len) {
        return fail(
            err, "truncated: %zu bytes, the header says %" PRIu32 " + %" PRIu64,
            len, header_len, body_len);
    }
    if (header_len + body_len < len) {
        return fail(err,
                    "corrupt: %zu bytes, the header says %" PRIu32 " + %" PRIu64
                    " (data after the end)",
                    len, header_len, body_len);
    }
    uint32_t crc = get32(p + kOffCrc);
    uint8_t zero[4] = {0, 0, 0, 0};
    uint32_t sum = crc32c(p, kOffCrc);
    sum = crc32c(zero, sizeof(zero), sum);
    sum = crc32c(p + kOffCrc + 4, len - kOffCrc - 4, sum);
    if (sum != crc) {
        return fail(err,
                    "checksum mismatch (stored %08" PRIx32
                    ", computed %08" PRIx32 "): the file is corrupt",
                    crc, sum);
    }

    // The checksum matched: the rest is checked all the same, since a
    // checksum catches accidents, not a file written to fool it.
    uint32_t block_size = get32(p + kOffBlockSize);
    if (!valid_block_size(block_size)) {
        return fail(err,
                    "corrupt header: block size %" PRIu32
                    " is not a power of two from 512 to 65536",
                    block_size);
    }
    if (get32(p + kOffReserved) != 0) {
        return fail(err, "corrupt header: reserved field is not zero");
    }
    uint64_t image_size = get64(p + kOffImageSize);
    uint64_t nblocks = get64(p + kOffBlocks);
    uint64_t nruns = get64(p + kOffRuns);
    uint64_t image_blocks = blocks_of(image_size, block_size);
    if (nruns > nblocks) {
        return fail(err,
                    "corrupt header: %" PRIu64 " runs of %" PRIu64 " blocks",
                    nruns, nblocks);
    }

    const uint8_t *id = p + kHotsetHeaderSize;
    if (std::memchr(id, 0, idlen)) {
        return fail(err, "corrupt header: the identity holds a NUL byte");
    }

    hc_hotset hs;
    hs.block_size = block_size;
    hs.image_size = image_size;
    hs.identity.assign(reinterpret_cast<const char *>(p) + kHotsetHeaderSize,
                       idlen);
    // The header's count is not trusted with an allocation: the vector
    // grows as blocks are decoded, up to max_blocks.
    hs.blocks.reserve(std::min({max_blocks, nblocks, uint64_t(1) << 16}));
    const uint8_t *q = p + header_len;
    const uint8_t *end = q + body_len;
    uint64_t prev_end = 0, total = 0;
    for (uint64_t r = 0; r < nruns; r++) {
        uint64_t z, n1;
        if (!get_varint(&q, end, &z) || !get_varint(&q, end, &n1)) {
            return fail(err,
                        "corrupt body: run %" PRIu64 " of %" PRIu64
                        " is cut off or malformed",
                        r + 1, nruns);
        }
        int64_t d = unzigzag(z);
        uint64_t first = prev_end + uint64_t(d);
        // The run must lie inside the image (which also rules out wrapping
        // around 2^64 in either direction).
        if ((d < 0 && uint64_t(-(d + 1)) >= prev_end) ||
            (d > 0 && first < prev_end) || first >= image_blocks ||
            n1 >= image_blocks - first) {
            return fail(err,
                        "corrupt body: run %" PRIu64
                        " lies outside the %" PRIu64 "-block image",
                        r + 1, image_blocks);
        }
        uint64_t n = n1 + 1;
        if (n > nblocks - total) {
            return fail(err,
                        "corrupt body: more blocks than the %" PRIu64
                        " the header lists",
                        nblocks);
        }
        for (uint64_t k = 0; k < n && hs.blocks.size() < max_blocks; k++) {
            hs.blocks.push_back(first + k);
        }
        total += n;
        prev_end = first + n;
    }
    if (q != end) {
        return fail(err,
                    "corrupt body: %zu bytes left after the %" PRIu64
                    " runs the header lists",
                    size_t(end - q), nruns);
    }
    if (total != nblocks) {
        return fail(
            err, "corrupt body: %" PRIu64 " blocks, the header lists %" PRIu64,
            total, nblocks);
    }
    *out = std::move(hs);
    return 0;
}

int hotset_check(const hc_hotset &hs, uint32_t block_size, uint64_t image_size,
                 const char *identity, std::string *err) {
    if (hs.block_size != block_size) {
        return fail(err,
                    "wrong block size: saved with block-size %" PRIu32
                    ", this node has %" PRIu32,
                    hs.block_size, block_size);
    }
    std::string id = identity ? identity : "";
    id.resize(std::min<size_t>(id.size(), kHotsetMaxIdentity));
    if (hs.identity != id) {
        return fail(err,
                    "other disk: saved for '%.200s', this node's is '%.200s'",
                    hs.identity.c_str(), id.c_str());
    }
    if (hs.image_size != image_size) {
        return fail(err,
                    "other disk: saved for an image of %" PRIu64
                    " bytes, this one has %" PRIu64,
                    hs.image_size, image_size);
    }
    return 0;
}

}  // namespace hypercache
