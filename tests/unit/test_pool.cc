// SPDX-License-Identifier: GPL-2.0-or-later
//
// Pools: the partitioning from curves (partition.h) and the pool that
// resizes real caches by it (hc_pool_*): floors, limits, weights, cliffs,
// scans that gain nothing, and shrinks that must wait for write-back.
#include <gtest/gtest.h>

#include <cerrno>
#include <numeric>
#include <random>

#include "helpers.h"
#include "partition.h"

using namespace hctest;
using hypercache::partition;
using hypercache::PartitionMember;

namespace {

constexpr uint64_t kBS = 4096;

// Utility of a member whose hot set takes @hot units and hits @rate times
// a period once it fits (a step), linear on the way.
PartitionMember hot(uint64_t total, uint64_t hot, double rate,
                    uint64_t floor = 0, uint64_t limit = 0) {
    PartitionMember m;
    m.floor = floor;
    m.limit = limit ? limit : total;
    m.utility.resize(total + 1);
    for (uint64_t k = 0; k <= total; k++) {
        m.utility[k] = rate * double(std::min(k, hot)) / double(hot);
    }
    return m;
}

PartitionMember scan(uint64_t total, uint64_t floor = 0) {
    PartitionMember m;
    m.floor = floor;
    m.limit = total;
    m.utility.assign(total + 1, 0.0);
    return m;
}

uint64_t sum(const std::vector<uint64_t> &v) {
    return std::accumulate(v.begin(), v.end(), uint64_t(0));
}

}  // namespace

TEST(Partition, HotSetGetsWhatItNeedsAndAScanTheRest) {
    auto a = partition(100, {hot(100, 70, 1000), scan(100, 5)});
    EXPECT_GE(a[0], 70u);
    EXPECT_GE(a[1], 5u);
    EXPECT_EQ(sum(a), 100u);
}

TEST(Partition, FloorsAndLimitsHold) {
    auto a = partition(100, {hot(100, 90, 1000, 0, 40), hot(100, 90, 1, 30)});
    EXPECT_EQ(a[0], 40u);
    EXPECT_EQ(a[1], 60u);
}

TEST(Partition, WeightsDecideBetweenLikeMembers) {
    // Same curves, ten times the weight (folded into the utility).
    auto a = partition(100, {hot(100, 80, 10), hot(100, 80, 100)});
    EXPECT_EQ(a[1], 80u);
    EXPECT_EQ(a[0], 20u);
}

TEST(Partition, LookaheadSeesACliff) {
    // Member 0 gains nothing until 50 units, then a lot; member 1 gains a
    // little per unit all along.  Plain greedy would feed member 1 only.
    PartitionMember cliff;
    cliff.limit = 100;
    cliff.utility.resize(101);
    for (uint64_t k = 0; k <= 100; k++) {
        cliff.utility[k] = k >= 50 ? 1000 : 0;
    }
    auto a = partition(100, {cliff, hot(100, 100, 100)});
    EXPECT_EQ(a[0], 50u);
    EXPECT_EQ(a[1], 50u);
}

TEST(Partition, MemberWithoutCurveKeepsItsShare) {
    PartitionMember blind;
    blind.limit = 100;
    blind.fixed = 30;
    auto a = partition(100, {blind, hot(100, 100, 5)});
    EXPECT_EQ(a[0], 30u);
    EXPECT_EQ(a[1], 70u);
}

TEST(Partition, UnwantedUnitsGoToMembersWhoseBlocksComeBack) {
    // A golden image warming up: its curve has seen only 10 units of
    // blocks yet, but they come back; the scans' never do.
    PartitionMember golden = hot(100, 10, 100);
    golden.spread = 50;
    auto a = partition(100, {scan(100, 2), golden, scan(100, 2)});
    EXPECT_EQ(a[0], 2u);
    EXPECT_EQ(a[1], 96u);
    EXPECT_EQ(a[2], 2u);
}

TEST(Partition, UnwantedUnitsFollowTheClaimsWithinLimits) {
    PartitionMember a3 = scan(100), b1 = scan(100), c = scan(100);
    a3.spread = 3;
    b1.spread = 1;
    b1.limit = 10;
    auto a = partition(100, {a3, b1, c});
    EXPECT_EQ(a[1], 10u);  // its limit; the rest of its claim goes to a3
    EXPECT_EQ(a[0], 90u);
    EXPECT_EQ(a[2], 0u);
    EXPECT_EQ(sum(a), 100u);
}

namespace {

struct Pool : ::testing::Test {
    std::vector<uint8_t> disk = pattern(64 << 20, 3);
    hc_pool *p = nullptr;
    std::vector<hc_cache *> cs;
    void TearDown() override {
        for (hc_cache *c : cs) {
            if (p) {
                hc_pool_remove(p, c);
            }
            hc_destroy(c);
        }
        hc_pool_destroy(p);
    }
    uint64_t cap(hc_cache *c) {
        hc_stats s;
        hc_get_stats(c, &s);
        return s.capacity_bytes;
    }
    hc_cache *member(hc_pool_member m = {1, 0, 0}) {
        hc_cache *c = make_cache(64, HC_MODE_WRITEBACK, HC_POLICY_LRU);
        char err[128] = "";
        EXPECT_EQ(hc_pool_add(p, c, &m, err, sizeof(err)), 0) << err;
        cs.push_back(c);
        return c;
    }
};

}  // namespace

TEST_F(Pool, BadValuesAreRefusedByName) {
    char err[128] = "";
    EXPECT_EQ(hc_pool_create(100, err, sizeof(err)), nullptr);
    EXPECT_NE(std::string(err).find("size"), std::string::npos) << err;
    p = hc_pool_create(1024 * kBS, err, sizeof(err));
    ASSERT_NE(p, nullptr);
    hc_cache *c = make_cache(64);
    cs.push_back(c);
    hc_pool_member m{0, 0, 0};
    EXPECT_EQ(hc_pool_add(p, c, &m, err, sizeof(err)), -EINVAL);
    EXPECT_NE(std::string(err).find("weight"), std::string::npos) << err;
    m = {1, 100 * kBS, 10 * kBS};
    EXPECT_EQ(hc_pool_add(p, c, &m, err, sizeof(err)), -EINVAL);
    EXPECT_NE(std::string(err).find("limit"), std::string::npos) << err;
    m = {1, 2048 * kBS, 0};
    EXPECT_EQ(hc_pool_add(p, c, &m, err, sizeof(err)), -EINVAL);
    EXPECT_NE(std::string(err).find("reserve"), std::string::npos) << err;
    m = {1, 0, 0};
    EXPECT_EQ(hc_pool_add(p, c, &m, err, sizeof(err)), 0) << err;
    EXPECT_EQ(hc_pool_add(p, c, &m, err, sizeof(err)), -EINVAL);
    EXPECT_EQ(hc_pool_set_size(p, 4 * kBS, err, sizeof(err)), -EINVAL);
    EXPECT_EQ(hc_pool_remove(p, c), 0);
    EXPECT_EQ(hc_pool_remove(p, c), -ENOENT);
}

TEST_F(Pool, StartsEquallySplitAndNeverExceedsItsSize) {
    p = hc_pool_create(1024 * kBS, nullptr, 0);
    hc_cache *a = member(), *b = member();
    EXPECT_EQ(cap(a), 512 * kBS);
    EXPECT_EQ(cap(b), 512 * kBS);
    hc_cache *c = member();
    EXPECT_LE(cap(a) + cap(b) + cap(c), 1024 * kBS);
    EXPECT_GE(cap(c), 320 * kBS);
}

TEST_F(Pool, HotSetWinsOverAScan) {
    p = hc_pool_create(1024 * kBS, nullptr, 0);
    hc_cache *h = member(), *s = member({1, 64 * kBS, 0});
    // 700 hot blocks re-read; the scanner never comes back.
    uint64_t next = 0;
    for (int round = 0; round < 6; round++) {
        for (uint64_t b = 0; b < 700; b++) {
            read_through(h, disk, b * kBS, kBS);
        }
        for (int k = 0; k < 2000; k++) {
            read_through(s, disk, (next++ % 16000) * kBS, kBS);
        }
        ASSERT_GE(hc_pool_rebalance(p), 0);
    }
    EXPECT_GE(cap(h), 700 * kBS);
    EXPECT_GE(cap(s), 64 * kBS) << "reserve";
    EXPECT_LE(cap(h) + cap(s), 1024 * kBS);
    // And the hot set now hits.
    hc_stats before, after;
    hc_get_stats(h, &before);
    for (uint64_t b = 0; b < 700; b++) {
        read_through(h, disk, b * kBS, kBS);
    }
    hc_get_stats(h, &after);
    EXPECT_GE(after.hit_blocks - before.hit_blocks, 650u);
}

TEST_F(Pool, MemberWithoutCurveGivesUpWhatItDoesNotHold) {
    p = hc_pool_create(1024 * kBS, nullptr, 0);
    hc_cache *h = member(), *q = member();
    ASSERT_EQ(cap(q), 512 * kBS);
    // q reads 40 blocks between rebalances: far too few for a curve
    // (256 samples at 1/16), so it keeps what it holds and a unit.
    for (int round = 0; round < 4; round++) {
        for (uint64_t b = 0; b < 900; b++) {
            read_through(h, disk, b * kBS, kBS);
        }
        for (uint64_t b = 0; b < 40; b++) {
            read_through(q, disk, (8000 + round * 40 + b) * kBS, kBS);
        }
        ASSERT_GE(hc_pool_rebalance(p), 0);
    }
    EXPECT_LT(hc_mrc_hit_ratio(q, 1.0), 0) << "q has a curve after all";
    EXPECT_LE(cap(q), 160 * kBS + 2 * 8 * kBS);
    EXPECT_GE(cap(h), 900 * kBS);
    EXPECT_LE(cap(h) + cap(q), 1024 * kBS);
}

TEST_F(Pool, ShrinkWaitsForWriteBackAndLosesNothing) {
    p = hc_pool_create(1024 * kBS, nullptr, 0);
    hc_cache *d = member(), *h = member();
    std::vector<uint8_t> data = pattern(400 * kBS, 9);
    ASSERT_EQ(write_to(d, disk, 0, data), HC_WRITE_DONE);
    // h's hot set wants nearly everything; d's dirty blocks hold it back.
    for (int round = 0; round < 4; round++) {
        for (uint64_t b = 0; b < 900; b++) {
            read_through(h, disk, (4096 + b) * kBS, kBS);
        }
        hc_pool_rebalance(p);
    }
    EXPECT_GE(cap(d), 400 * kBS) << "dirty data kept its room";
    EXPECT_LE(cap(d) + cap(h), 1024 * kBS);
    flush_all(d, disk);
    EXPECT_EQ(std::vector<uint8_t>(disk.begin(), disk.begin() + 400 * kBS),
              data);
    for (uint64_t b = 0; b < 900; b++) {
        read_through(h, disk, (4096 + b) * kBS, kBS);
    }
    EXPECT_EQ(hc_pool_rebalance(p), 0);
    EXPECT_GE(cap(h), 900 * kBS);
    EXPECT_LE(cap(d) + cap(h), 1024 * kBS);
}
