// SPDX-License-Identifier: GPL-2.0-or-later
//
// --pool: several traces replayed at once, interleaved round robin (one
// block access per member in turn; members whose trace ended drop out),
// into one memory budget shared three ways: one unified cache (the
// members' blocks kept apart by offset), a static equal split, and a
// hc_pool that rebalances the members from their miss-ratio curves every
// @interval accesses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core_replay.h"
#include "workload.h"

namespace hcsim {

struct PoolResult {
    uint64_t pool_blocks = 0;
    uint64_t accesses = 0;
    uint64_t unified_misses = 0, equal_misses = 0, pool_misses = 0;
    std::vector<uint64_t> member_misses;  // pool, per member
    std::vector<uint64_t> equal_member_misses;
    std::vector<uint64_t> shares;  // pool's final shares, blocks
    uint64_t rebalances = 0;
};

bool run_pool(const std::vector<const Workload *> &members, const CoreRun &run,
              uint64_t interval, PoolResult *res, std::string *err);

}  // namespace hcsim
