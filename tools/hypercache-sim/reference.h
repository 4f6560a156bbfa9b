// SPDX-License-Identifier: GPL-2.0-or-later
//
// Reference policies: textbook implementations of published replacement
// policies, written from the papers, that the core's policies are measured
// against (docs/POLICY.md).  They are not policies of the cache; the core's
// are.  ref-lru and ref-arc also check that the simulator counts blocks the
// way the published figures do (anchors.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "workload.h"

namespace hcsim {

struct RefResult {
    uint64_t misses = 0;
    uint64_t evictions = 0;
};

using RefFn = RefResult (*)(const Workload &w, uint64_t capacity);

struct RefPolicy {
    const char *name;
    RefFn run;
    bool oracle;  // needs the future (Belady): a floor, not a competitor
};

// Every reference, in the order reports list them.
const std::vector<RefPolicy> &reference_policies();

RefResult run_reference_lru(const Workload &w, uint64_t capacity);

// Megiddo & Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache",
// FAST'03, Fig. 4, with the adaptation step computed in real numbers.
RefResult run_reference_arc(const Workload &w, uint64_t capacity);

// Jiang & Zhang, SIGMETRICS'02 (ref_lirs.cc).
RefResult run_reference_lirs(const Workload &w, uint64_t capacity);

// Johnson & Shasha, VLDB'94, full 2Q (ref_2q.cc).
RefResult run_reference_2q(const Workload &w, uint64_t capacity);

// Einziger, Friedman & Manes, ACM ToS 2017, with Caffeine's hill-climbed
// window (ref_wtinylfu.cc).
RefResult run_reference_wtinylfu(const Workload &w, uint64_t capacity);
// The same with the window fixed at 1 % of the cache (no hill climbing), to
// compare with the fixed-window figures of anchors.md.
RefResult run_reference_wtinylfu_fixed(const Workload &w, uint64_t capacity);

// Zhang et al., "SIEVE is Simpler than LRU", NSDI'24 (ref_sieve.cc).
RefResult run_reference_sieve(const Workload &w, uint64_t capacity);

// Yang et al., "FIFO queues are all you need for cache eviction",
// SOSP'23 (ref_s3fifo.cc).
RefResult run_reference_s3fifo(const Workload &w, uint64_t capacity);

// Prototypes of an adaptive FREQ (issue 17, ref_afreq.cc): a model of the
// core's FREQ with its fixed split, and the split moved by ghost hits (ARC's
// rule) or by Caffeine's hill climber.
RefResult run_reference_freq_model(const Workload &w, uint64_t capacity);
RefResult run_reference_afreq(const Workload &w, uint64_t capacity);
RefResult run_reference_afreq_hc(const Workload &w, uint64_t capacity);
// FREQ whose probation share follows miniature simulations of candidate
// shares on a spatial sample (Waldspurger et al., ATC'17; ref_afreq_ms.cc).
RefResult run_reference_afreq_ms(const Workload &w, uint64_t capacity);

// Belady's MIN (1966), offline (ref_opt.cc).
RefResult run_reference_opt(const Workload &w, uint64_t capacity);

// Replays @w through a policy object P(distinct blocks, capacity) whose
// access(id) returns true on a hit and which counts its evictions.
template <class P>
RefResult replay_reference(const Workload &w, uint64_t capacity) {
    RefResult r;
    if (capacity == 0) {
        r.misses = w.accesses();
        return r;
    }
    P policy(w.distinct(), capacity);
    for (uint32_t x : w.ids) {
        if (!policy.access(x)) {
            r.misses++;
        }
    }
    r.evictions = policy.evictions;
    return r;
}

}  // namespace hcsim
