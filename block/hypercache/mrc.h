// SPDX-License-Identifier: GPL-2.0-or-later
//
// Miss-ratio-curve estimate in small fixed memory: SHARDS (Waldspurger et
// al., FAST'15).  Blocks are sampled by hash, so a sampled block is seen on
// every access; LRU stack distances among sampled blocks, scaled by the
// sampling rate, give a histogram from which the hit ratio at any cache size
// follows.  The fixed-size variant lowers the rate when more than kMaxTracked
// blocks are sampled, evicting the ones with the largest hash.
//
// Unsampled accesses cost one hash; sampled ones are queued per thread and
// replayed under the mutex a batch at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

#include "stats.h"

namespace hypercache {

class MrcEstimator {
public:
    void record(uint64_t block);
    // Predicted LRU hit ratio for a cache of @blocks blocks; < 0 when too
    // few accesses were sampled.
    double hit_ratio(double blocks);
    void reset();
    size_t metadata_bytes() const;

    static constexpr uint32_t kMaxTracked = 4096;
    static constexpr uint64_t kHashRange = uint64_t(1) << 24;
    // Sample at most one block in 16, even when fewer blocks are seen than
    // kMaxTracked: every sample costs a hash-map lookup and two tree walks
    // under the mutex, too much for every hit in a small hot set.  Waldspurger
    // et al. report errors below 0.01 already at a rate of 0.001.
    static constexpr uint64_t kMaxThreshold = kHashRange / 16;

private:
    uint64_t distance(uint64_t last_time);  // distinct blocks since then
    void replay(uint64_t block);            // one sampled access, under mu_
    void drain_batches();
    void fenwick_add(uint64_t t, int delta);
    uint64_t fenwick_sum(uint64_t t) const;  // entries with time <= t
    void compact();

    static constexpr uint32_t kBatch = 32;
    struct alignas(64) Batch {
        std::mutex mu;
        uint32_t n = 0;
        uint64_t blocks[kBatch];
    };
    Batch batches_[kThreadStripes];

    std::mutex mu_;
    std::atomic<uint64_t> threshold_{kMaxThreshold};  // sample hash < threshold
    uint64_t now_ = 0;  // logical time of sampled accesses
    std::unordered_map<uint64_t, uint64_t> last_;  // block -> last time
    std::set<std::pair<uint64_t, uint64_t>> by_hash_;
    std::vector<int32_t> fenwick_;     // live "last access" marks by time
    uint64_t base_ = 0;                // time of fenwick_[0]
    std::map<uint64_t, double> hist_;  // scaled distance -> weight
    double cold_ = 0, total_ = 0;
};

}  // namespace hypercache
