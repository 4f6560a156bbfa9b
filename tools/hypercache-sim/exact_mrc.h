// SPDX-License-Identifier: GPL-2.0-or-later
//
// The exact LRU miss-ratio curve from reuse (stack) distances, computed in
// one pass (Bennett & Kruskal's method with a Fenwick tree): the yardstick
// for the core's sampled SHARDS estimate.
#pragma once

#include <cstdint>
#include <vector>

#include "workload.h"

namespace hcsim {

class ExactMrc {
public:
    explicit ExactMrc(const Workload &w);

    // LRU miss ratio with room for @blocks blocks.
    double miss_ratio(uint64_t blocks) const;
    uint64_t hits(uint64_t blocks) const;
    uint64_t accesses() const { return accesses_; }

private:
    // hits_le_[d] = accesses whose reuse distance is <= d, i.e. the hits of
    // an LRU cache of d + 1 blocks.
    std::vector<uint64_t> hits_le_;
    uint64_t accesses_ = 0;
};

}  // namespace hcsim
