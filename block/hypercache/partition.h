// SPDX-License-Identifier: GPL-2.0-or-later
//
// Dividing a memory budget among caches from their miss-ratio curves: the
// lookahead greedy of utility-based partitioning (Qureshi and Patt, MICRO
// 2006), which Cliffhanger's hill climbing and Centaur's per-VM
// partitions approximate online.  Memory moves in units; each step gives
// the member with the highest weighted hits gained per unit, over any
// number of units it may still take, those units, so a cliff a few units
// away is seen and taken.  A member whose curve is flat (a scan) gains
// nothing and keeps its floor: it cannot push a hot set out.  Pure
// function, no locks, no caches: the pool (pool.cc) feeds it and applies
// the result.
#pragma once

#include <cstdint>
#include <vector>

namespace hypercache {

struct PartitionMember {
    uint64_t floor = 0;  // units it keeps whatever the curves say
    uint64_t limit = 0;  // units it may hold at most (>= floor)
    // Weighted hits per period with k units, for k = 0 .. total units
    // (nondecreasing is not required); empty: no curve yet, the member
    // keeps @fixed units.
    std::vector<double> utility;
    uint64_t fixed = 0;
    // Claim on the units no curve wants: the member's weighted
    // re-references per period, however far apart.  A curve only reaches
    // as far as the blocks seen so far; a member whose blocks come back
    // (a golden image read by many clients as it warms up) will want
    // more, a scan never will.
    double spread = 0;
};

// Units per member, summing to at most @total (less only when every member
// is at its limit).  Floors must sum to at most @total.  Units that no
// curve wants go to members below their limits in proportion to @spread,
// or round robin when no member has a claim.
std::vector<uint64_t> partition(uint64_t total,
                                const std::vector<PartitionMember> &members);

}  // namespace hypercache
