// SPDX-License-Identifier: GPL-2.0-or-later
//
// Single flight: concurrent misses of one block read the child once.  The
// tests play the glue's side of the protocol (hc_read_seg.wait,
// hc_read_wait_pending, then a new plan) and count the blocks read from a
// "child": with single flight removed, the counts are higher and the wait
// assertions fail.  Failed fills and writes overtaking a fill must reach
// the waiters as a read of their own or the newest data, never as the
// owner's slot bytes.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include "helpers.h"

using namespace hctest;

namespace {

constexpr uint64_t kBS = 4096;

struct SingleFlight : ::testing::Test {
    hc_cache *c = nullptr;
    std::vector<uint8_t> disk = pattern(4 << 20, 31);
    uint64_t child_blocks = 0;  // blocks read from the child

    void SetUp() override {
        c = make_cache(64, HC_MODE_WRITEBACK, HC_POLICY_LRU);
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
    // The child read of a reserved run: @src's bytes into its fill_iov.
    void child_read(hc_read_plan *p, size_t i, const uint8_t *src = nullptr) {
        const hc_read_seg *s = seg(p, i);
        ASSERT_NE(s->fill_iov, nullptr);
        uint64_t pos = 0;
        for (int k = 0; k < s->fill_iovcnt; k++) {
            memcpy(s->fill_iov[k].iov_base,
                   (src ? src : disk.data() + s->offset) + pos,
                   s->fill_iov[k].iov_len);
            pos += s->fill_iov[k].iov_len;
        }
        child_blocks += s->len / kBS;
    }
    // What the glue does for a whole request, no concurrency: hits copied,
    // runs read (counted), wait runs read again through a new plan.
    std::vector<uint8_t> read(uint64_t off, uint64_t len) {
        hc_read_plan *p = begin(off, len);
        std::vector<uint8_t> out(len);
        for (size_t i = 0; i < hc_read_plan_count(p); i++) {
            const hc_read_seg *s = seg(p, i);
            EXPECT_FALSE(s->wait && (s->hit || s->fill_iov));
            std::vector<uint8_t> bytes;
            if (s->wait) {
                EXPECT_FALSE(hc_read_wait_pending(c, p, i))
                    << "nobody else is reading";
                bytes = read(s->offset, s->len);
            } else if (s->hit) {
                auto *h = static_cast<const uint8_t *>(s->hit);
                bytes.assign(h, h + s->len);
            } else {
                child_blocks += s->len / kBS;
                bytes.assign(disk.begin() + s->offset,
                             disk.begin() + s->offset + s->len);
                hc_read_fill(c, p, i, bytes.data());
            }
            for (uint64_t b = std::max(off, s->offset);
                 b < std::min(off + len, s->offset + s->len); b++) {
                out[b - off] = bytes[b - s->offset];
            }
        }
        hc_read_end(c, p);
        return out;
    }
    std::vector<uint8_t> on_disk(uint64_t off, uint64_t len) {
        return std::vector<uint8_t>(disk.begin() + off,
                                    disk.begin() + off + len);
    }
};

}  // namespace

TEST_F(SingleFlight, ConcurrentMissesOfOneBlockReadTheChildOnce) {
    hc_read_plan *a = begin(0, 4 * kBS);        // owns 0-3
    hc_read_plan *b = begin(0, 4 * kBS);        // waits for 0-3
    hc_read_plan *m = begin(2 * kBS, 4 * kBS);  // waits 2-3, owns 4-5
    ASSERT_EQ(hc_read_plan_count(a), 1u);
    ASSERT_NE(seg(a, 0)->fill_iov, nullptr);
    EXPECT_FALSE(seg(a, 0)->wait);
    ASSERT_EQ(hc_read_plan_count(b), 1u);
    EXPECT_TRUE(seg(b, 0)->wait);
    EXPECT_EQ(seg(b, 0)->fill_iov, nullptr);
    EXPECT_EQ(seg(b, 0)->hit, nullptr);
    ASSERT_EQ(hc_read_plan_count(m), 2u);
    EXPECT_TRUE(seg(m, 0)->wait);
    EXPECT_EQ(seg(m, 0)->offset, 2 * kBS);
    EXPECT_EQ(seg(m, 0)->len, 2 * kBS);
    EXPECT_NE(seg(m, 1)->fill_iov, nullptr);
    EXPECT_EQ(stats().fill_waits, 6u);

    EXPECT_TRUE(hc_read_wait_pending(c, b, 0));
    EXPECT_TRUE(hc_read_wait_pending(c, m, 0));
    child_read(a, 0);
    EXPECT_TRUE(hc_read_wait_pending(c, b, 0)) << "read but not published";
    child_read(m, 1);
    hc_read_fill_done(c, m, 1);
    EXPECT_TRUE(hc_read_wait_pending(c, m, 0)) << "its own run is no wait";
    hc_read_fill_done(c, a, 0);
    EXPECT_FALSE(hc_read_wait_pending(c, b, 0));
    EXPECT_FALSE(hc_read_wait_pending(c, m, 0));
    // The waiters plan again (before the owner even ended): all hits.
    EXPECT_EQ(read(0, 4 * kBS), on_disk(0, 4 * kBS));
    EXPECT_EQ(read(2 * kBS, 2 * kBS), on_disk(2 * kBS, 2 * kBS));
    hc_read_end(c, a);
    hc_read_end(c, b);
    hc_read_end(c, m);
    EXPECT_EQ(child_blocks, 6u) << "each distinct block read once";
}

TEST_F(SingleFlight, WaitRunsAreNeverPendingForHitsOrOwnRuns) {
    read(0, kBS);
    hc_read_plan *a = begin(0, 3 * kBS);  // hit 0, owns 1-2
    ASSERT_EQ(hc_read_plan_count(a), 2u);
    EXPECT_FALSE(hc_read_wait_pending(c, a, 0));
    EXPECT_FALSE(hc_read_wait_pending(c, a, 1));
    EXPECT_FALSE(hc_read_wait_pending(c, a, 7));
    hc_read_end(c, a);
}

TEST_F(SingleFlight, FailedFillSendsWaitersToTheChildNotToItsSlots) {
    hc_read_plan *a = begin(0, 2 * kBS);
    hc_read_plan *b = begin(0, 2 * kBS);
    ASSERT_TRUE(seg(b, 0)->wait);
    // Half a read landed before the error.
    memset(seg(a, 0)->fill_iov[0].iov_base, 0xee, kBS);
    child_blocks += 2;
    hc_read_failed(c, a, 0, -EIO);
    EXPECT_FALSE(hc_read_wait_pending(c, b, 0));
    // The waiter plans again: a miss of its own, not the failed slots.
    hc_read_plan *again = begin(0, 2 * kBS);
    ASSERT_EQ(hc_read_plan_count(again), 1u);
    EXPECT_EQ(seg(again, 0)->hit, nullptr);
    EXPECT_FALSE(seg(again, 0)->wait);
    ASSERT_NE(seg(again, 0)->fill_iov, nullptr);
    EXPECT_NE(seg(again, 0)->fill_iov[0].iov_base,
              seg(a, 0)->fill_iov[0].iov_base);
    child_read(again, 0);
    hc_read_fill_done(c, again, 0);
    hc_read_end(c, again);
    hc_read_end(c, a);
    hc_read_end(c, b);
    EXPECT_EQ(read(0, 2 * kBS), on_disk(0, 2 * kBS));
    EXPECT_EQ(stats().read_errors, 1u);
    EXPECT_EQ(child_blocks, 4u);
}

TEST_F(SingleFlight, WriteOvertakingTheFillReachesTheWaiter) {
    hc_read_plan *a = begin(0, kBS);
    hc_read_plan *b = begin(0, kBS);
    ASSERT_TRUE(seg(b, 0)->wait);
    std::vector<uint8_t> old = on_disk(0, kBS);
    std::vector<uint8_t> fresh = pattern(kBS, 99);
    ASSERT_EQ(write_to(c, disk, 0, fresh), HC_WRITE_DONE);
    child_read(a, 0, old.data());  // the child answered before the write
    hc_read_fill_done(c, a, 0);    // refused: the generation moved
    EXPECT_FALSE(hc_read_wait_pending(c, b, 0));
    EXPECT_EQ(read(0, kBS), fresh);
    hc_read_end(c, a);
    hc_read_end(c, b);
    EXPECT_EQ(read(0, kBS), fresh);
}

TEST_F(SingleFlight, EndWithoutFillReleasesWaiters) {
    hc_read_plan *a = begin(0, kBS);
    hc_read_plan *b = begin(0, kBS);
    ASSERT_TRUE(seg(b, 0)->wait);
    hc_read_end(c, a);
    EXPECT_FALSE(hc_read_wait_pending(c, b, 0));
    hc_read_end(c, b);
    EXPECT_EQ(read(0, kBS), on_disk(0, kBS));
    EXPECT_EQ(child_blocks, 1u);
}

TEST_F(SingleFlight, AWaiterWaitsForTheFillItSawNotTheNextOne) {
    hc_read_plan *a = begin(0, kBS);
    hc_read_plan *b = begin(0, kBS);
    ASSERT_TRUE(seg(b, 0)->wait);
    hc_read_failed(c, a, 0, -EIO);
    hc_read_plan *n = begin(0, kBS);  // a new owner of block 0
    ASSERT_NE(seg(n, 0)->fill_iov, nullptr);
    EXPECT_FALSE(hc_read_wait_pending(c, b, 0));
    hc_read_plan *w = begin(0, kBS);  // ... has waiters of its own
    EXPECT_TRUE(seg(w, 0)->wait);
    EXPECT_TRUE(hc_read_wait_pending(c, w, 0));
    hc_read_end(c, a);
    EXPECT_TRUE(hc_read_wait_pending(c, w, 0)) << "a's end is not n's fill";
    child_read(n, 0);
    hc_read_fill_done(c, n, 0);
    EXPECT_FALSE(hc_read_wait_pending(c, w, 0));
    for (hc_read_plan *p : {b, n, w}) {
        hc_read_end(c, p);
    }
}

TEST_F(SingleFlight, WaitsEvenWhereAdmissionWouldRefuse) {
    hc_destroy(c);
    c = make_cache(64, HC_MODE_WRITEBACK, HC_POLICY_FREQ,
                   [](hc_config *cfg) { cfg->admit_threshold = 2; });
    read(0, kBS);                     // first access: not admitted
    hc_read_plan *a = begin(0, kBS);  // second: admitted, reserved
    ASSERT_NE(seg(a, 0)->fill_iov, nullptr);
    hc_read_plan *b = begin(0, kBS);
    EXPECT_TRUE(seg(b, 0)->wait);
    child_read(a, 0);
    hc_read_fill_done(c, a, 0);
    hc_read_end(c, a);
    EXPECT_FALSE(hc_read_wait_pending(c, b, 0));
    hc_read_end(c, b);
    EXPECT_EQ(read(0, kBS), on_disk(0, kBS));
    EXPECT_EQ(child_blocks, 2u);
}

TEST_F(SingleFlight, ShrinkAndInvalidateDoNotWaitForWaiters) {
    hc_read_plan *a = begin(0, 8 * kBS);
    hc_read_plan *b = begin(0, 8 * kBS);
    ASSERT_TRUE(seg(b, 0)->wait);
    // A waiter pins nothing: invalidation and a shrink go ahead.
    EXPECT_EQ(hc_invalidate(c, 0, 8 * kBS, 0), 0);
    hc_config cfg;
    hc_get_config(c, &cfg);
    cfg.size = 16 * kBS;
    char err[128] = "";
    EXPECT_EQ(hc_reconfigure(c, &cfg, err, sizeof(err)), 0) << err;
    child_read(a, 0);
    hc_read_fill_done(c, a, 0);  // refused: invalidated meanwhile
    EXPECT_FALSE(hc_read_wait_pending(c, b, 0));
    hc_read_end(c, a);
    hc_read_end(c, b);
    EXPECT_EQ(stats().cached_blocks, 0u);
    EXPECT_EQ(read(0, 8 * kBS), on_disk(0, 8 * kBS));
}

// Threads reading one random sequence at once, waiting the way the glue
// does (here by yielding until the fill is over): every block is read
// from the child exactly once, and every byte is the disk's.  (Without
// single flight this fails only when reads overlap, which the slow child
// makes likely; the tests above fail deterministically.)
TEST(SingleFlightThreads, ManyReadersOfOneSequenceReadEachBlockOnce) {
    constexpr uint64_t kBlocks = 256;
    constexpr int kThreads = 4;
    hc_cache *c = make_cache(kBlocks, HC_MODE_WRITEBACK, HC_POLICY_LRU);
    std::vector<uint8_t> disk = pattern(kBlocks * kBS, 5);
    std::vector<std::atomic<uint32_t>> reads(kBlocks);
    std::vector<uint64_t> seq(2000);
    std::mt19937_64 rng(7);
    for (auto &b : seq) {
        b = rng() % kBlocks;
    }
    std::atomic<bool> bad{false};
    std::atomic<int> started{0};
    std::function<void(uint64_t, uint8_t *)> read_block = [&](uint64_t blk,
                                                              uint8_t *out) {
        hc_read_plan *p = nullptr;
        if (hc_read_begin(c, blk * kBS, kBS, &p) != 0) {
            bad = true;
            return;
        }
        const hc_read_seg *s = hc_read_plan_seg(p, 0);
        if (s->hit) {
            memcpy(out, s->hit, kBS);
        } else if (s->wait) {
            while (hc_read_wait_pending(c, p, 0)) {
                std::this_thread::yield();
            }
            read_block(blk, out);
        } else {
            reads[blk]++;
            for (int k = 0; k < 50; k++) {  // a child read takes a while
                std::this_thread::yield();
            }
            const uint8_t *src = disk.data() + blk * kBS;
            if (s->fill_iov) {
                memcpy(s->fill_iov[0].iov_base, src, kBS);
                hc_read_fill_done(c, p, 0);
            }
            memcpy(out, src, kBS);
        }
        hc_read_end(c, p);
    };
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; t++) {
        ts.emplace_back([&] {
            std::vector<uint8_t> buf(kBS);
            started++;
            while (started.load() < kThreads) {
                std::this_thread::yield();
            }
            for (uint64_t b : seq) {
                read_block(b, buf.data());
                if (memcmp(buf.data(), disk.data() + b * kBS, kBS)) {
                    bad = true;
                }
            }
        });
    }
    for (auto &t : ts) {
        t.join();
    }
    EXPECT_FALSE(bad);
    std::set<uint64_t> distinct(seq.begin(), seq.end());
    for (uint64_t b = 0; b < kBlocks; b++) {
        EXPECT_EQ(reads[b].load(), distinct.count(b)) << "block " << b;
    }
    hc_destroy(c);
}
