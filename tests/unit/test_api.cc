// SPDX-License-Identifier: GPL-2.0-or-later
//
// Behaviour of the C API, one test per promise the header makes.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <unistd.h>

#include "helpers.h"

using namespace hctest;

namespace {

constexpr uint64_t kBS = 4096;

struct Fixture : ::testing::Test {
    hc_cache *c = nullptr;
    std::vector<uint8_t> disk = pattern(4 << 20, 99);
    void make(uint64_t blocks, hc_mode mode = HC_MODE_WRITEBACK,
              hc_policy pol = HC_POLICY_LRU,
              void (*tweak)(hc_config *) = nullptr) {
        c = make_cache(blocks, mode, pol, tweak);
    }
    void TearDown() override { hc_destroy(c); }
    hc_stats stats() {
        hc_stats s;
        hc_get_stats(c, &s);
        return s;
    }
    bool same(uint64_t off, const std::vector<uint8_t> &v) {
        return read_through(c, disk, off, v.size()) == v;
    }
};

}  // namespace

TEST(Config, DefaultsValidateAndErrorsNameTheOption) {
    hc_config cfg;
    hc_config_default(&cfg);
    char err[256];
    EXPECT_EQ(hc_config_validate(&cfg, err, sizeof(err)), 0);
    EXPECT_EQ(cfg.policy, HC_POLICY_FREQ);
    cfg.block_size = 3000;
    EXPECT_EQ(hc_config_validate(&cfg, err, sizeof(err)), -EINVAL);
    EXPECT_NE(strstr(err, "block-size"), nullptr);
    hc_config_default(&cfg);
    cfg.dirty_low_pct = 60;
    EXPECT_EQ(hc_config_validate(&cfg, err, sizeof(err)), -EINVAL);
    EXPECT_NE(strstr(err, "dirty-low"), nullptr);
    hc_config_default(&cfg);
    cfg.size = 4096;
    EXPECT_EQ(hc_create(&cfg, err, sizeof(err)), nullptr);
    EXPECT_NE(strstr(err, "size"), nullptr);
    EXPECT_STREQ(hc_mode_name(HC_MODE_WRITEAROUND), "writearound");
    EXPECT_STREQ(hc_policy_name(HC_POLICY_S3FIFO), "s3fifo");
}

TEST_F(Fixture, ReadPlanMergesMissesAndPinsHits) {
    make(64);
    EXPECT_TRUE(
        same(0, std::vector<uint8_t>(disk.begin(), disk.begin() + 8 * kBS)));
    hc_read_plan *p;
    ASSERT_EQ(hc_read_begin(c, 4 * kBS, 8 * kBS, &p), 0);
    // Blocks 4..7 hit, 8..11 miss as one run.
    size_t n = hc_read_plan_count(p);
    ASSERT_GE(n, 2u);
    const hc_read_seg *last = hc_read_plan_seg(p, n - 1);
    EXPECT_EQ(last->hit, nullptr);
    EXPECT_EQ(last->offset, 8 * kBS);
    EXPECT_EQ(last->len, 4 * kBS);
    for (size_t i = 0; i + 1 < n; i++) {
        const hc_read_seg *s = hc_read_plan_seg(p, i);
        ASSERT_NE(s->hit, nullptr);
        EXPECT_EQ(0, memcmp(s->hit, disk.data() + s->offset, s->len));
    }
    EXPECT_EQ(hc_read_plan_seg(p, n), nullptr);
    hc_read_end(c, p);
    hc_stats s = stats();
    EXPECT_EQ(s.read_requests, 2u);  // same() + this one
    EXPECT_EQ(s.partial_hits, 1u);
    EXPECT_EQ(s.hit_blocks, 4u);
}

TEST_F(Fixture, MissRunsRespectMaxMerge) {
    make(64, HC_MODE_WRITEBACK, HC_POLICY_LRU,
         [](hc_config *c) { c->max_merge = 2 * 4096; });
    hc_read_plan *p;
    ASSERT_EQ(hc_read_begin(c, 0, 5 * kBS, &p), 0);
    ASSERT_EQ(hc_read_plan_count(p), 3u);
    EXPECT_EQ(hc_read_plan_seg(p, 2)->len, kBS);
    hc_read_end(c, p);
}

TEST_F(Fixture, UnalignedReadIsExpandedToBlocks) {
    make(64);
    hc_read_plan *p;
    ASSERT_EQ(hc_read_begin(c, 100, 5000, &p), 0);
    ASSERT_EQ(hc_read_plan_count(p), 1u);
    EXPECT_EQ(hc_read_plan_seg(p, 0)->offset, 0u);
    EXPECT_EQ(hc_read_plan_seg(p, 0)->len, 2 * kBS);
    hc_read_end(c, p);
    auto v = read_through(c, disk, 100, 5000);
    EXPECT_EQ(0, memcmp(v.data(), disk.data() + 100, 5000));
}

TEST_F(Fixture, FillAfterRacingWriteIsDropped) {
    make(64);
    hc_read_plan *p;
    ASSERT_EQ(hc_read_begin(c, 0, kBS, &p), 0);
    std::vector<uint8_t> stale(disk.begin(), disk.begin() + kBS);
    auto fresh = pattern(kBS, 5);
    ASSERT_EQ(write_to(c, disk, 0, fresh), HC_WRITE_DONE);
    hc_read_fill(c, p, 0, stale.data());
    hc_read_end(c, p);
    EXPECT_TRUE(same(0, fresh));
}

TEST_F(Fixture, FillAfterInvalidateIsDropped) {
    make(64, HC_MODE_WRITEAROUND);
    hc_read_plan *p;
    ASSERT_EQ(hc_read_begin(c, 0, kBS, &p), 0);
    std::vector<uint8_t> stale(disk.begin(), disk.begin() + kBS);
    ASSERT_EQ(hc_invalidate(c, 0, kBS, 0), 0);
    memset(disk.data(), 0, kBS);  // the discard reached the child
    hc_read_fill(c, p, 0, stale.data());
    hc_read_end(c, p);
    EXPECT_TRUE(same(0, std::vector<uint8_t>(kBS, 0)));
}

TEST_F(Fixture, FillDuringWriteThroughIsDropped) {
    make(64, HC_MODE_WRITEAROUND);
    auto fresh = pattern(kBS, 8);
    iovec iov{fresh.data(), kBS};
    hc_write_ticket *t;
    ASSERT_EQ(hc_write_begin(c, 0, kBS, &iov, 1, 0, 0, &t), HC_WRITE_CHILD);
    hc_read_plan *p;
    ASSERT_EQ(hc_read_begin(c, 0, kBS, &p), 0);
    std::vector<uint8_t> old(disk.begin(), disk.begin() + kBS);
    hc_read_fill(c, p, 0, old.data());  // the child had not got it yet
    hc_read_end(c, p);
    memcpy(disk.data(), fresh.data(), kBS);
    hc_write_end(c, t, 0);
    EXPECT_TRUE(same(0, fresh));
}

TEST_F(Fixture, PinnedHitIsNeverOverwritten) {
    make(64);
    read_through(c, disk, 0, kBS);
    hc_read_plan *p;
    ASSERT_EQ(hc_read_begin(c, 0, kBS, &p), 0);
    const hc_read_seg *s = hc_read_plan_seg(p, 0);
    ASSERT_NE(s->hit, nullptr);
    std::vector<uint8_t> before(static_cast<const uint8_t *>(s->hit),
                                static_cast<const uint8_t *>(s->hit) + kBS);
    auto fresh = pattern(kBS, 3);
    ASSERT_EQ(write_to(c, disk, 0, fresh), HC_WRITE_DONE);
    std::vector<uint8_t> partial(100, 0xee);
    ASSERT_EQ(write_to(c, disk, 10, partial), HC_WRITE_DONE);
    ASSERT_EQ(hc_invalidate(c, 0, 50, HC_INV_ZERO), 0);
    EXPECT_EQ(0, memcmp(s->hit, before.data(), kBS));
    hc_read_end(c, p);
    std::vector<uint8_t> want = fresh;
    memset(want.data() + 10, 0xee, 100);
    memset(want.data(), 0, 50);
    EXPECT_TRUE(same(0, want));
    // The copy-on-write slot came back: everything still fits.
    EXPECT_EQ(stats().cached_blocks, 1u);
}

TEST_F(Fixture, WriteBackInOffsetOrderMergedIntoExtents) {
    make(64, HC_MODE_WRITEBACK, HC_POLICY_LRU,
         [](hc_config *c) { c->max_merge = 4 * 4096; });
    for (uint64_t b : {9, 3, 2, 1, 4, 5, 20, 8}) {
        ASSERT_EQ(write_to(c, disk, b * kBS, pattern(kBS, uint32_t(b))),
                  HC_WRITE_DONE);
    }
    EXPECT_EQ(stats().dirty_bytes, 8 * kBS);
    uint64_t seq = hc_dirty_seq(c);
    EXPECT_EQ(hc_dirty_pending(c, seq), 8u);
    std::vector<std::pair<uint64_t, uint64_t>> got;
    hc_extent *e;
    std::vector<hc_extent *> out;
    while (hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e) == 1) {
        got.emplace_back(e->offset / kBS, e->len / kBS);
        out.push_back(e);
    }
    std::vector<std::pair<uint64_t, uint64_t>> want = {
        {1, 4}, {5, 1}, {8, 2}, {20, 1}};
    EXPECT_EQ(got, want);
    EXPECT_EQ(hc_dirty_pending(c, seq), 8u);  // busy still counts
    // A write to a block under write-back must wait.
    EXPECT_EQ(write_to(c, disk, 2 * kBS, pattern(kBS, 1)), -EAGAIN);
    EXPECT_EQ(hc_invalidate(c, 2 * kBS, kBS, 0), -EAGAIN);
    for (hc_extent *x : out) {
        uint64_t pos = x->offset;
        for (int i = 0; i < x->iovcnt; i++) {
            memcpy(disk.data() + pos, x->iov[i].iov_base, x->iov[i].iov_len);
            pos += x->iov[i].iov_len;
        }
        hc_writeback_done(c, x, 0);
    }
    EXPECT_EQ(hc_dirty_pending(c, seq), 0u);
    hc_stats s = stats();
    EXPECT_EQ(s.dirty_bytes, 0u);
    EXPECT_EQ(s.hb_bytes, 8 * kBS);  // written back blocks stay, clean
    EXPECT_EQ(s.writeback_requests, 4u);
    EXPECT_EQ(s.writeback_blocks_written, 8u);
    EXPECT_EQ(0, memcmp(disk.data() + 9 * kBS, pattern(kBS, 9).data(), kBS));
}

TEST_F(Fixture, WriteBackErrorKeepsDataDirty) {
    make(64);
    auto d = pattern(2 * kBS, 4);
    ASSERT_EQ(write_to(c, disk, 0, d), HC_WRITE_DONE);
    uint64_t seq = hc_dirty_seq(c);
    hc_extent *e;
    ASSERT_EQ(hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e), 1);
    hc_writeback_done(c, e, -EIO);
    EXPECT_EQ(hc_dirty_pending(c, seq), 2u);
    EXPECT_EQ(stats().writeback_errors, 1u);
    EXPECT_TRUE(same(0, d));
    flush_all(c, disk);
    EXPECT_EQ(0, memcmp(disk.data(), d.data(), d.size()));
}

TEST_F(Fixture, FlushOnlyWaitsForOlderWrites) {
    make(64);
    write_to(c, disk, 0, pattern(kBS, 1));
    uint64_t seq = hc_dirty_seq(c);
    write_to(c, disk, 5 * kBS, pattern(kBS, 2));
    write_to(c, disk, 0, pattern(kBS, 3));  // rewrite keeps the old seq
    EXPECT_EQ(hc_dirty_pending(c, seq), 1u);
    hc_extent *e;
    ASSERT_EQ(hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e), 1);
    EXPECT_EQ(e->offset, 0u);
    hc_writeback_done(c, e, 0);
    EXPECT_EQ(hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e), 0);
    EXPECT_EQ(hc_dirty_pending(c, seq), 0u);
    EXPECT_EQ(hc_dirty_pending(c, hc_dirty_seq(c)), 1u);
}

TEST_F(Fixture, WatermarkAndAge) {
    make(20, HC_MODE_WRITEBACK, HC_POLICY_LRU, [](hc_config *c) {
        c->dirty_high_pct = 50;
        c->dirty_low_pct = 20;
        c->max_dirty_age_ns = 1000;
    });
    EXPECT_EQ(hc_writeback_wanted(c, 0), -1);
    write_to(c, disk, 0, pattern(2 * kBS, 1));
    EXPECT_EQ(hc_writeback_wanted(c, 10), -1);
    EXPECT_EQ(hc_writeback_wanted(c, 2000), HC_WB_AGE);
    hc_extent *e;
    EXPECT_EQ(hc_writeback_next(c, HC_WB_AGE, 0, 2000, &e), 1);
    hc_writeback_done(c, e, 0);
    EXPECT_EQ(hc_writeback_wanted(c, 3000), -1);
    for (uint64_t b = 0; b < 11; b++) {
        write_to(c, disk, (100 + 2 * b) * kBS, pattern(kBS, 1));
    }
    EXPECT_EQ(hc_writeback_wanted(c, 3000), HC_WB_WATERMARK);
    int n = 0;
    while (hc_writeback_next(c, HC_WB_WATERMARK, 0, 3000, &e) == 1) {
        hc_writeback_done(c, e, 0);
        n++;
    }
    EXPECT_EQ(n, 7);  // 11 dirty of 20 down to 4 (20 %)
}

TEST_F(Fixture, DirtyMaxGivesEnospc) {
    make(10, HC_MODE_WRITEBACK, HC_POLICY_LRU,
         [](hc_config *c) { c->dirty_max_pct = 50; });
    EXPECT_EQ(write_to(c, disk, 0, pattern(5 * kBS, 1)), HC_WRITE_DONE);
    EXPECT_EQ(write_to(c, disk, 10 * kBS, pattern(kBS, 1)), -ENOSPC);
    EXPECT_EQ(write_to(c, disk, 0, pattern(kBS, 2)), HC_WRITE_DONE);
}

// A write of blocks we do not hold is out at the child (here bypassed as
// a sequential stream).  A newer write of one of them must not be absorbed
// until it lands: written back early, it could reach the disk first and
// lose to the older write.  Nor may a newer write-through admit the block.
TEST_F(Fixture, NewerWriteWaitsForUncachedWriteAtTheChild) {
    make(64, HC_MODE_WRITEBACK, HC_POLICY_LRU,
         [](hc_config *c) { c->seq_cutoff = 4 * 4096; });
    auto older = pattern(16 * kBS, 1);
    iovec iov{older.data(), older.size()};
    hc_write_ticket *t;
    ASSERT_EQ(hc_write_begin(c, 0, older.size(), &iov, 1, 0, 0, &t),
              HC_WRITE_CHILD);
    EXPECT_EQ(stats().bypassed, 1u);

    auto newer = pattern(kBS, 2);
    iovec iov2{newer.data(), kBS};
    hc_write_ticket *t2 = nullptr;
    EXPECT_EQ(hc_write_begin(c, 5 * kBS, kBS, &iov2, 1, 0, 0, &t2), -EAGAIN);
    EXPECT_EQ(hc_write_begin(c, 5 * kBS + 512, 512, &iov2, 1, 0, 0, &t2),
              HC_WRITE_CHILD);  // a partial miss goes to the child anyway
    hc_write_end(c, t2, 0);
    EXPECT_EQ(hc_write_begin(c, 6 * kBS, kBS, &iov2, 1, 0, HC_WRITE_FUA, &t2),
              HC_WRITE_CHILD);
    hc_write_end(c, t2, 0);
    EXPECT_EQ(stats().cached_blocks, 0u);  // the FUA write did not admit

    memcpy(disk.data(), older.data(), older.size());
    hc_write_end(c, t, 0);
    EXPECT_EQ(write_to(c, disk, 5 * kBS, newer), HC_WRITE_DONE);
    flush_all(c, disk);
    EXPECT_TRUE(std::equal(newer.begin(), newer.end(), disk.begin() + 5 * kBS));
}

TEST_F(Fixture, FuaAndPartialMissGoToChild) {
    make(64);
    auto d = pattern(kBS, 1);
    EXPECT_EQ(write_to(c, disk, 0, d, HC_WRITE_FUA), HC_WRITE_CHILD);
    EXPECT_EQ(stats().dirty_bytes, 0u);
    EXPECT_TRUE(same(0, d));
    EXPECT_EQ(write_to(c, disk, 10 * kBS + 7, pattern(100, 2)),
              HC_WRITE_CHILD);  // partial block we do not hold
    EXPECT_EQ(write_to(c, disk, 7, pattern(100, 3)), HC_WRITE_DONE);
    EXPECT_EQ(stats().dirty_bytes, kBS);
    std::vector<uint8_t> want(disk.begin(), disk.begin() + kBS);
    EXPECT_EQ(read_through(c, disk, 0, kBS)[7], pattern(100, 3)[0]);
}

TEST_F(Fixture, FuaFullRewriteCleansDirtyBlock) {
    make(64);
    write_to(c, disk, 0, pattern(kBS, 1));
    EXPECT_EQ(hc_dirty_pending(c, hc_dirty_seq(c)), 1u);
    auto d = pattern(kBS, 2);
    EXPECT_EQ(write_to(c, disk, 0, d, HC_WRITE_FUA), HC_WRITE_CHILD);
    EXPECT_EQ(hc_dirty_pending(c, hc_dirty_seq(c)), 0u);
    EXPECT_TRUE(same(0, d));
}

TEST_F(Fixture, WriteThroughFailureDropsCleanCopy) {
    make(64, HC_MODE_WRITETHROUGH);
    read_through(c, disk, 0, kBS);
    auto d = pattern(kBS, 1);
    iovec iov{d.data(), kBS};
    hc_write_ticket *t;
    ASSERT_EQ(hc_write_begin(c, 0, kBS, &iov, 1, 0, 0, &t), HC_WRITE_CHILD);
    EXPECT_EQ(write_to(c, disk, 0, d), -EAGAIN);  // range busy
    hc_write_end(c, t, -EIO);
    EXPECT_EQ(stats().write_errors, 1u);
    EXPECT_EQ(stats().cached_blocks, 0u);
}

TEST_F(Fixture, ModesWritethroughWritearoundNone) {
    make(64, HC_MODE_WRITETHROUGH);
    auto d = pattern(kBS, 1);
    EXPECT_EQ(write_to(c, disk, 0, d), HC_WRITE_CHILD);
    EXPECT_EQ(stats().cached_blocks, 1u);  // admitted, clean
    EXPECT_EQ(stats().dirty_bytes, 0u);
    hc_config cfg;
    hc_get_config(c, &cfg);
    cfg.mode = HC_MODE_WRITEAROUND;
    char err[128];
    ASSERT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), 0);
    EXPECT_EQ(write_to(c, disk, 0, pattern(kBS, 2)), HC_WRITE_CHILD);
    EXPECT_EQ(stats().cached_blocks, 0u);  // write invalidated it
    EXPECT_TRUE(same(0, pattern(kBS, 2)));
    cfg.mode = HC_MODE_NONE;
    ASSERT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), 0);
    EXPECT_EQ(stats().cached_blocks, 0u);
    EXPECT_TRUE(same(0, pattern(kBS, 2)));
    EXPECT_EQ(stats().cached_blocks, 0u);  // none caches nothing
    EXPECT_EQ(write_to(c, disk, kBS, d), HC_WRITE_CHILD);
}

TEST_F(Fixture, SwitchToNoneKeepsDirtyData) {
    make(64);
    auto d = pattern(kBS, 1);
    write_to(c, disk, 0, d);
    hc_config cfg;
    hc_get_config(c, &cfg);
    cfg.mode = HC_MODE_NONE;
    char err[128];
    ASSERT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), 0);
    EXPECT_TRUE(same(0, d));
    flush_all(c, disk);
    EXPECT_EQ(0, memcmp(disk.data(), d.data(), kBS));
}

TEST_F(Fixture, SequentialCutoffBypasses) {
    make(256, HC_MODE_WRITEBACK, HC_POLICY_LRU,
         [](hc_config *c) { c->seq_cutoff = 8 * 4096; });
    for (uint64_t b = 0; b < 64; b++) {
        read_through(c, disk, b * kBS, kBS);
    }
    hc_stats s = stats();
    EXPECT_EQ(s.cached_blocks, 8u);
    EXPECT_EQ(s.bypassed, 56u);
    EXPECT_EQ(write_to(c, disk, 64 * kBS, pattern(kBS, 1)), HC_WRITE_CHILD);
}

TEST_F(Fixture, InvalidateZeroAndDiscard) {
    make(64);
    read_through(c, disk, 0, 4 * kBS);
    write_to(c, disk, 3 * kBS, pattern(kBS, 7));
    ASSERT_EQ(hc_invalidate(c, 100, kBS, HC_INV_ZERO), 0);
    memset(disk.data() + 100, 0, kBS);
    auto v = read_through(c, disk, 0, 2 * kBS);
    EXPECT_EQ(0, memcmp(v.data(), disk.data(), 2 * kBS));
    EXPECT_EQ(stats().cached_blocks, 4u);  // partial blocks zeroed in place
    // Discard of part of a dirty block keeps it (other bytes are newer).
    ASSERT_EQ(hc_invalidate(c, 3 * kBS, 100, 0), 0);
    auto seven = pattern(kBS, 7);
    EXPECT_TRUE(same(3 * kBS + 100,
                     std::vector<uint8_t>(seven.begin() + 100, seven.end())));
    ASSERT_EQ(hc_invalidate(c, 0, UINT64_MAX, 0), 0);
    EXPECT_EQ(stats().cached_blocks, 0u);
    EXPECT_EQ(stats().dirty_bytes, 0u);
}

TEST_F(Fixture, RangeDirty) {
    make(64);
    write_to(c, disk, 4 * kBS, pattern(3 * kBS, 1));
    uint64_t pnum;
    EXPECT_FALSE(hc_range_dirty(c, 0, 100 * kBS, &pnum));
    EXPECT_EQ(pnum, 4 * kBS);
    EXPECT_TRUE(hc_range_dirty(c, 4 * kBS + 10, 100 * kBS, &pnum));
    EXPECT_EQ(pnum, 3 * kBS - 10);
    EXPECT_TRUE(hc_range_dirty(c, 4 * kBS, kBS, &pnum));
    EXPECT_EQ(pnum, kBS);
    EXPECT_FALSE(hc_range_dirty(c, 8 * kBS, 10, &pnum));
    EXPECT_EQ(pnum, 10u);
}

TEST_F(Fixture, ReconfigureShrinkGrowAndBusy) {
    make(64);
    for (uint64_t b = 0; b < 64; b++) {
        read_through(c, disk, b * kBS, kBS);
    }
    write_to(c, disk, 0, pattern(20 * kBS, 1));
    hc_config cfg;
    hc_get_config(c, &cfg);
    char err[256];
    cfg.size = 10 * kBS;  // 20 dirty blocks cannot fit
    EXPECT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), -EBUSY);
    EXPECT_EQ(stats().capacity_bytes, 64 * kBS);
    cfg.size = 24 * kBS;
    ASSERT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), 0) << err;
    hc_stats s = stats();
    EXPECT_EQ(s.capacity_bytes, 24 * kBS);
    EXPECT_LE(s.cached_blocks, 24u);
    EXPECT_EQ(s.dirty_bytes, 20 * kBS);
    EXPECT_TRUE(same(0, pattern(20 * kBS, 1)));
    cfg.size = 128 * kBS;
    cfg.policy = HC_POLICY_S3FIFO;
    ASSERT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), 0) << err;
    for (uint64_t b = 30; b < 130; b++) {
        read_through(c, disk, b * kBS, kBS);
    }
    EXPECT_TRUE(same(0, pattern(20 * kBS, 1)));
    EXPECT_LE(stats().cached_blocks, 128u);
    cfg.block_size = 512;
    EXPECT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), -EINVAL);
    EXPECT_NE(strstr(err, "block-size"), nullptr);
}

TEST_F(Fixture, ShrinkRefusesWhilePinnedInTail) {
    make(16);
    for (uint64_t b = 0; b < 16; b++) {
        read_through(c, disk, b * kBS, kBS);
    }
    hc_read_plan *p;
    ASSERT_EQ(hc_read_begin(c, 0, 16 * kBS, &p), 0);
    hc_config cfg;
    hc_get_config(c, &cfg);
    cfg.size = 8 * kBS;
    char err[256];
    EXPECT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), -EBUSY);
    hc_read_end(c, p);
    EXPECT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), 0);
}

// The working set is big enough for SHARDS, which samples at most one block
// in 16, to see about fifty blocks: a cyclic scan of 800 blocks hits in a
// cache of 1000, and never in one of 200.
TEST_F(Fixture, StatsAndMrc) {
    make(1000, HC_MODE_WRITEBACK, HC_POLICY_FREQ);
    for (int r = 0; r < 20; r++) {
        for (uint64_t b = 0; b < 800; b++) {
            read_through(c, disk, b * kBS, kBS);
        }
    }
    hc_stats s = stats();
    EXPECT_EQ(s.hit_blocks + s.miss_blocks, 16000u);
    EXPECT_GT(s.hit_blocks, 14000u);
    EXPECT_GT(s.metadata_bytes, 0u);
    EXPECT_GT(hc_mrc_hit_ratio(c, 1.0), 0.8);
    EXPECT_LT(hc_mrc_hit_ratio(c, 0.2), 0.2);
    hc_reset_stats(c);
    EXPECT_EQ(stats().hit_blocks, 0u);
    EXPECT_EQ(stats().cached_blocks, 800u);
}

TEST_F(Fixture, AdmissionThreshold) {
    make(100, HC_MODE_WRITEBACK, HC_POLICY_FREQ,
         [](hc_config *c) { c->admit_threshold = 3; });
    read_through(c, disk, 0, kBS);
    read_through(c, disk, 0, kBS);
    EXPECT_EQ(stats().cached_blocks, 0u);
    EXPECT_EQ(stats().rejections, 2u);
    read_through(c, disk, 0, kBS);
    EXPECT_EQ(stats().cached_blocks, 1u);
}

TEST_F(Fixture, IovecWithSkipAndManyPieces) {
    make(64);
    auto d = pattern(3 * kBS, 11);
    std::vector<iovec> iov;
    std::vector<uint8_t> pre(77, 0);
    iov.push_back({pre.data(), pre.size()});
    for (size_t o = 0; o < d.size(); o += 1000) {
        iov.push_back({d.data() + o, std::min<size_t>(1000, d.size() - o)});
    }
    hc_write_ticket *t = nullptr;
    ASSERT_EQ(hc_write_begin(c, kBS, d.size(), iov.data(), int(iov.size()), 77,
                             0, &t),
              HC_WRITE_DONE);
    EXPECT_TRUE(same(kBS, d));
}

namespace {

// Resident memory of this process, in bytes (/proc/self/statm).
uint64_t resident_bytes() {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2) {
            resident = 0;
        }
        fclose(f);
    }
    return uint64_t(resident) * uint64_t(sysconf(_SC_PAGESIZE));
}

}  // namespace

TEST(Prealloc, FaultsInTheCacheMemoryAtCreateAndOnGrowth) {
    constexpr uint64_t kMiB = 1 << 20;
    auto lazy_cfg = [](hc_config *c) { c->size = 64 * kMiB; };
    auto prealloc_cfg = [](hc_config *c) {
        c->size = 64 * kMiB;
        c->prealloc = true;
    };
    // Without prealloc the slots are touched only when they are filled.
    uint64_t before = resident_bytes();
    hc_cache *lazy =
        make_cache(16384, HC_MODE_WRITEBACK, HC_POLICY_FREQ, lazy_cfg);
    EXPECT_LT(resident_bytes() - before, 32 * kMiB);
    hc_destroy(lazy);

    before = resident_bytes();
    hc_cache *c =
        make_cache(16384, HC_MODE_WRITEBACK, HC_POLICY_FREQ, prealloc_cfg);
    EXPECT_GE(resident_bytes() - before, 64 * kMiB);

    // Growth faults in the new memory too; the flag itself is fixed.
    hc_config cfg;
    hc_get_config(c, &cfg);
    char err[256];
    before = resident_bytes();
    cfg.size = 96 * kMiB;
    ASSERT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), 0) << err;
    EXPECT_GE(resident_bytes() - before, 32 * kMiB);
    cfg.prealloc = false;
    EXPECT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), -EINVAL);
    EXPECT_NE(strstr(err, "prealloc"), nullptr) << err;
    hc_destroy(c);
}
