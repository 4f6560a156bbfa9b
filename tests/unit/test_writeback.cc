// SPDX-License-Identifier: GPL-2.0-or-later
//
// Write-back with many extents in flight, as the glue's flush and
// background writer keep them: blocks stay busy until their extent is
// done, hc_dirty_pending() counts them until then, completions come in
// any order, and a failed extent keeps exactly its own blocks dirty.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "helpers.h"

using namespace hctest;

namespace {

constexpr uint64_t kBS = 4096;
constexpr uint64_t kLen = 4;       // blocks per extent (max_merge)
constexpr uint64_t kExtents = 24;  // extent i covers blocks 5i .. 5i+3

struct Wb : ::testing::Test {
    hc_cache *c = nullptr;
    std::vector<uint8_t> disk = std::vector<uint8_t>(4 << 20, 0);
    void SetUp() override {
        c = make_cache(512, HC_MODE_WRITEBACK, HC_POLICY_LRU,
                       [](hc_config *cfg) {
                           cfg->max_merge = kLen * 4096;
                           cfg->dirty_high_pct = 99;
                           cfg->dirty_low_pct = 0;
                           cfg->dirty_max_pct = 100;
                       });
    }
    void TearDown() override { hc_destroy(c); }
    uint64_t dirty_blocks() {
        hc_stats s;
        hc_get_stats(c, &s);
        return s.dirty_bytes / kBS;
    }
    static std::vector<uint8_t> data_of(uint64_t i) {
        return pattern(kLen * kBS, uint32_t(100 + i));
    }
    void write_extents() {
        for (uint64_t i = 0; i < kExtents; i++) {
            ASSERT_EQ(write_to(c, disk, 5 * i * kBS, data_of(i)),
                      HC_WRITE_DONE);
        }
    }
    // The extent's bytes, as the child would get them.
    static std::vector<uint8_t> bytes(const hc_extent *e) {
        std::vector<uint8_t> v;
        for (int k = 0; k < e->iovcnt; k++) {
            auto *b = static_cast<const uint8_t *>(e->iov[k].iov_base);
            v.insert(v.end(), b, b + e->iov[k].iov_len);
        }
        return v;
    }
    void to_disk(const hc_extent *e) {
        auto v = bytes(e);
        memcpy(disk.data() + e->offset, v.data(), v.size());
    }
};

}  // namespace

TEST_F(Wb, ManyExtentsInFlightOutOfOrderOneFails) {
    write_extents();
    uint64_t seq = hc_dirty_seq(c);
    // Newer than the flush: it must not be handed out for it.
    ASSERT_EQ(write_to(c, disk, 300 * kBS, pattern(kBS, 7)), HC_WRITE_DONE);
    std::vector<hc_extent *> out;
    hc_extent *e;
    while (hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e) == 1) {
        out.push_back(e);
    }
    ASSERT_EQ(out.size(), kExtents);
    for (const hc_extent *x : out) {
        EXPECT_EQ(x->len, kLen * kBS);
        EXPECT_EQ(x->offset % (5 * kBS), 0u);
        EXPECT_EQ(bytes(x), data_of(x->offset / (5 * kBS)));
    }
    EXPECT_EQ(hc_dirty_pending(c, seq), kExtents * kLen);
    EXPECT_EQ(hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e), 0);
    EXPECT_EQ(dirty_blocks(), kExtents * kLen + 1);

    // In flight, every block refuses changes; the extents keep their bytes.
    auto other = pattern(kBS, 9);
    for (uint64_t i = 0; i < kExtents; i += 5) {
        uint64_t b = 5 * i + i % kLen;
        EXPECT_EQ(write_to(c, disk, b * kBS, other), -EAGAIN) << b;
        EXPECT_EQ(hc_invalidate(c, b * kBS, kBS, 0), -EAGAIN) << b;
        EXPECT_EQ(hc_invalidate(c, b * kBS, 512, HC_INV_ZERO), -EAGAIN) << b;
    }
    // A background writer finds only the one idle block.
    EXPECT_EQ(hc_writeback_next(c, HC_WB_WATERMARK, 0, 0, &e), 1);
    EXPECT_EQ(e->offset, 300 * kBS);  // only the newer block
    hc_writeback_done(c, e, -EIO);

    std::mt19937_64 rng(5);
    std::shuffle(out.begin(), out.end(), rng);
    const hc_extent *failed = out[kExtents / 2];
    uint64_t failed_off = failed->offset;
    uint64_t pending = kExtents * kLen;
    for (hc_extent *x : out) {
        EXPECT_EQ(bytes(x), data_of(x->offset / (5 * kBS)));
        bool fail = x == failed;
        if (!fail) {
            to_disk(x);
            pending -= kLen;
        }
        hc_writeback_done(c, x, fail ? -EIO : 0);
        EXPECT_EQ(hc_dirty_pending(c, seq), pending);
    }
    EXPECT_EQ(pending, kLen);
    EXPECT_EQ(dirty_blocks(), kLen + 1);
    // Exactly the failed extent's blocks are dirty.
    for (uint64_t i = 0; i < kExtents; i++) {
        uint64_t pnum = 0;
        bool d = hc_range_dirty(c, 5 * i * kBS, kLen * kBS, &pnum);
        EXPECT_EQ(d, 5 * i * kBS == failed_off) << i;
        EXPECT_EQ(pnum, kLen * kBS) << i;
    }
    // The retry hands out that extent, and only it, for this flush.
    ASSERT_EQ(hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e), 1);
    EXPECT_EQ(e->offset, failed_off);
    EXPECT_EQ(e->len, kLen * kBS);
    to_disk(e);
    hc_writeback_done(c, e, 0);
    EXPECT_EQ(hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e), 0);
    EXPECT_EQ(hc_dirty_pending(c, seq), 0u);
    EXPECT_EQ(hc_dirty_pending(c, hc_dirty_seq(c)), 1u);
    for (uint64_t i = 0; i < kExtents; i++) {
        EXPECT_EQ(
            0, memcmp(disk.data() + 5 * i * kBS, data_of(i).data(), kLen * kBS))
            << i;
    }
    hc_stats s;
    hc_get_stats(c, &s);
    EXPECT_EQ(s.writeback_errors, 2u);
    EXPECT_EQ(s.writeback_requests, kExtents);  // 23 + the retry
}

// A dirty block under a write-through (a FUA write of part of it) is busy:
// a flush must wait for it and then still write it back.
TEST_F(Wb, FlushComesBackForABlockBusyWithAWriteThrough) {
    ASSERT_EQ(write_to(c, disk, 0, pattern(kBS, 1)), HC_WRITE_DONE);
    uint64_t seq = hc_dirty_seq(c);
    auto part = std::vector<uint8_t>(512, 0x5a);
    iovec iov{part.data(), part.size()};
    hc_write_ticket *t = nullptr;
    ASSERT_EQ(hc_write_begin(c, 512, 512, &iov, 1, 0, HC_WRITE_FUA, &t),
              HC_WRITE_CHILD);
    hc_extent *e;
    EXPECT_EQ(hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e), 0);
    EXPECT_EQ(hc_dirty_pending(c, seq), 1u);
    memcpy(disk.data() + 512, part.data(), 512);
    hc_write_end(c, t, 0);  // partial: the block stays dirty
    ASSERT_EQ(hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e), 1);
    EXPECT_EQ(e->offset, 0u);
    to_disk(e);
    hc_writeback_done(c, e, 0);
    EXPECT_EQ(hc_dirty_pending(c, seq), 0u);
    auto want = pattern(kBS, 1);
    memcpy(want.data() + 512, part.data(), 512);
    EXPECT_EQ(0, memcmp(disk.data(), want.data(), kBS));
}

// Nothing eligible, then a failure makes blocks eligible again: the next
// call must see them, however many calls found nothing before.
TEST_F(Wb, NothingToDoThenAFailureGivesWorkAgain) {
    write_extents();
    uint64_t seq = hc_dirty_seq(c);
    std::vector<hc_extent *> out;
    hc_extent *e;
    while (hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e) == 1) {
        out.push_back(e);
    }
    for (int r = 0; r < 3; r++) {
        EXPECT_EQ(hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e), 0);
        EXPECT_EQ(hc_writeback_next(c, HC_WB_WATERMARK, 0, 0, &e), 0);
    }
    hc_writeback_done(c, out.back(), -EIO);
    out.pop_back();
    ASSERT_EQ(hc_writeback_next(c, HC_WB_WATERMARK, 0, 0, &e), 1);
    hc_writeback_done(c, e, -EIO);
    ASSERT_EQ(hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e), 1);
    out.push_back(e);
    // New data after a call found nothing: a background writer sees it.
    EXPECT_EQ(hc_writeback_next(c, HC_WB_WATERMARK, 0, 0, &e), 0);
    ASSERT_EQ(write_to(c, disk, 400 * kBS, pattern(kBS, 3)), HC_WRITE_DONE);
    ASSERT_EQ(hc_writeback_next(c, HC_WB_WATERMARK, 0, 0, &e), 1);
    EXPECT_EQ(e->offset, 400 * kBS);
    out.push_back(e);
    for (hc_extent *x : out) {
        to_disk(x);
        hc_writeback_done(c, x, 0);
    }
    EXPECT_EQ(hc_dirty_pending(c, hc_dirty_seq(c)), 0u);
}
