// SPDX-License-Identifier: GPL-2.0-or-later
//
// Statistics counters that every request bumps, striped by thread.  With
// one shared counter per statistic, two iothreads serving hits from
// different blocks would still write the same cache lines five times per
// request, and that line bouncing, not the lookup, would bound the hit
// path.  Each thread adds to its own stripe (a stripe is a few cache lines
// of its own); readers sum the stripes.  Totals are exact; a reader racing
// with writers sees some recent value, as with one relaxed atomic.
#pragma once

#include <atomic>
#include <cstdint>

namespace hypercache {

enum Stat : unsigned {
    kReadRequests,
    kReadBytes,
    kWriteRequests,
    kWriteBytes,
    kFullHits,
    kPartialHits,
    kMisses,
    kHitBlocks,
    kMissBlocks,
    kAdmissions,
    kRejections,
    kBypassed,
    kWritebackRequests,
    kWritebackBytes,
    kWritebackBlocksWritten,
    kWritebackErrors,
    kWriteErrors,
    kReadErrors,
    kFillWaits,
    kStatCount,
};

// The calling thread's stripe number, 0..kThreadStripes-1: threads are
// numbered round robin on first use, so up to kThreadStripes threads never
// share one.  The same number serves every cache in the process.
inline constexpr unsigned kThreadStripes = 8;
inline unsigned thread_stripe() {
    static std::atomic<unsigned> next{0};
    thread_local const unsigned mine =
        next.fetch_add(1, std::memory_order_relaxed) % kThreadStripes;
    return mine;
}

// A count that only holders of the tmaster mutex change, readable
// anywhere: a relaxed load and store instead of a locked read-modify-write
// (the miss path changes three of them per block).
class Gauge {
public:
    void add(uint64_t n) {
        v_.store(v_.load(std::memory_order_relaxed) + n,
                 std::memory_order_relaxed);
    }
    void sub(uint64_t n) {
        v_.store(v_.load(std::memory_order_relaxed) - n,
                 std::memory_order_relaxed);
    }
    void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }
    uint64_t load() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

class Stats {
public:
    void add(Stat s, uint64_t n = 1) {
        if (n) {
            stripes_[thread_stripe()].v[s].fetch_add(n,
                                                     std::memory_order_relaxed);
        }
    }
    uint64_t get(Stat s) const {
        uint64_t sum = 0;
        for (const Stripe &st : stripes_) {
            sum += st.v[s].load(std::memory_order_relaxed);
        }
        return sum;
    }
    void reset() {
        for (Stripe &st : stripes_) {
            for (auto &c : st.v) {
                c.store(0, std::memory_order_relaxed);
            }
        }
    }

private:
    struct alignas(64) Stripe {
        std::atomic<uint64_t> v[kStatCount] = {};
    };
    Stripe stripes_[kThreadStripes];
};

}  // namespace hypercache
