// SPDX-License-Identifier: GPL-2.0-or-later
//
// The core's building blocks on their own: tbuf, tindx, ghost, sketch,
// sequential detector, dirty tracker, SHARDS estimator, policies.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <set>

#include "dirty.h"
#include "ghost.h"
#include "inflight.h"
#include "mrc.h"
#include "policy.h"
#include "seqcutoff.h"
#include "sketch.h"
#include "tbuf.h"
#include "tindx.h"
#include "util.h"

using namespace hypercache;

TEST(Tbuf, AlignedZeroedSlotsAndFreeList) {
    Tbuf tb(4096, 4096);
    ASSERT_TRUE(tb.resize(16));
    std::set<uint32_t> got;
    uint32_t s;
    while (tb.alloc(&s)) {
        got.insert(s);
        auto p = reinterpret_cast<uintptr_t>(tb.ptr(s));
        EXPECT_EQ(p % 4096, 0u);
        for (int i = 0; i < 4096; i++) {
            ASSERT_EQ(tb.ptr(s)[i], 0);  // fresh memory is zeroes
        }
    }
    EXPECT_EQ(got.size(), 16u);
    EXPECT_EQ(tb.free_count(), 0u);
    tb.release(3);
    EXPECT_TRUE(tb.alloc(&s));
    EXPECT_EQ(s, 3u);
}

TEST(Tbuf, CoarseAlignmentAndResize) {
    Tbuf tb(512, 1 << 16);
    ASSERT_TRUE(tb.resize(10));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(tb.ptr(0)) % (1 << 16), 0u);
    memset(tb.ptr(9), 0xab, 512);
    ASSERT_TRUE(tb.resize(100));  // grow: old slots keep their memory
    EXPECT_EQ(tb.ptr(9)[511], 0xab);
    EXPECT_EQ(tb.nslots(), 100u);
    EXPECT_EQ(tb.free_count(), 100u);
    ASSERT_TRUE(tb.resize(5));
    EXPECT_EQ(tb.nslots(), 5u);
    EXPECT_EQ(tb.free_count(), 5u);
    EXPECT_EQ(tb.ptr(7), nullptr);
}

TEST(Tindx, FindLinkUnlinkAcrossGrowth) {
    Tindx tx(4);
    tx.reserve(64);
    std::vector<uint32_t> es;
    for (uint64_t b = 0; b < 64; b++) {
        uint32_t e = tx.alloc_entry();
        ASSERT_NE(e, kNil);
        tx.at(e).block = b * 7919;
        tx.at(e).slot = uint32_t(b);
        auto &sh = tx.shard_of(b * 7919);
        tx.link(sh, e);
        es.push_back(e);
    }
    EXPECT_EQ(tx.alloc_entry(), kNil);
    tx.reserve(1000);  // rehash keeps every entry findable
    for (uint64_t b = 0; b < 64; b++) {
        auto &sh = tx.shard_of(b * 7919);
        EXPECT_EQ(tx.find(sh, b * 7919), es[b]);
    }
    auto &sh = tx.shard_of(5 * 7919);
    tx.unlink(sh, es[5]);
    EXPECT_EQ(tx.find(sh, 5 * 7919), kNil);
    EXPECT_EQ(tx.find(tx.shard_of(6 * 7919), 6 * 7919), es[6]);
    EXPECT_LE(sizeof(Entry), 32u);
}

TEST(Ghost, RemembersTheMostRecentInFifoOrder) {
    Ghost g(100);
    for (uint64_t b = 0; b < 1000; b++) {
        g.insert(b);
    }
    for (uint64_t b = 900; b < 1000; b++) {
        EXPECT_TRUE(g.contains(b)) << b;
    }
    int stale = 0;
    for (uint64_t b = 0; b < 900; b++) {
        stale += g.contains(b);
    }
    EXPECT_EQ(stale, 0);
    // Known blocks keep their place: re-inserting 900 does not make it
    // outlive the 100 blocks inserted after it.
    g.insert(900);
    g.insert(5000);
    EXPECT_FALSE(g.contains(900));
    EXPECT_TRUE(g.contains(901));
    EXPECT_TRUE(g.contains(5000));
}

// Against a reference FIFO, with the table crowded and deletions shifting
// entries back across the table's wrap-around.
TEST(Ghost, MatchesReferenceFifo) {
    constexpr uint32_t kCap = 97;
    Ghost g(kCap);
    std::deque<uint64_t> fifo;
    std::set<uint64_t> in;
    std::mt19937_64 rng(3);
    for (int step = 0; step < 200000; step++) {
        uint64_t b = rng() % 400;
        if (!in.count(b)) {
            if (fifo.size() == kCap) {
                in.erase(fifo.front());
                fifo.pop_front();
            }
            fifo.push_back(b);
            in.insert(b);
        }
        g.insert(b);
        uint64_t q = rng() % 400;
        ASSERT_EQ(g.contains(q), in.count(q) == 1) << "step " << step;
    }
}

// Blocks chosen to share a home bucket (the ghost's fingerprint is the
// top half of mix64), so buckets fill, pass fingerprints on, and must
// forget them again exactly when the FIFO does.
TEST(Ghost, OverflowingBucketsStayExact) {
    constexpr uint32_t kCap = 97;  // 256 words: 16 buckets of 16
    std::vector<uint64_t> same, other;
    for (uint64_t b = 0; same.size() < 60 || other.size() < 200; b++) {
        uint32_t home = uint32_t(mix64(b) >> 32) & 15;
        (home == 3 ? same : other).push_back(b);
    }
    Ghost g(kCap);
    std::deque<uint64_t> fifo;
    std::set<uint64_t> in;
    std::mt19937_64 rng(8);
    for (int step = 0; step < 100000; step++) {
        uint64_t b = rng() % 3 ? same[rng() % 60] : other[rng() % 200];
        if (!in.count(b)) {
            if (fifo.size() == kCap) {
                in.erase(fifo.front());
                fifo.pop_front();
            }
            fifo.push_back(b);
            in.insert(b);
        }
        g.insert(b);
        uint64_t q = rng() % 2 ? same[rng() % 60] : other[rng() % 200];
        ASSERT_EQ(g.contains(q), in.count(q) == 1) << "step " << step;
    }
}

// Against a std::map, with up to a few hundred fills out at once (so the
// flat table grows, its runs collide and deletions shift entries back
// across the wrap-around), ids that must match to remove, and the table
// emptied and reused.
TEST(InflightFills, MatchesReferenceMap) {
    InflightFills f;
    std::map<uint64_t, uint64_t> ref;
    std::mt19937_64 rng(5);
    for (int step = 0; step < 300000; step++) {
        uint64_t b = rng() % 1000;
        uint64_t r = rng() % 8;
        size_t limit = step < 200000 ? 400 : 0;  // drain at the end
        if (r < 4 && ref.size() < limit) {
            uint64_t id = f.next_id();
            f.add(b, id);
            ref.emplace(b, id);  // the first id stays, as in add()
        } else if (r < 7 && !ref.empty()) {
            auto it = ref.lower_bound(b);
            if (it == ref.end()) {
                it = ref.begin();
            }
            // Another plan's id must not end the fill.
            f.remove(it->first, it->second + 1);
            ASSERT_EQ(f.owner(it->first), it->second) << "step " << step;
            f.remove(it->first, it->second);
            ref.erase(it);
        } else {
            f.remove(b, 0);  // id 0: nothing
        }
        ASSERT_EQ(f.size(), ref.size()) << "step " << step;
        uint64_t q = rng() % 1000;
        auto it = ref.find(q);
        ASSERT_EQ(f.owner(q), it == ref.end() ? 0 : it->second)
            << "step " << step;
        if (it != ref.end()) {
            ASSERT_TRUE(f.pending(q, it->second));
        }
    }
    EXPECT_EQ(f.size(), 0u);
}

TEST(Sketch, CountsAndAges) {
    CountMinSketch s(1024);
    for (int i = 0; i < 5; i++) {
        s.record(42);
    }
    EXPECT_GE(s.estimate(42), 5u);
    EXPECT_LE(s.estimate(42), 6u);
    EXPECT_LE(s.estimate(43), 1u);
    for (int i = 0; i < 100; i++) {
        s.record(7);
    }
    EXPECT_EQ(s.estimate(7), CountMinSketch::kMax);  // saturates
    // Ten accesses per cached block later, old counts have halved.
    for (uint64_t i = 0; i < 10240; i++) {
        s.record(1000000 + i);
    }
    EXPECT_LE(s.estimate(7), 8u);
}

TEST(SeqDetector, LongStreamsBypass) {
    SeqDetector d;
    uint64_t off = 0;
    int bypassed = 0;
    for (int i = 0; i < 64; i++) {
        bypassed += d.observe(off, 65536, 1 << 20);
        off += 65536;
    }
    EXPECT_EQ(bypassed, 64 - 16);
    EXPECT_FALSE(d.observe(1ULL << 40, 4096, 1 << 20));
    EXPECT_FALSE(d.observe(0, 1 << 30, 0));  // cutoff 0: never
}

TEST(DirtyTracker, PendingAndAges) {
    DirtyTracker d;
    d.checkpoint(0, 100);
    d.mark(10, 1, 0);
    d.mark(11, 1, 1);
    d.checkpoint(1, 200);
    d.mark(5, 2, 2);
    d.checkpoint(2, 300);
    EXPECT_EQ(d.pending(0), 0u);
    EXPECT_EQ(d.pending(1), 2u);
    EXPECT_EQ(d.pending(2), 3u);
    EXPECT_FALSE(d.oldest_older_than(250, 100));
    EXPECT_TRUE(d.oldest_older_than(300, 100));
    EXPECT_EQ(d.seq_older_than(300, 100), 1u);
    d.clear(10);
    d.clear(11);
    EXPECT_EQ(d.pending(2), 1u);
    EXPECT_EQ(d.blocks().begin()->first, 5u);
}

TEST(Mrc, PredictsLruOnALoop) {
    // A loop over 1000 blocks: LRU hits everything at >= 1000 blocks and
    // nothing below.
    MrcEstimator m;
    for (int r = 0; r < 50; r++) {
        for (uint64_t b = 0; b < 1000; b++) {
            m.record(b);
        }
    }
    EXPECT_GT(m.hit_ratio(1100), 0.9);
    EXPECT_LT(m.hit_ratio(800), 0.1);
    MrcEstimator empty;
    EXPECT_LT(empty.hit_ratio(10), 0);
}

namespace {

// Drive a policy with a tiny fake cache: every entry is evictable.
struct PolicyRig {
    Tindx tx{1};
    std::unique_ptr<EvictionPolicy> pol;
    std::set<uint64_t> cached;
    std::unique_ptr<CountMinSketch> sketch;
    uint32_t cap;
    explicit PolicyRig(uint32_t c, int kind) : cap(c) {
        tx.reserve(c + 1);
        sketch = std::make_unique<CountMinSketch>(c);
        QueueParams p;
        pol = kind == 0 ? make_lru_policy(c) : make_queue_policy(c, p, nullptr);
    }
    bool access(uint64_t b) {
        auto &sh = tx.shard_of(b);
        uint32_t e = tx.find(sh, b);
        if (e != kNil) {
            pol->touch(tx, e);
            return true;
        }
        if (cached.size() == cap) {
            uint32_t victim = kNil;
            auto fn = [&](uint32_t v) {
                tx.unlink(tx.shard_of(tx.at(v).block), v);
                victim = v;
                return true;
            };
            EXPECT_TRUE(pol->evict_one(tx, EvictFn(fn)));
            cached.erase(tx.at(victim).block);
            tx.free_entry(victim);
        }
        e = tx.alloc_entry();
        tx.at(e).block = b;
        tx.at(e).slot = 0;
        tx.link(sh, e);
        pol->insert(tx, e);
        cached.insert(b);
        return false;
    }
};

}  // namespace

TEST(Policy, LruEvictsLeastRecent) {
    PolicyRig r(3, 0);
    r.access(1);
    r.access(2);
    r.access(3);
    r.access(1);  // 2 is now least recent
    r.access(4);
    EXPECT_FALSE(r.cached.count(2));
    EXPECT_TRUE(r.cached.count(1));
}

TEST(Policy, QueueIsScanResistant) {
    PolicyRig r(100, 1);
    for (int rep = 0; rep < 5; rep++) {
        for (uint64_t b = 0; b < 50; b++) {
            r.access(b);  // a hot set, hit repeatedly
        }
    }
    for (uint64_t b = 1000; b < 11000; b++) {
        r.access(b);  // a long scan, each block once
    }
    int hot = 0;
    for (uint64_t b = 0; b < 50; b++) {
        hot += r.access(b);
    }
    EXPECT_GE(hot, 45);
}
