// SPDX-License-Identifier: GPL-2.0-or-later
//
// Lookahead greedy partitioning (partition.h).
#include "partition.h"

#include <algorithm>
#include <cmath>

namespace hypercache {

namespace {

// Utility of @m at @k units: past the sampled curve it stays flat.
double utility(const PartitionMember &m, uint64_t k) {
    if (m.utility.empty()) {
        return 0;
    }
    return m.utility[std::min<uint64_t>(k, m.utility.size() - 1)];
}

// Hands out @left units in proportion to the members' spread claims,
// within their caps; a capped member's surplus goes round again.
void spread_by_claim(const std::vector<PartitionMember> &members,
                     const std::vector<uint64_t> &cap,
                     std::vector<uint64_t> &alloc, uint64_t &left) {
    while (left > 0) {
        double claims = 0;
        for (size_t i = 0; i < members.size(); i++) {
            if (alloc[i] < cap[i] && members[i].spread > 0) {
                claims += members[i].spread;
            }
        }
        if (!(claims > 0)) {
            return;
        }
        uint64_t given = 0;
        uint64_t pot = left;
        for (size_t i = 0; i < members.size() && left > 0; i++) {
            if (alloc[i] >= cap[i] || !(members[i].spread > 0)) {
                continue;
            }
            // Rounded up, so every claimant gets a unit and the loop ends.
            auto share =
                uint64_t(std::ceil(double(pot) * members[i].spread / claims));
            share = std::min({share, cap[i] - alloc[i], left});
            alloc[i] += share;
            left -= share;
            given += share;
        }
        if (given == 0) {
            return;
        }
    }
}

}  // namespace

std::vector<uint64_t> partition(uint64_t total,
                                const std::vector<PartitionMember> &members) {
    size_t n = members.size();
    std::vector<uint64_t> alloc(n);
    std::vector<uint64_t> cap(n);
    uint64_t used = 0;
    for (size_t i = 0; i < n; i++) {
        const PartitionMember &m = members[i];
        cap[i] = std::max(m.limit, m.floor);
        alloc[i] = m.floor;
        if (m.utility.empty()) {  // no curve: stays where it is
            alloc[i] = std::clamp(m.fixed, m.floor, cap[i]);
            cap[i] = alloc[i];
        }
        used += alloc[i];
    }
    uint64_t left = total > used ? total - used : 0;
    // Greedy on the best gain per unit over every reachable step.
    while (left > 0) {
        size_t best = n;
        uint64_t best_k = 0;
        double best_rate = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t room = std::min(left, cap[i] - alloc[i]);
            double base = utility(members[i], alloc[i]);
            for (uint64_t k = 1; k <= room; k++) {
                double rate = (utility(members[i], alloc[i] + k) - base) / k;
                if (rate > best_rate * (1 + 1e-12) + 1e-15) {
                    best = i;
                    best_k = k;
                    best_rate = rate;
                }
            }
        }
        if (best == n) {
            break;
        }
        alloc[best] += best_k;
        left -= best_k;
    }
    // Nobody gains from the rest: give it to those whose blocks come back,
    // then spread what is still left, so no memory lies idle.
    spread_by_claim(members, cap, alloc, left);
    for (bool gave = true; left > 0 && gave;) {
        gave = false;
        for (size_t i = 0; i < n && left > 0; i++) {
            if (alloc[i] < cap[i]) {
                alloc[i]++;
                left--;
                gave = true;
            }
        }
    }
    return alloc;
}

}  // namespace hypercache
