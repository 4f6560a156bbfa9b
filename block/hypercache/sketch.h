// SPDX-License-Identifier: GPL-2.0-or-later
//
// Frequency estimates for blocks whether cached or not: a count-min sketch
// of 4-bit counters with periodic halving ("aging"), so the paper's access
// frequency reflects the recent past and not all of history.
//
// All four counters of a block sit in one 64-bit word, so recording an
// access is a single atomic read-modify-write and needs no lock: iothreads
// record on every lookup.  A lost update under a race only makes one count
// low, which a frequency estimate tolerates.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "stats.h"
#include "util.h"

namespace hypercache {

class FrequencyEstimator {
public:
    virtual ~FrequencyEstimator() = default;
    virtual void record(uint64_t block) = 0;
    virtual uint32_t estimate(uint64_t block) const = 0;
    // Re-size for a cache of @capacity blocks (forgets history).
    virtual void resize(uint32_t capacity) = 0;
    virtual size_t metadata_bytes() const = 0;
};

class CountMinSketch final : public FrequencyEstimator {
public:
    explicit CountMinSketch(uint32_t capacity);
    void record(uint64_t block) override;
    uint32_t estimate(uint64_t block) const override;
    // Start loading @block's counters for a record() a little later.
    void prefetch(uint64_t block) const {
        __builtin_prefetch(&words_[hash(block) & (nwords_ - 1)]);
    }
    void resize(uint32_t capacity) override;
    size_t metadata_bytes() const override { return nwords_ * 8; }

    static constexpr uint32_t kMax = 15;

private:
    static uint64_t hash(uint64_t block) { return mix64(block ^ 0x5bd1e995u); }
    void age();

    std::unique_ptr<std::atomic<uint64_t>[]> words_;
    uint64_t nwords_ = 0;
    uint64_t sample_limit_ = 0;  // halve all counters after this many records
    // Records are counted per thread and moved to samples_ a batch at a
    // time, so the hit path of several iothreads does not share one hot
    // counter.  The batch divides sample_limit_ / 2: aging happens after
    // exactly as many records as with one counter.
    struct alignas(64) Pending {
        std::atomic<uint64_t> n{0};
    };
    Pending pending_[kThreadStripes];
    uint64_t batch_ = 1;
    std::atomic<uint64_t> samples_{0};
};

}  // namespace hypercache
