// SPDX-License-Identifier: GPL-2.0-or-later
//
// --pool replay (pool_sim.h).
#include "pool_sim.h"

#include <algorithm>
#include <functional>
#include <memory>

#include "core_session.h"

namespace hcsim {

namespace {

// One block access: hit or miss (a miss is offered for admission).
bool access(hc_cache *c, uint64_t offset, uint32_t bs, const uint8_t *data,
            bool *miss) {
    hc_read_plan *plan = nullptr;
    if (hc_read_begin(c, offset, bs, &plan) < 0) {
        return false;
    }
    *miss = false;
    for (size_t s = 0; s < hc_read_plan_count(plan); s++) {
        const hc_read_seg *seg = hc_read_plan_seg(plan, s);
        if (!seg->hit) {
            *miss = true;
            hc_read_fill(c, plan, s, data);
        }
    }
    hc_read_end(c, plan);
    return true;
}

// Round robin over the members: @fn(member, access index), and @tick
// after every access overall.
void interleave(const std::vector<const Workload *> &ws,
                const std::function<bool(size_t, uint64_t)> &fn,
                const std::function<void(uint64_t)> &tick) {
    uint64_t longest = 0, n = 0;
    for (const Workload *w : ws) {
        longest = std::max(longest, w->accesses());
    }
    for (uint64_t i = 0; i < longest; i++) {
        for (size_t m = 0; m < ws.size(); m++) {
            if (i < ws[m]->accesses()) {
                if (!fn(m, i)) {
                    return;
                }
                tick(++n);
            }
        }
    }
}

CachePtr cache_of(const CoreRun &run, uint64_t blocks, std::string *err) {
    CoreRun r = run;
    r.blocks = std::max<uint64_t>(blocks, 8);
    r.working_set = 0;
    return make_cache(r, HC_MODE_WRITETHROUGH, err);
}

}  // namespace

bool run_pool(const std::vector<const Workload *> &ws, const CoreRun &run,
              uint64_t interval, PoolResult *res, std::string *err) {
    const uint32_t bs = run.block_size;
    const size_t k = ws.size();
    ScratchBuffer scratch;
    const uint8_t *data = scratch.get(bs);
    bool ok = true;
    res->pool_blocks = run.blocks;
    res->member_misses.assign(k, 0);
    res->equal_member_misses.assign(k, 0);
    auto block = [&](size_t m, uint64_t i) {
        return ws[m]->block_of[ws[m]->ids[i]];
    };

    // Unified: one cache, members apart by the top bits of the offset.
    CachePtr uni = cache_of(run, run.blocks, err);
    if (!uni) {
        return false;
    }
    interleave(
        ws,
        [&](size_t m, uint64_t i) {
            bool miss;
            uint64_t b = block(m, i) + (uint64_t(m) << 36);
            ok = access(uni.get(), b * bs, bs, data, &miss);
            res->unified_misses += miss;
            return ok;
        },
        [&](uint64_t n) { res->accesses = n; });
    uni.reset();

    // Equal split and pool: one cache per member.
    std::vector<CachePtr> eq, pl;
    for (size_t m = 0; m < k && ok; m++) {
        eq.push_back(cache_of(run, run.blocks / k, err));
        pl.push_back(cache_of(run, run.blocks / k, err));
        ok = eq.back() && pl.back();
    }
    if (!ok) {
        return false;
    }
    interleave(
        ws,
        [&](size_t m, uint64_t i) {
            bool miss;
            ok = access(eq[m].get(), block(m, i) * bs, bs, data, &miss);
            res->equal_misses += miss;
            res->equal_member_misses[m] += miss;
            return ok;
        },
        [](uint64_t) {});

    char msg[256] = "";
    std::unique_ptr<hc_pool, void (*)(hc_pool *)> pool(
        hc_pool_create(run.blocks * bs, msg, sizeof(msg)), hc_pool_destroy);
    if (!pool) {
        *err = std::string("hc_pool_create: ") + msg;
        return false;
    }
    for (size_t m = 0; m < k; m++) {
        hc_pool_member pm{1.0, 0, 0};
        if (hc_pool_add(pool.get(), pl[m].get(), &pm, msg, sizeof(msg)) < 0) {
            *err = std::string("hc_pool_add: ") + msg;
            return false;
        }
    }
    interleave(
        ws,
        [&](size_t m, uint64_t i) {
            bool miss;
            ok = access(pl[m].get(), block(m, i) * bs, bs, data, &miss);
            res->pool_misses += miss;
            res->member_misses[m] += miss;
            return ok;
        },
        [&](uint64_t n) {
            if (n % interval == 0) {
                hc_pool_rebalance(pool.get());
                res->rebalances++;
            }
        });
    for (size_t m = 0; m < k; m++) {
        hc_stats st;
        hc_get_stats(pl[m].get(), &st);
        res->shares.push_back(st.capacity_bytes / bs);
        hc_pool_remove(pool.get(), pl[m].get());
    }
    if (!ok) {
        *err = "hc_read_begin failed";
    }
    return ok;
}

}  // namespace hcsim
