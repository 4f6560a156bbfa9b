// SPDX-License-Identifier: GPL-2.0-or-later
//
// Direct fills: read misses read from the child straight into the slots
// hc_read_begin() reserved (fill_iov), published by hc_read_fill_done().
// One test per promise of the header, and one per way that data read
// before a newer change could try to enter the cache.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "helpers.h"

using namespace hctest;

namespace {

constexpr uint64_t kBS = 4096;

struct Fill : ::testing::Test {
    hc_cache *c = nullptr;
    std::vector<uint8_t> disk = pattern(4 << 20, 77);
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
    hc_read_plan *begin(uint64_t off, uint64_t len) {
        hc_read_plan *p = nullptr;
        EXPECT_EQ(hc_read_begin(c, off, len, &p), 0);
        return p;
    }
    const hc_read_seg *seg(hc_read_plan *p, size_t i) {
        return hc_read_plan_seg(p, i);
    }
    // The child read of segment @i: the disk's bytes into fill_iov.
    void child_read(hc_read_plan *p, size_t i) {
        const hc_read_seg *s = seg(p, i);
        ASSERT_NE(s->fill_iov, nullptr);
        uint64_t pos = s->offset;
        for (int k = 0; k < s->fill_iovcnt; k++) {
            memcpy(s->fill_iov[k].iov_base, disk.data() + pos,
                   s->fill_iov[k].iov_len);
            pos += s->fill_iov[k].iov_len;
        }
        ASSERT_EQ(pos, s->offset + s->len);
    }
    // What segment @i holds for the caller: the hit or fill_iov.
    std::vector<uint8_t> seg_bytes(hc_read_plan *p, size_t i) {
        const hc_read_seg *s = seg(p, i);
        std::vector<uint8_t> out;
        if (s->hit) {
            auto *h = static_cast<const uint8_t *>(s->hit);
            out.assign(h, h + s->len);
        }
        for (int k = 0; k < s->fill_iovcnt; k++) {
            auto *b = static_cast<const uint8_t *>(s->fill_iov[k].iov_base);
            out.insert(out.end(), b, b + s->fill_iov[k].iov_len);
        }
        return out;
    }
    std::vector<uint8_t> on_disk(uint64_t off, uint64_t len) {
        return std::vector<uint8_t>(disk.begin() + off,
                                    disk.begin() + off + len);
    }
    // A plain read (old path) returns @want, and hits everywhere.
    void expect_hit(uint64_t off, const std::vector<uint8_t> &want) {
        uint64_t hits = stats().hit_blocks;
        EXPECT_EQ(read_through(c, disk, off, want.size()), want);
        EXPECT_EQ(stats().hit_blocks - hits, want.size() / kBS);
    }
    // Every one of @n slots can still be had: nothing leaked.
    void expect_all_slots_usable(uint64_t n) {
        for (uint64_t b = 0; b < 3 * n; b++) {
            read_through(c, disk, (512 + b) * kBS, kBS);
        }
        EXPECT_EQ(stats().cached_blocks, n);
    }
};

}  // namespace

TEST_F(Fill, DirectFillPublishesAndLaterReadsHit) {
    make(64);
    hc_read_plan *p = begin(4 * kBS, 8 * kBS);
    ASSERT_EQ(hc_read_plan_count(p), 1u);
    const hc_read_seg *s = seg(p, 0);
    EXPECT_EQ(s->hit, nullptr);
    EXPECT_EQ(s->offset, 4 * kBS);
    EXPECT_EQ(s->len, 8 * kBS);
    ASSERT_GE(s->fill_iovcnt, 1);
    ASSERT_LE(s->fill_iovcnt, 8);
    uint64_t total = 0;
    for (int k = 0; k < s->fill_iovcnt; k++) {
        auto a = reinterpret_cast<uintptr_t>(s->fill_iov[k].iov_base);
        EXPECT_EQ(a % kBS, 0u) << "fill_iov must suit O_DIRECT";
        EXPECT_EQ(s->fill_iov[k].iov_len % kBS, 0u);
        total += s->fill_iov[k].iov_len;
    }
    EXPECT_EQ(total, 8 * kBS);
    EXPECT_EQ(stats().cached_blocks, 0u);  // reserved, not yet visible
    child_read(p, 0);
    hc_read_fill_done(c, p, 0);
    EXPECT_EQ(stats().cached_blocks, 8u);
    EXPECT_EQ(stats().admissions, 8u);
    EXPECT_EQ(seg_bytes(p, 0), on_disk(4 * kBS, 8 * kBS));
    hc_read_end(c, p);
    expect_hit(4 * kBS, on_disk(4 * kBS, 8 * kBS));
    // A second fill_done, or one for a hit, changes nothing.
    p = begin(4 * kBS, 8 * kBS);
    EXPECT_EQ(seg(p, 0)->fill_iov, nullptr);
    hc_read_fill_done(c, p, 0);
    hc_read_fill_done(c, p, 7);
    hc_read_end(c, p);
    EXPECT_EQ(stats().admissions, 8u);
    expect_all_slots_usable(64);
}

TEST_F(Fill, RunsOfOnePlanFinishInAnyOrder) {
    make(64);
    read_through(c, disk, 3 * kBS, kBS);
    read_through(c, disk, 6 * kBS, kBS);
    hc_read_plan *p = begin(0, 10 * kBS);  // miss 0-2, hit 3, 4-5, 6, 7-9
    ASSERT_EQ(hc_read_plan_count(p), 5u);
    for (size_t i : {4u, 0u, 2u}) {
        child_read(p, i);
        hc_read_fill_done(c, p, i);
    }
    std::vector<uint8_t> got;
    for (size_t i = 0; i < hc_read_plan_count(p); i++) {
        auto b = seg_bytes(p, i);
        got.insert(got.end(), b.begin(), b.end());
    }
    EXPECT_EQ(got, on_disk(0, 10 * kBS));
    hc_read_end(c, p);
    expect_hit(0, on_disk(0, 10 * kBS));
}

// What may happen between hc_read_begin() and hc_read_fill_done(): each
// changes the block after its old contents were read, so the fill must
// not publish them.  The change is applied to the disk as the glue would.
struct Between {
    const char *name;
    hc_mode mode;
    std::function<void(Fill &)> act;
    std::vector<uint8_t> after;  // the block's contents once it is done
};

class FillRace : public Fill, public ::testing::WithParamInterface<int> {};

namespace {

std::vector<Between> betweens() {
    auto fresh = pattern(kBS, 1234);
    std::vector<uint8_t> zero(kBS, 0);
    std::vector<uint8_t> partial = pattern(4 * kBS, 77);  // disk's block 2
    partial.assign(partial.begin() + 2 * kBS, partial.begin() + 3 * kBS);
    memset(partial.data() + 512, 0xab, 512);
    return {
        {"absorbed write", HC_MODE_WRITEBACK,
         [fresh](Fill &f) {
             ASSERT_EQ(write_to(f.c, f.disk, 2 * kBS, fresh), HC_WRITE_DONE);
         },
         fresh},
        {"write-through, done", HC_MODE_WRITEAROUND,
         [fresh](Fill &f) {
             ASSERT_EQ(write_to(f.c, f.disk, 2 * kBS, fresh), HC_WRITE_CHILD);
         },
         fresh},
        {"FUA write", HC_MODE_WRITEBACK,
         [fresh](Fill &f) {
             ASSERT_EQ(write_to(f.c, f.disk, 2 * kBS, fresh, HC_WRITE_FUA),
                       HC_WRITE_CHILD);
         },
         fresh},
        {"partial write of an uncached block", HC_MODE_WRITEBACK,
         [](Fill &f) {
             ASSERT_EQ(write_to(f.c, f.disk, 2 * kBS + 512,
                                std::vector<uint8_t>(512, 0xab)),
                       HC_WRITE_CHILD);
         },
         partial},
        {"discard", HC_MODE_WRITEBACK,
         [zero](Fill &f) {
             // The child's discarded range reads as zeroes here.
             ASSERT_EQ(hc_invalidate(f.c, 2 * kBS, kBS, 0), 0);
             memcpy(f.disk.data() + 2 * kBS, zero.data(), kBS);
             ASSERT_EQ(hc_invalidate(f.c, 2 * kBS, kBS, 0), 0);
         },
         zero},
        {"write-zeroes", HC_MODE_WRITEBACK,
         [zero](Fill &f) {
             ASSERT_EQ(hc_invalidate(f.c, 2 * kBS, kBS, HC_INV_ZERO), 0);
             memcpy(f.disk.data() + 2 * kBS, zero.data(), kBS);
             ASSERT_EQ(hc_invalidate(f.c, 2 * kBS, kBS, HC_INV_ZERO), 0);
         },
         zero},
        {"whole-disk discard", HC_MODE_WRITEBACK,
         [zero](Fill &f) {
             ASSERT_EQ(hc_invalidate(f.c, 0, UINT64_MAX, 0), 0);
             memcpy(f.disk.data() + 2 * kBS, zero.data(), kBS);
         },
         zero},
    };
}

}  // namespace

TEST_P(FillRace, ChangeBetweenBeginAndFillDoneKeepsOldDataOut) {
    Between w = betweens()[size_t(GetParam())];
    SCOPED_TRACE(w.name);
    make(64, w.mode);
    std::vector<uint8_t> old = on_disk(2 * kBS, kBS);
    hc_read_plan *p = begin(2 * kBS, kBS);
    ASSERT_NE(seg(p, 0)->fill_iov, nullptr);
    child_read(p, 0);  // the child returns the old contents ...
    w.act(*this);      // ... and then the block changes
    hc_read_fill_done(c, p, 0);
    // This read began before the change: the old bytes are right for it,
    // and they stay readable until hc_read_end().
    EXPECT_EQ(seg_bytes(p, 0), old);
    hc_read_end(c, p);
    EXPECT_EQ(read_through(c, disk, 2 * kBS, kBS), w.after);
    EXPECT_EQ(read_through(c, disk, 2 * kBS, kBS), w.after);
    expect_all_slots_usable(64);
}

INSTANTIATE_TEST_SUITE_P(All, FillRace,
                         ::testing::Range(0, int(betweens().size())));

// An uncached write still out at the child when the read completes: the
// child may have returned either version, so nothing enters until it is
// done; afterwards the block is admitted again normally.
TEST_F(Fill, WriteStillAtTheChildBlocksAdmission) {
    make(64, HC_MODE_WRITEAROUND);
    auto fresh = pattern(kBS, 5);
    iovec iov{fresh.data(), kBS};
    hc_write_ticket *t;
    hc_read_plan *p = begin(0, kBS);
    ASSERT_EQ(hc_write_begin(c, 0, kBS, &iov, 1, 0, 0, &t), HC_WRITE_CHILD);
    child_read(p, 0);  // old data: the write has not landed
    hc_read_fill_done(c, p, 0);
    hc_read_end(c, p);
    // Planned while the write is out: not even reserved.
    p = begin(0, kBS);
    EXPECT_EQ(seg(p, 0)->fill_iov, nullptr);
    hc_read_end(c, p);
    memcpy(disk.data(), fresh.data(), kBS);
    hc_write_end(c, t, 0);
    EXPECT_EQ(stats().cached_blocks, 0u);
    EXPECT_EQ(read_through(c, disk, 0, kBS), fresh);
    expect_hit(0, fresh);
}

TEST_F(Fill, OverlappingPlansShareTheFillOfTheirCommonBlock) {
    make(64);
    hc_read_plan *p1 = begin(0, 2 * kBS);
    hc_read_plan *p2 = begin(kBS, 2 * kBS);  // block 1: p1 reads it
    ASSERT_NE(seg(p1, 0)->fill_iov, nullptr);
    ASSERT_EQ(hc_read_plan_count(p2), 2u);
    EXPECT_TRUE(seg(p2, 0)->wait);
    EXPECT_EQ(seg(p2, 0)->fill_iov, nullptr);
    ASSERT_NE(seg(p2, 1)->fill_iov, nullptr);
    child_read(p1, 0);
    child_read(p2, 1);
    hc_read_fill_done(c, p2, 1);
    hc_read_fill_done(c, p1, 0);
    EXPECT_EQ(stats().cached_blocks, 3u);
    EXPECT_EQ(stats().admissions, 3u);
    EXPECT_EQ(stats().fill_waits, 1u);
    EXPECT_EQ(seg_bytes(p1, 0), on_disk(0, 2 * kBS));
    EXPECT_EQ(seg_bytes(p2, 1), on_disk(2 * kBS, kBS));
    hc_read_end(c, p1);
    hc_read_end(c, p2);
    expect_hit(0, on_disk(0, 3 * kBS));
    expect_all_slots_usable(64);
}

TEST_F(Fill, FailedFillLeavesNothing) {
    make(16);
    hc_read_plan *p = begin(0, 16 * kBS);
    ASSERT_NE(seg(p, 0)->fill_iov, nullptr);
    memset(seg(p, 0)->fill_iov[0].iov_base, 0xee, kBS);  // half a read
    hc_read_failed(c, p, 0, -EIO);
    hc_read_fill_done(c, p, 0);  // too late: ignored
    EXPECT_EQ(stats().cached_blocks, 0u);
    hc_read_end(c, p);
    EXPECT_EQ(stats().read_errors, 1u);
    EXPECT_EQ(stats().cached_blocks, 0u);
    EXPECT_EQ(read_through(c, disk, 0, kBS), on_disk(0, kBS));
    expect_all_slots_usable(16);
}

TEST_F(Fill, EndWithoutFillReleasesTheReservation) {
    make(8);
    for (int r = 0; r < 20; r++) {
        hc_read_plan *p = begin(uint64_t(r) * 8 * kBS, 8 * kBS);
        ASSERT_NE(seg(p, 0)->fill_iov, nullptr) << r;
        hc_read_end(c, p);
    }
    EXPECT_EQ(stats().cached_blocks, 0u);
    expect_all_slots_usable(8);
}

// A shrink may evict clean blocks and move survivors down, but never into
// a reserved slot, and must refuse while reserved slots lie past the new
// end: their memory is out at the child.
TEST_F(Fill, ReservedSlotsSurviveAShrink) {
    make(32);
    hc_read_plan *p = begin(100 * kBS, 8 * kBS);  // slots 0-7
    ASSERT_NE(seg(p, 0)->fill_iov, nullptr);
    child_read(p, 0);
    for (uint64_t b = 0; b < 24; b++) {  // slots 8-31
        read_through(c, disk, b * kBS, kBS);
    }
    hc_config cfg;
    hc_get_config(c, &cfg);
    cfg.size = 16 * kBS;
    char err[256];
    ASSERT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), 0) << err;
    EXPECT_EQ(stats().cached_blocks, 8u);  // 16 slots, 8 reserved
    EXPECT_EQ(seg_bytes(p, 0), on_disk(100 * kBS, 8 * kBS));
    for (uint64_t b = 0; b < 24; b++) {
        EXPECT_EQ(read_through(c, disk, b * kBS, kBS), on_disk(b * kBS, kBS));
    }
    hc_read_plan *p2 = begin(200 * kBS, 4 * kBS);  // evicts: slots 8-15
    ASSERT_NE(seg(p2, 0)->fill_iov, nullptr);
    child_read(p2, 0);
    cfg.size = 8 * kBS;
    EXPECT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), -EBUSY);
    EXPECT_EQ(stats().capacity_bytes, 16 * kBS);
    EXPECT_EQ(seg_bytes(p, 0), on_disk(100 * kBS, 8 * kBS));
    EXPECT_EQ(seg_bytes(p2, 0), on_disk(200 * kBS, 4 * kBS));
    hc_read_fill_done(c, p, 0);
    hc_read_fill_done(c, p2, 0);
    EXPECT_EQ(seg_bytes(p, 0), on_disk(100 * kBS, 8 * kBS));
    EXPECT_EQ(seg_bytes(p2, 0), on_disk(200 * kBS, 4 * kBS));
    hc_read_end(c, p);
    hc_read_end(c, p2);
    expect_hit(200 * kBS, on_disk(200 * kBS, 4 * kBS));
    ASSERT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), 0) << err;
    expect_all_slots_usable(8);
}

// Published blocks stay pinned for the caller, which copies after
// hc_read_fill_done(): a write in between goes to a fresh slot.
TEST_F(Fill, PinnedFillStaysReadableAfterAnOverwrite) {
    make(64);
    hc_read_plan *p = begin(0, 4 * kBS);
    child_read(p, 0);
    hc_read_fill_done(c, p, 0);
    EXPECT_EQ(stats().cached_blocks, 4u);
    auto fresh = pattern(2 * kBS, 9);
    ASSERT_EQ(write_to(c, disk, kBS, fresh), HC_WRITE_DONE);  // whole blocks
    ASSERT_EQ(write_to(c, disk, 3 * kBS + 100, std::vector<uint8_t>(50, 1)),
              HC_WRITE_DONE);  // a partial update of a cached block
    std::vector<uint8_t> old = on_disk(0, 4 * kBS);
    ASSERT_EQ(hc_invalidate(c, 0, 100, HC_INV_ZERO), 0);
    memset(disk.data(), 0, 100);  // write-zeroes reaches the child
    ASSERT_EQ(hc_invalidate(c, 0, 100, HC_INV_ZERO), 0);
    EXPECT_EQ(seg_bytes(p, 0), old);
    hc_read_end(c, p);
    std::vector<uint8_t> want = old;
    memset(want.data(), 0, 100);
    memcpy(want.data() + kBS, fresh.data(), fresh.size());
    memset(want.data() + 3 * kBS + 100, 1, 50);
    EXPECT_EQ(read_through(c, disk, 0, 4 * kBS), want);
    flush_all(c, disk);
    EXPECT_EQ(on_disk(0, 4 * kBS), want);
    expect_all_slots_usable(64);
}

// No slot is reserved where the cache would not keep the data, so those
// runs can be read anywhere (even into the caller's buffer).
TEST_F(Fill, NothingReservedWhereNothingIsCached) {
    make(64, HC_MODE_WRITEBACK, HC_POLICY_LRU,
         [](hc_config *cfg) { cfg->seq_cutoff = 2 * 4096; });
    hc_read_plan *p = begin(0, 8 * kBS);  // a stream past the cutoff
    EXPECT_EQ(seg(p, 0)->fill_iov, nullptr);
    EXPECT_EQ(seg(p, 0)->fill_iovcnt, 0);
    hc_read_fill(c, p, 0, disk.data());  // the old path: no copy either
    hc_read_end(c, p);
    EXPECT_EQ(stats().cached_blocks, 0u);

    hc_config cfg;
    hc_get_config(c, &cfg);
    cfg.mode = HC_MODE_NONE;
    char err[256];
    ASSERT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), 0);
    p = begin(100 * kBS, kBS);
    EXPECT_EQ(seg(p, 0)->fill_iov, nullptr);
    hc_read_end(c, p);
}

TEST_F(Fill, SwitchToNoneBeforeFillDoneKeepsTheFillPrivate) {
    make(64);
    hc_read_plan *p = begin(0, 2 * kBS);
    child_read(p, 0);
    hc_config cfg;
    hc_get_config(c, &cfg);
    cfg.mode = HC_MODE_NONE;
    char err[256];
    ASSERT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), 0);
    hc_read_fill_done(c, p, 0);
    EXPECT_EQ(seg_bytes(p, 0), on_disk(0, 2 * kBS));
    hc_read_end(c, p);
    EXPECT_EQ(stats().cached_blocks, 0u);
}

// Admission per block: runs split where it changes, so each run is either
// reserved whole or not at all.
TEST_F(Fill, RunsSplitWhereAdmissionChanges) {
    make(1024, HC_MODE_WRITEBACK, HC_POLICY_FREQ,
         [](hc_config *cfg) { cfg->admit_threshold = 2; });
    read_through(c, disk, kBS, kBS);  // block 1 seen once: the next admits
    read_through(c, disk, 4 * kBS, kBS);
    EXPECT_EQ(stats().cached_blocks, 0u);
    hc_read_plan *p = begin(0, 6 * kBS);
    ASSERT_EQ(hc_read_plan_count(p), 5u);
    const uint64_t offs[] = {0, 1, 2, 4, 5}, lens[] = {1, 1, 2, 1, 1};
    const bool res[] = {false, true, false, true, false};
    for (size_t i = 0; i < 5; i++) {
        EXPECT_EQ(seg(p, i)->offset, offs[i] * kBS) << i;
        EXPECT_EQ(seg(p, i)->len, lens[i] * kBS) << i;
        EXPECT_EQ(seg(p, i)->fill_iov != nullptr, res[i]) << i;
        EXPECT_EQ(seg(p, i)->hit, nullptr);
    }
    child_read(p, 1);
    child_read(p, 3);
    hc_read_fill_done(c, p, 1);
    hc_read_fill_done(c, p, 3);
    hc_read_end(c, p);
    EXPECT_EQ(stats().cached_blocks, 2u);
    expect_hit(kBS, on_disk(kBS, kBS));
    expect_hit(4 * kBS, on_disk(4 * kBS, kBS));
}

// With every slot dirty nothing can be evicted: the runs are not reserved
// (and the reservation does not fail half way through a run).
TEST_F(Fill, NoEvictableSlotMeansNoReservation) {
    make(8, HC_MODE_WRITEBACK, HC_POLICY_LRU,
         [](hc_config *cfg) { cfg->dirty_max_pct = 100; });
    ASSERT_EQ(write_to(c, disk, 0, pattern(6 * kBS, 3)), HC_WRITE_DONE);
    hc_read_plan *p = begin(100 * kBS, 4 * kBS);  // 2 free slots, then none
    ASSERT_EQ(hc_read_plan_count(p), 2u);
    EXPECT_EQ(seg(p, 0)->len, 2 * kBS);
    EXPECT_NE(seg(p, 0)->fill_iov, nullptr);
    EXPECT_EQ(seg(p, 1)->len, 2 * kBS);
    EXPECT_EQ(seg(p, 1)->fill_iov, nullptr);
    child_read(p, 0);
    hc_read_fill_done(c, p, 0);
    hc_read_end(c, p);
    EXPECT_EQ(stats().cached_blocks, 8u);
    expect_hit(100 * kBS, on_disk(100 * kBS, 2 * kBS));
}

// The old two-copy path keeps its meaning on top of the reservations.
TEST_F(Fill, OldFillCopiesIntoTheReservation) {
    make(64);
    auto got = read_through(c, disk, 1000, 3 * kBS);  // uses hc_read_fill
    EXPECT_EQ(got, on_disk(1000, 3 * kBS));
    EXPECT_EQ(stats().cached_blocks, 4u);
    expect_hit(0, on_disk(0, 4 * kBS));
}
