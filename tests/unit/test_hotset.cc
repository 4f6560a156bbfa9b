// SPDX-License-Identifier: GPL-2.0-or-later
//
// Hot sets: the file format and its parser's checks, the policies'
// rankings, load order, and prefetch through the fill path (never evicts,
// never overwrites newer data, leaves the guest's statistics alone).
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "helpers.h"
#include "hotset.h"

using namespace hctest;

namespace {

constexpr uint64_t kBS = 4096;
constexpr uint64_t kImage = 64ull << 20;  // 16384 blocks
const char *const kId = "/images/vm1.qcow2";

struct Parsed {
    int ret = 0;
    std::string err;
    hc_hotset *hs = nullptr;
    ~Parsed() { hc_hotset_free(hs); }
};

std::vector<uint8_t> encode(const hc_hotset *hs) {
    void *buf = nullptr;
    size_t len = 0;
    EXPECT_EQ(hc_hotset_encode(hs, &buf, &len), 0);
    std::vector<uint8_t> v(static_cast<uint8_t *>(buf),
                           static_cast<uint8_t *>(buf) + len);
    free(buf);
    return v;
}

void parse(const std::vector<uint8_t> &f, Parsed *p,
           uint64_t max = UINT64_MAX) {
    char err[512] = "";
    p->ret = hc_hotset_parse(f.data(), f.size(), max, &p->hs, err, sizeof(err));
    p->err = err;
}

hc_hotset *make_set(const std::vector<uint64_t> &blocks,
                    uint64_t image = kImage, const char *id = kId) {
    hc_hotset *hs = hc_hotset_new(kBS, image, id);
    for (uint64_t b : blocks) {
        EXPECT_EQ(hc_hotset_add(hs, b), 0);
    }
    return hs;
}

std::vector<uint64_t> blocks_of(const hc_hotset *hs) {
    std::vector<uint64_t> v;
    for (uint64_t i = 0; i < hc_hotset_count(hs); i++) {
        v.push_back(hc_hotset_block(hs, i));
    }
    return v;
}

// Recompute the checksum after editing a file (the parser's later checks
// must hold even when the checksum matches).
void fix_crc(std::vector<uint8_t> *f) {
    for (int i = 0; i < 4; i++) {
        (*f)[56 + i] = 0;
    }
    uint32_t crc = hypercache::crc32c(f->data(), f->size());
    for (int i = 0; i < 4; i++) {
        (*f)[56 + i] = uint8_t(crc >> (8 * i));
    }
}

// Prefetch [off, off + len) from @disk as the glue does; returns the blocks
// published, with the plan's summary in @info.
uint64_t prefetch(hc_cache *c, const std::vector<uint8_t> &disk, uint64_t off,
                  uint64_t len, hc_prefetch_info *info) {
    hc_read_plan *plan = nullptr;
    EXPECT_EQ(hc_prefetch_begin(c, off, len, &plan, info), 0);
    uint64_t published = 0;
    for (size_t i = 0; i < hc_read_plan_count(plan); i++) {
        const hc_read_seg *s = hc_read_plan_seg(plan, i);
        EXPECT_EQ(s->hit, nullptr);
        if (!s->fill_iov) {
            continue;
        }
        uint64_t pos = s->offset;
        for (int k = 0; k < s->fill_iovcnt; k++) {
            memcpy(s->fill_iov[k].iov_base, disk.data() + pos,
                   s->fill_iov[k].iov_len);
            pos += s->fill_iov[k].iov_len;
        }
        published += hc_prefetch_fill_done(c, plan, i);
    }
    hc_read_end(c, plan);
    return published;
}

hc_stats stats(hc_cache *c) {
    hc_stats s;
    hc_get_stats(c, &s);
    return s;
}

bool cached(hc_cache *c, uint64_t block) {
    hc_hotset *hs = hc_hotset_collect(c, 0, nullptr, 0, kImage, kId);
    std::vector<uint64_t> v = blocks_of(hs);
    hc_hotset_free(hs);
    return std::find(v.begin(), v.end(), block) != v.end();
}

}  // namespace

TEST(HotsetFile, RoundTripKeepsOrderAndCostsLittle) {
    std::mt19937_64 rng(7);
    std::vector<uint64_t> blocks;
    // Runs of neighbours and scattered blocks, in no particular order.
    for (int i = 0; i < 200; i++) {
        uint64_t b = rng() % (kImage / kBS - 16);
        int n = int(rng() % 4) ? 1 : int(rng() % 16) + 1;
        for (int k = 0; k < n; k++) {
            blocks.push_back(b + k);
        }
    }
    blocks.push_back(kImage / kBS - 1);  // the last block
    blocks.push_back(0);
    hc_hotset *hs = make_set(blocks);
    std::vector<uint8_t> f = encode(hs);
    Parsed p;
    parse(f, &p);
    ASSERT_EQ(p.ret, 0) << p.err;
    EXPECT_EQ(blocks_of(p.hs), blocks);
    EXPECT_EQ(hc_hotset_block_size(p.hs), kBS);
    char err[256];
    EXPECT_EQ(hc_hotset_check(p.hs, kBS, kImage, kId, err, sizeof(err)), 0)
        << err;
    // 16384 blocks: a lone block costs at most 3 + 1 bytes, a run less.
    size_t body = f.size() - 64 - strlen(kId);
    EXPECT_LE(body, 4 * blocks.size());
    hc_hotset_free(hs);
}

TEST(HotsetFile, WorstCaseStaysWithinEightBytesPerBlock) {
    // Alternating ends of a 2^60-byte image: every distance is maximal.
    uint64_t image = 1ull << 60;
    uint64_t last = image / kBS - 1;
    std::vector<uint64_t> blocks;
    for (uint64_t i = 0; i < 1000; i++) {
        blocks.push_back(i % 2 ? last - i : i);
    }
    hc_hotset *hs = make_set(blocks, image);
    std::vector<uint8_t> f = encode(hs);
    EXPECT_LE(f.size() - 64 - strlen(kId), 8 * blocks.size());
    Parsed p;
    parse(f, &p);
    ASSERT_EQ(p.ret, 0) << p.err;
    EXPECT_EQ(blocks_of(p.hs), blocks);
    hc_hotset_free(hs);
}

TEST(HotsetFile, EmptySetAndMaxBlocks) {
    hc_hotset *hs = make_set({});
    Parsed p;
    parse(encode(hs), &p);
    ASSERT_EQ(p.ret, 0) << p.err;
    EXPECT_EQ(hc_hotset_count(p.hs), 0u);
    hc_hotset_free(hs);

    hs = make_set({5, 6, 7, 100, 3, 4});
    Parsed q;
    parse(encode(hs), &q, 4);
    ASSERT_EQ(q.ret, 0) << q.err;
    EXPECT_EQ(blocks_of(q.hs), (std::vector<uint64_t>{5, 6, 7, 100}));
    EXPECT_EQ(hc_hotset_block(q.hs, 4), UINT64_MAX);
    hc_hotset_free(hs);
}

TEST(HotsetFile, EachBadFileNamesItsCheck) {
    hc_hotset *hs = make_set({1, 2, 3, 50, 9000});
    const std::vector<uint8_t> good = encode(hs);
    hc_hotset_free(hs);
    auto expect = [](const std::vector<uint8_t> &f, const char *what) {
        Parsed p;
        parse(f, &p);
        EXPECT_EQ(p.ret, -EINVAL) << what;
        EXPECT_EQ(p.hs, nullptr);
        EXPECT_NE(p.err.find(what), std::string::npos)
            << "wanted '" << what << "' in '" << p.err << "'";
    };

    expect({}, "not a hot-set file");
    std::vector<uint8_t> f = good;
    f[0] = 'X';
    expect(f, "not a hot-set file");
    // Cut anywhere: truncated (or, before the magic ends, not one at all).
    for (size_t n = 8; n < good.size(); n++) {
        expect(std::vector<uint8_t>(good.begin(), good.begin() + n),
               "truncated");
    }
    f = good;
    f.push_back(0);
    expect(f, "data after the end");
    f = good;
    f[8] = 2;  // version
    expect(f, "unsupported version 2");
    f = good;
    f[20] = 200;  // identity length, header length unchanged
    expect(f, "corrupt header");
    // Any single flipped bit outside the header's length fields; a
    // flipped body length is a length error.
    for (size_t i = 24; i < good.size(); i++) {
        f = good;
        f[i] ^= 0x10;
        if (i >= 48 && i < 56) {
            expect(f, "the header says");
        } else {
            expect(f, "checksum mismatch");
        }
    }
    // With a matching checksum, the later checks still hold.
    f = good;
    f[16] = 0x01;  // block size 4097 -> not a power of two
    f[17] = 0x10;
    fix_crc(&f);
    expect(f, "block size 4097");
    f = good;
    f[32] = 4;  // 4 blocks listed, 5 in the body
    fix_crc(&f);
    expect(f, "corrupt body");
    f = good;
    f[24] = 0;  // image size 64 MiB -> 0: every run lies outside
    f[25] = 0;
    f[26] = 0;
    f[27] = 0;
    fix_crc(&f);
    expect(f, "outside");
    f = good;
    f[64 + 3] = 0;  // a NUL inside the identity
    fix_crc(&f);
    expect(f, "NUL byte");
    f = good;
    f[f.size() - 1] = 0x80;  // the last varint continues past the end
    fix_crc(&f);
    expect(f, "cut off or malformed");
}

TEST(HotsetFile, OtherDiskAndBlockSizeAreRefused) {
    hc_hotset *hs = make_set({1, 2});
    Parsed p;
    parse(encode(hs), &p);
    ASSERT_EQ(p.ret, 0);
    char err[512];
    EXPECT_EQ(hc_hotset_check(p.hs, 65536, kImage, kId, err, sizeof(err)),
              -EINVAL);
    EXPECT_NE(strstr(err, "wrong block size"), nullptr) << err;
    EXPECT_EQ(hc_hotset_check(p.hs, kBS, kImage, "/images/vm2.qcow2", err,
                              sizeof(err)),
              -EINVAL);
    EXPECT_NE(strstr(err, "other disk"), nullptr) << err;
    EXPECT_NE(strstr(err, "vm1.qcow2"), nullptr) << err;
    EXPECT_EQ(hc_hotset_check(p.hs, kBS, 2 * kImage, kId, err, sizeof(err)),
              -EINVAL);
    EXPECT_NE(strstr(err, "other disk"), nullptr) << err;
    hc_hotset_free(hs);
}

TEST(HotsetBatch, SortedMergedBoundedHottestFirst) {
    // Hottest first: 10, 3, 11, 4, 12, 3 (dup), 900, 5 | 1, 2
    hc_hotset *hs = make_set({10, 3, 11, 4, 12, 3, 900, 5, 1, 2});
    hc_hotset_run runs[8];
    uint64_t pos = 0;
    size_t n = hc_hotset_next_batch(hs, &pos, 8, 2, runs);
    EXPECT_EQ(pos, 8u);
    // 3,4,5 | 10,11,12 | 900 with runs of at most 2 blocks.
    std::vector<std::pair<uint64_t, uint64_t>> got;
    for (size_t i = 0; i < n; i++) {
        got.emplace_back(runs[i].offset / kBS, runs[i].len / kBS);
    }
    EXPECT_EQ(got, (std::vector<std::pair<uint64_t, uint64_t>>{
                       {3, 2}, {5, 1}, {10, 2}, {12, 1}, {900, 1}}));
    n = hc_hotset_next_batch(hs, &pos, 8, 256, runs);
    ASSERT_EQ(n, 1u);
    EXPECT_EQ(runs[0].offset, 1 * kBS);
    EXPECT_EQ(runs[0].len, 2 * kBS);
    EXPECT_EQ(hc_hotset_next_batch(hs, &pos, 8, 256, runs), 0u);
    hc_hotset_free(hs);
}

TEST(HotsetRank, LruListsMostRecentFirst) {
    hc_cache *c = make_cache(64, HC_MODE_WRITETHROUGH, HC_POLICY_LRU);
    std::vector<uint8_t> disk = pattern(1 << 20, 1);
    for (uint64_t b : {5, 1, 9, 3}) {
        read_through(c, disk, b * kBS, kBS);
    }
    read_through(c, disk, 1 * kBS, kBS);  // 1 is the most recent now
    hc_hotset *hs = hc_hotset_collect(c, 0, nullptr, 0, kImage, kId);
    EXPECT_EQ(blocks_of(hs), (std::vector<uint64_t>{1, 3, 9, 5}));
    hc_hotset_free(hs);
    hs = hc_hotset_collect(c, 2, nullptr, 0, kImage, kId);
    EXPECT_EQ(blocks_of(hs), (std::vector<uint64_t>{1, 3}));
    hc_hotset_free(hs);
    hc_destroy(c);
}

TEST(HotsetRank, FreqPutsReusedBlocksFirst) {
    for (hc_policy pol : {HC_POLICY_FREQ, HC_POLICY_S3FIFO}) {
        hc_cache *c = make_cache(256, HC_MODE_WRITETHROUGH, pol);
        std::vector<uint8_t> disk = pattern(4 << 20, 2);
        // Blocks 0..99 read once; 200..209 read five times each.
        for (uint64_t b = 0; b < 100; b++) {
            read_through(c, disk, b * kBS, kBS);
        }
        for (int r = 0; r < 5; r++) {
            for (uint64_t b = 200; b < 210; b++) {
                read_through(c, disk, b * kBS, kBS);
            }
        }
        hc_hotset *hs = hc_hotset_collect(c, 0, nullptr, 0, kImage, kId);
        std::vector<uint64_t> v = blocks_of(hs);
        ASSERT_EQ(v.size(), 110u) << hc_policy_name(pol);
        std::vector<uint64_t> top(v.begin(), v.begin() + 10);
        std::sort(top.begin(), top.end());
        for (uint64_t i = 0; i < 10; i++) {
            EXPECT_EQ(top[i], 200 + i) << hc_policy_name(pol);
        }
        hc_hotset_free(hs);
        hc_destroy(c);
    }
}

TEST(HotsetRank, UnfinishedLoadIsAppended) {
    hc_cache *c = make_cache(64, HC_MODE_WRITETHROUGH, HC_POLICY_LRU);
    std::vector<uint8_t> disk = pattern(1 << 20, 3);
    read_through(c, disk, 7 * kBS, kBS);
    read_through(c, disk, 8 * kBS, kBS);
    hc_hotset *rest = make_set({1, 8, 2, 3, 4});
    // From index 1 on: 8 is cached (listed already), then 2, 3, 4.
    hc_hotset *hs = hc_hotset_collect(c, 0, rest, 1, kImage, kId);
    EXPECT_EQ(blocks_of(hs), (std::vector<uint64_t>{8, 7, 2, 3, 4}));
    hc_hotset_free(hs);
    hs = hc_hotset_collect(c, 3, rest, 1, kImage, kId);
    EXPECT_EQ(blocks_of(hs), (std::vector<uint64_t>{8, 7, 2}));
    hc_hotset_free(hs);
    hc_hotset_free(rest);
    hc_destroy(c);
}

TEST(Prefetch, LoadsWithoutTouchingGuestStatistics) {
    hc_cache *c = make_cache(64);
    std::vector<uint8_t> disk = pattern(1 << 20, 4);
    hc_prefetch_info info;
    EXPECT_EQ(prefetch(c, disk, 0, 16 * kBS, &info), 16u);
    EXPECT_EQ(info.reserved, 16u);
    EXPECT_EQ(info.cached, 0u);
    EXPECT_FALSE(info.full);
    hc_stats s = stats(c);
    EXPECT_EQ(s.read_requests, 0u);
    EXPECT_EQ(s.hit_blocks + s.miss_blocks, 0u);
    EXPECT_EQ(s.cached_blocks, 16u);
    // The guest now hits, and reads what the disk holds.
    EXPECT_EQ(read_through(c, disk, 0, 16 * kBS),
              std::vector<uint8_t>(disk.begin(), disk.begin() + 16 * kBS));
    s = stats(c);
    EXPECT_EQ(s.hit_blocks, 16u);
    EXPECT_EQ(s.miss_blocks, 0u);
    // Again: all cached, nothing to read.
    EXPECT_EQ(prefetch(c, disk, 0, 16 * kBS, &info), 0u);
    EXPECT_EQ(info.cached, 16u);
    EXPECT_EQ(stats(c).hit_blocks, 16u);
    hc_destroy(c);
}

TEST(Prefetch, NeverEvicts) {
    hc_cache *c = make_cache(32, HC_MODE_WRITETHROUGH, HC_POLICY_LRU);
    std::vector<uint8_t> disk = pattern(1 << 20, 5);
    read_through(c, disk, 0, 24 * kBS);  // the guest's blocks 0..23
    hc_prefetch_info info;
    EXPECT_EQ(prefetch(c, disk, 100 * kBS, 16 * kBS, &info), 8u);
    EXPECT_TRUE(info.full);
    EXPECT_EQ(info.refused, 8u);
    hc_stats s = stats(c);
    EXPECT_EQ(s.evictions, 0u);
    EXPECT_EQ(s.cached_blocks, 32u);
    for (uint64_t b = 0; b < 24; b++) {
        EXPECT_TRUE(cached(c, b)) << b;
    }
    hc_destroy(c);
}

TEST(Prefetch, PrefetchedBlocksGoBeforeTheGuestsAndColdestFirst) {
    for (hc_policy pol : {HC_POLICY_LRU, HC_POLICY_FREQ, HC_POLICY_S3FIFO}) {
        hc_cache *c = make_cache(64, HC_MODE_WRITETHROUGH, pol);
        std::vector<uint8_t> disk = pattern(4 << 20, 6);
        hc_prefetch_info info;
        // Hottest first: 100..131, then 200..231 (colder).
        EXPECT_EQ(prefetch(c, disk, 100 * kBS, 32 * kBS, &info), 32u);
        EXPECT_EQ(prefetch(c, disk, 200 * kBS, 32 * kBS, &info), 32u);
        // The guest's misses (twice each, so probation keeps them) must
        // push out the colder prefetched blocks first.
        for (int r = 0; r < 2; r++) {
            for (uint64_t b = 0; b < 8; b++) {
                read_through(c, disk, b * kBS, kBS);
            }
        }
        int cold_gone = 0, hot_gone = 0, guest_gone = 0;
        for (uint64_t b = 0; b < 32; b++) {
            hot_gone += !cached(c, 100 + b);
            cold_gone += !cached(c, 200 + b);
        }
        for (uint64_t b = 0; b < 8; b++) {
            guest_gone += !cached(c, b);
        }
        EXPECT_EQ(cold_gone, 8) << hc_policy_name(pol);
        EXPECT_EQ(hot_gone, 0) << hc_policy_name(pol);
        EXPECT_EQ(guest_gone, 0) << hc_policy_name(pol);
        hc_destroy(c);
    }
}

// A write, zeroing or write-through that lands between the plan and the
// fill must win: the prefetched (older) bytes never enter.
TEST(Prefetch, NeverOverwritesNewerData) {
    std::vector<uint8_t> newer = pattern(kBS, 77);
    for (int how = 0; how < 5; how++) {
        hc_cache *c = make_cache(64, HC_MODE_WRITEBACK, HC_POLICY_FREQ);
        std::vector<uint8_t> disk = pattern(1 << 20, 8);
        const std::vector<uint8_t> old(disk.begin() + 3 * kBS,
                                       disk.begin() + 4 * kBS);
        hc_read_plan *plan = nullptr;
        hc_prefetch_info info;
        ASSERT_EQ(hc_prefetch_begin(c, 0, 8 * kBS, &plan, &info), 0);
        ASSERT_EQ(info.reserved, 8u);
        // The child is read now (old data) ...
        const hc_read_seg *s = hc_read_plan_seg(plan, 0);
        ASSERT_NE(s->fill_iov, nullptr);
        std::vector<uint8_t> snapshot(disk.begin(), disk.begin() + 8 * kBS);
        // ... and the guest changes block 3 before the fill is done.
        hc_write_ticket *t = nullptr;
        iovec iov{newer.data(), kBS};
        switch (how) {
            case 0:  // absorbed into WB
                ASSERT_EQ(write_to(c, disk, 3 * kBS, newer), HC_WRITE_DONE);
                break;
            case 1:  // absorbed, written back and evicted again
                ASSERT_EQ(write_to(c, disk, 3 * kBS, newer), HC_WRITE_DONE);
                flush_all(c, disk);
                ASSERT_EQ(hc_invalidate(c, 3 * kBS, kBS, 0), 0);
                break;
            case 2:  // a FUA write still out at the child
                ASSERT_EQ(hc_write_begin(c, 3 * kBS, kBS, &iov, 1, 0,
                                         HC_WRITE_FUA, &t),
                          HC_WRITE_CHILD);
                memcpy(disk.data() + 3 * kBS, newer.data(), kBS);
                break;
            case 3:  // zeroed (write-zeroes)
                ASSERT_EQ(hc_invalidate(c, 3 * kBS, kBS, HC_INV_ZERO), 0);
                memset(disk.data() + 3 * kBS, 0, kBS);
                break;
            case 4:  // the whole cache invalidated (lost exclusivity)
                ASSERT_EQ(hc_invalidate(c, 0, UINT64_MAX, 0), 0);
                break;
        }
        uint64_t pos = 0;
        for (int k = 0; k < s->fill_iovcnt; k++) {
            memcpy(s->fill_iov[k].iov_base, snapshot.data() + pos,
                   s->fill_iov[k].iov_len);
            pos += s->fill_iov[k].iov_len;
        }
        uint64_t published = hc_prefetch_fill_done(c, plan, 0);
        hc_read_end(c, plan);
        if (t) {
            hc_write_end(c, t, 0);
        }
        EXPECT_EQ(published, how == 4 ? 0u : 7u) << how;
        std::vector<uint8_t> want = how == 3   ? std::vector<uint8_t>(kBS, 0)
                                    : how == 4 ? old
                                               : newer;
        EXPECT_EQ(read_through(c, disk, 3 * kBS, kBS), want) << how;
        // The others came from the snapshot, which is what the disk holds.
        EXPECT_EQ(read_through(c, disk, 4 * kBS, 4 * kBS),
                  std::vector<uint8_t>(disk.begin() + 4 * kBS,
                                       disk.begin() + 8 * kBS))
            << how;
        hc_destroy(c);
    }
}

TEST(Prefetch, ModeNoneAndBusyBlocksAreRefused) {
    hc_cache *c = make_cache(64, HC_MODE_NONE);
    std::vector<uint8_t> disk = pattern(1 << 20, 9);
    hc_prefetch_info info;
    EXPECT_EQ(prefetch(c, disk, 0, 4 * kBS, &info), 0u);
    EXPECT_EQ(info.refused, 4u);
    EXPECT_EQ(stats(c).cached_blocks, 0u);
    hc_destroy(c);

    // Write-around: block 2 stays uncached while its write is out.
    c = make_cache(64, HC_MODE_WRITEAROUND);
    std::vector<uint8_t> data = pattern(kBS, 10);
    iovec iov{data.data(), kBS};
    hc_write_ticket *t = nullptr;
    ASSERT_EQ(hc_write_begin(c, 2 * kBS, kBS, &iov, 1, 0, 0, &t),
              HC_WRITE_CHILD);
    EXPECT_EQ(prefetch(c, disk, 0, 4 * kBS, &info), 3u);
    EXPECT_EQ(info.refused, 1u);  // block 2 is being written
    hc_write_end(c, t, 0);
    hc_read_plan *plan = nullptr;
    EXPECT_EQ(hc_prefetch_begin(c, 0, 2000 * kBS, &plan, &info), -EINVAL);
    EXPECT_EQ(plan, nullptr);
    hc_destroy(c);
}

// Save from one cache, load into a fresh one of the same size: the same
// blocks come back.
TEST(Prefetch, RestartBringsTheHotSetBack) {
    hc_cache *a = make_cache(512, HC_MODE_WRITEBACK, HC_POLICY_FREQ);
    std::vector<uint8_t> disk = pattern(8 << 20, 11);
    std::mt19937_64 rng(12);
    for (int i = 0; i < 5000; i++) {
        uint64_t b = rng() % 400 + (rng() % 8 == 0 ? 1000 : 0);
        read_through(a, disk, b * kBS, kBS);
    }
    hc_hotset *hs = hc_hotset_collect(a, 0, nullptr, 0, 8 << 20, kId);
    std::vector<uint64_t> saved = blocks_of(hs);
    std::vector<uint8_t> f = encode(hs);
    hc_hotset_free(hs);
    EXPECT_LE(f.size(), 64 + strlen(kId) + 8 * saved.size());

    Parsed p;
    parse(f, &p);
    ASSERT_EQ(p.ret, 0) << p.err;
    char err[256];
    ASSERT_EQ(hc_hotset_check(p.hs, kBS, 8 << 20, kId, err, sizeof(err)), 0);
    hc_cache *b = make_cache(512, HC_MODE_WRITEBACK, HC_POLICY_FREQ);
    uint64_t pos = 0, loaded = 0;
    std::vector<hc_hotset_run> runs(256);
    size_t n;
    while ((n = hc_hotset_next_batch(p.hs, &pos, 256, 64, runs.data())) > 0) {
        for (size_t i = 0; i < n; i++) {
            hc_prefetch_info info;
            loaded += prefetch(b, disk, runs[i].offset, runs[i].len, &info);
        }
    }
    EXPECT_EQ(loaded, saved.size());
    hc_hotset *again = hc_hotset_collect(b, 0, nullptr, 0, 8 << 20, kId);
    std::vector<uint64_t> back = blocks_of(again);
    std::sort(back.begin(), back.end());
    std::sort(saved.begin(), saved.end());
    EXPECT_EQ(back, saved);
    hc_hotset_free(again);
    hc_destroy(a);
    hc_destroy(b);
}
