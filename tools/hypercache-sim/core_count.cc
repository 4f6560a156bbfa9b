// SPDX-License-Identifier: GPL-2.0-or-later
//
// The counting replay: one lookup per block access, reads and writes alike.
#include <chrono>

#include "core_session.h"

namespace hcsim {

bool run_core_count(const Workload &w, const CoreRun &run,
                    const std::vector<double> &factors, const ExactMrc &exact,
                    RunResult *res, std::vector<MrcPoint> *mrc,
                    std::string *err) {
    auto t0 = std::chrono::steady_clock::now();
    res->policy = hc_policy_name(run.policy);
    res->mode = "count";
    res->size_blocks = run.blocks;
    res->size_bytes = run.blocks * run.block_size;
    res->accesses = w.accesses();
    // Writes are looked up like reads here, so the write path's policy
    // (WB) does not enter: every block competes for HB as in the anchors.
    CachePtr cache = make_cache(run, HC_MODE_WRITETHROUGH, err);
    if (!cache) {
        return false;
    }
    hc_cache *c = cache.get();
    ScratchBuffer scratch;
    const uint8_t *data = scratch.get(run.block_size);
    uint64_t misses = 0;
    for (uint64_t i = 0; i < w.accesses(); i++) {
        uint64_t offset = w.block_of[w.ids[i]] * run.block_size;
        hc_read_plan *plan = nullptr;
        int r = hc_read_begin(c, offset, run.block_size, &plan);
        if (r < 0) {
            *err = "hc_read_begin failed at access " + std::to_string(i) +
                   ": " + std::to_string(r);
            return false;
        }
        size_t n = hc_read_plan_count(plan);
        for (size_t s = 0; s < n; s++) {
            const hc_read_seg *seg = hc_read_plan_seg(plan, s);
            if (!seg->hit) {
                misses += seg->len / run.block_size;
                hc_read_fill(c, plan, s, data);
            }
        }
        hc_read_end(c, plan);
    }
    res->misses = misses;
    res->miss_ratio = w.accesses() ? double(misses) / double(w.accesses()) : 0;
    fill_core_stats(c, run.block_size, res);
    for (double f : factors) {
        MrcPoint p;
        p.policy = res->policy;
        // Factors are of the cache's real size, which may be capped.
        p.size_blocks = run.cache_blocks();
        p.factor = f;
        p.estimate = hc_mrc_hit_ratio(c, f);
        p.exact = 1.0 - exact.miss_ratio(static_cast<uint64_t>(
                            f * double(run.cache_blocks()) + 1e-9));
        mrc->push_back(p);
    }
    res->elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    return true;
}

}  // namespace hcsim
