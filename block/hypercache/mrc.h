// SPDX-License-Identifier: GPL-2.0-or-later
//
// Miss-ratio-curve estimate in small fixed memory: SHARDS (Waldspurger et
// al., FAST'15).  Blocks are sampled by hash, so a sampled block is seen on
// every access; LRU stack distances among sampled blocks, scaled by the
// sampling rate, give a histogram from which the hit ratio at any cache size
// follows.  The fixed-size variant lowers the rate when more than kMaxTracked
// blocks are sampled, evicting the ones with the largest hash.
//
// Only sampled accesses take the mutex, so the hit path stays lock-free in
// the common case.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

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

private:
    uint64_t distance(uint64_t last_time);  // distinct blocks since then
    void fenwick_add(uint64_t t, int delta);
    uint64_t fenwick_sum(uint64_t t) const;  // entries with time <= t
    void compact();

    std::mutex mu_;
    uint64_t threshold_ = kHashRange;  // sample hash < threshold
    uint64_t now_ = 0;                 // logical time of sampled accesses
    std::unordered_map<uint64_t, uint64_t> last_;  // block -> last time
    std::set<std::pair<uint64_t, uint64_t>> by_hash_;
    std::vector<int32_t> fenwick_;     // live "last access" marks by time
    uint64_t base_ = 0;                // time of fenwick_[0]
    std::map<uint64_t, double> hist_;  // scaled distance -> weight
    double cold_ = 0, total_ = 0;
};

}  // namespace hypercache
