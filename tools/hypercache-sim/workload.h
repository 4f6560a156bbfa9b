// SPDX-License-Identifier: GPL-2.0-or-later
//
// A trace cut into block accesses, the unit every miss ratio counts
// (traces/README.md: each block a request touches is one access).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trace.h"

namespace hcsim {

struct Workload {
    uint32_t block_size = 4096;
    // One entry per block access, in trace order.  Blocks are renumbered
    // densely (0 .. distinct-1) in order of first use so the reference
    // policies can index arrays instead of hashing.
    std::vector<uint32_t> ids;
    std::vector<uint8_t> is_write;
    // id -> the block's number on the disk (byte offset / block_size).
    std::vector<uint64_t> block_of;
    uint64_t read_accesses = 0;
    uint64_t write_accesses = 0;

    uint64_t accesses() const { return ids.size(); }
    uint64_t distinct() const { return block_of.size(); }
};

// @reads_only drops write requests entirely (the anchors' "reads only" rows).
// Fails (with *err naming the request) rather than exhaust memory on a trace
// whose requests span absurd lengths.
bool build_workload(const std::vector<Request> &reqs, uint32_t block_size,
                    bool reads_only, Workload *w, std::string *err);

}  // namespace hcsim
