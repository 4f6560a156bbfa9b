// SPDX-License-Identifier: GPL-2.0-or-later
//
// A cache pool: one memory budget for several caches (members), each
// keeping its own index and policy.  Every rebalance reads each member's
// miss-ratio curve (SHARDS, mrc.h) and its accesses since the last
// rebalance, weighs them, divides the budget (partition.h) and resizes the
// members through hc_reconfigure(): shrinks first, then grows into what
// the shrinks freed, so the pool never holds more than its size.  A
// member that cannot shrink now (dirty or pinned data above its new
// share) keeps its size and is counted as pending: the caller writes back
// and rebalances again.  Dirty data is never dropped.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <mutex>
#include <vector>

#include "block/hypercache-core.h"
#include "partition.h"
#include "util.h"

using namespace hypercache;

namespace {

// Memory moves in units of 1/kUnits of the pool (at least a block).
constexpr uint64_t kUnits = 128;

// A size factor past any reuse distance a curve can hold.
constexpr double kInfinity = 1e18;

// A curve is trusted to within 10 % of the size it names: SHARDS samples
// (1/16 of the blocks or fewer) place a cliff that much off, and the
// member's own policy is not the LRU the curve models.  A loop that fits
// only just thrashes as soon as a rebalance cuts it below its length, so
// each member is credited at k units with the hits of k / kMargin.
constexpr double kMargin = 1.1;

// What hc_pool_add() and hc_pool_set_member() refuse before looking at
// the other members.
int check_member(const hc_pool_member *m, char *err, size_t errlen) {
    if (!(m->weight > 0) || !std::isfinite(m->weight)) {
        return fail(err, errlen, "weight must be a positive number");
    }
    if (m->limit && m->limit < m->reserve) {
        return fail(err, errlen, "limit must not be below reserve (%llu bytes)",
                    (unsigned long long)m->reserve);
    }
    return 0;
}

}  // namespace

struct hc_pool {
    struct Member {
        hc_cache *c;
        hc_pool_member cfg;
        uint32_t block_size;
        uint64_t last_accesses;
    };
    std::mutex mu;
    uint64_t size;
    std::vector<Member> members;

    uint64_t unit() const {
        uint64_t bs = 512;
        for (const Member &m : members) {
            bs = std::max<uint64_t>(bs, m.block_size);
        }
        return std::max(bs, size / kUnits / bs * bs);
    }
    uint64_t min_bytes(const Member &m) const {
        return std::max<uint64_t>(m.cfg.reserve, 8ULL * m.block_size);
    }
    // Whether the floors of @ms fit @sz.
    bool fits(const std::vector<Member> &ms, uint64_t sz) const {
        uint64_t floors = 0;
        for (const Member &m : ms) {
            floors += min_bytes(m);
        }
        return floors <= sz;
    }
    int resize(Member &m, uint64_t bytes) {
        hc_config cfg;
        hc_get_config(m.c, &cfg);
        uint64_t want = std::max<uint64_t>(bytes / m.block_size * m.block_size,
                                           8ULL * m.block_size);
        if (capacity(m) == want) {
            return 0;
        }
        cfg.size = want;
        return hc_reconfigure(m.c, &cfg, nullptr, 0);
    }
    static uint64_t capacity(const Member &m) {
        hc_stats st;
        hc_get_stats(m.c, &st);
        return st.capacity_bytes;
    }
    int apply(const std::vector<uint64_t> &target);
    int rebalance();
    int split_equally();
};

// Shrinks first, then grows within what is free.
int hc_pool::apply(const std::vector<uint64_t> &target) {
    int pending = 0;
    for (size_t i = 0; i < members.size(); i++) {
        Member &m = members[i];
        if (target[i] >= capacity(m) || resize(m, target[i]) == 0) {
            continue;
        }
        // Dirty or pinned data does not fit: shrink as far as the dirty
        // data allows now, the rest after write-back.
        pending++;
        hc_stats st;
        hc_get_stats(m.c, &st);
        uint64_t keep = st.dirty_bytes + 8ULL * m.block_size;
        if (keep < capacity(m)) {
            resize(m, keep);
        }
    }
    uint64_t used = 0;
    for (const Member &m : members) {
        used += capacity(m);
    }
    uint64_t free = size > used ? size - used : 0;
    for (size_t i = 0; i < members.size(); i++) {
        uint64_t cur = capacity(members[i]);
        if (target[i] <= cur) {
            continue;
        }
        uint64_t grow = std::min(target[i] - cur, free);
        grow = grow / members[i].block_size * members[i].block_size;
        if (grow && resize(members[i], cur + grow) == 0) {
            free -= capacity(members[i]) - cur;
        }
    }
    return pending;
}

// The static split the pool starts from: equal shares within floors and
// limits.
int hc_pool::split_equally() {
    std::vector<PartitionMember> pm(members.size());
    uint64_t u = unit();
    for (size_t i = 0; i < members.size(); i++) {
        const Member &m = members[i];
        pm[i].floor = (min_bytes(m) + u - 1) / u;
        pm[i].limit =
            m.cfg.limit ? std::max(m.cfg.limit / u, pm[i].floor) : size / u;
        pm[i].utility = {0};  // flat: only the round robin spreads
    }
    std::vector<uint64_t> units = partition(size / u, pm);
    std::vector<uint64_t> target(units.size());
    for (size_t i = 0; i < units.size(); i++) {
        target[i] = units[i] * u;
    }
    return apply(target);
}

int hc_pool::rebalance() {
    uint64_t u = unit();
    uint64_t total = size / u;
    std::vector<PartitionMember> pm(members.size());
    for (size_t i = 0; i < members.size(); i++) {
        Member &m = members[i];
        hc_stats st;
        hc_get_stats(m.c, &st);
        uint64_t acc = st.hit_blocks + st.miss_blocks;
        double rate = acc >= m.last_accesses ? double(acc - m.last_accesses)
                                             : double(acc);
        m.last_accesses = acc;
        PartitionMember &p = pm[i];
        p.floor = (min_bytes(m) + u - 1) / u;
        p.limit = m.cfg.limit ? std::max(m.cfg.limit / u, p.floor) : total;
        p.fixed = st.capacity_bytes / u;
        p.utility.assign(total + 1, 0.0);
        if (rate == 0) {
            continue;  // idle: gains nothing from memory
        }
        if (st.capacity_bytes == 0 || hc_mrc_hit_ratio(m.c, 1.0) < 0) {
            // Busy, but no curve yet: it keeps what it holds and a unit
            // to grow in, not memory it has not used.  A VM's overlay
            // that takes a few writes while a boot storm reads the
            // golden image would otherwise sit on its equal share.
            uint64_t held = st.cached_blocks * m.block_size;
            p.fixed = std::min(p.fixed, (held + u - 1) / u + 1);
            p.utility.clear();
            continue;
        }
        for (uint64_t k = 1; k <= total; k++) {
            double h = hc_mrc_hit_ratio(
                m.c, double(k * u) / kMargin / double(st.capacity_bytes));
            p.utility[k] = m.cfg.weight * rate * std::max(h, 0.0);
        }
        // Every re-reference the curve has seen, at any distance.
        p.spread = m.cfg.weight * rate *
                   std::max(hc_mrc_hit_ratio(m.c, kInfinity), 0.0);
    }
    std::vector<uint64_t> units = partition(total, pm);
    std::vector<uint64_t> target(units.size());
    for (size_t i = 0; i < units.size(); i++) {
        target[i] = units[i] * u;
    }
    return apply(target);
}

extern "C" {

hc_pool *hc_pool_create(uint64_t size, char *err, size_t errlen) {
    if (size < 8 * 512) {
        fail(err, errlen, "pool size must be at least 4096 bytes, not %llu",
             (unsigned long long)size);
        return nullptr;
    }
    try {
        hc_pool *p = new hc_pool;
        p->size = size;
        return p;
    } catch (...) {
        fail(err, errlen, "cannot allocate a pool of %llu bytes",
             (unsigned long long)size);
        return nullptr;
    }
}

void hc_pool_destroy(hc_pool *p) {
    delete p;
}

int hc_pool_add(hc_pool *p, hc_cache *c, const hc_pool_member *m, char *err,
                size_t errlen) {
    if (!p || !c || !m) {
        return -EINVAL;
    }
    if (int r = check_member(m, err, errlen)) {
        return r;
    }
    std::lock_guard g(p->mu);
    hc_config cfg;
    hc_get_config(c, &cfg);
    try {
        std::vector<hc_pool::Member> ms = p->members;
        for (const hc_pool::Member &o : ms) {
            if (o.c == c) {
                return fail(err, errlen, "cache is a member already");
            }
        }
        ms.push_back({c, *m, cfg.block_size, 0});
        if (!p->fits(ms, p->size)) {
            return fail(err, errlen,
                        "the reserves do not fit the pool size (%llu bytes)",
                        (unsigned long long)p->size);
        }
        p->members = std::move(ms);
        p->split_equally();
        return 0;
    } catch (...) {
        return -ENOMEM;
    }
}

int hc_pool_remove(hc_pool *p, hc_cache *c) {
    std::lock_guard g(p->mu);
    auto it = std::find_if(p->members.begin(), p->members.end(),
                           [c](const hc_pool::Member &m) { return m.c == c; });
    if (it == p->members.end()) {
        return -ENOENT;
    }
    p->members.erase(it);
    return 0;
}

int hc_pool_set_member(hc_pool *p, hc_cache *c, const hc_pool_member *m,
                       char *err, size_t errlen) {
    if (int r = check_member(m, err, errlen)) {
        return r;
    }
    std::lock_guard g(p->mu);
    for (size_t i = 0; i < p->members.size(); i++) {
        if (p->members[i].c != c) {
            continue;
        }
        std::vector<hc_pool::Member> ms = p->members;
        ms[i].cfg = *m;
        if (!p->fits(ms, p->size)) {
            return fail(err, errlen,
                        "the reserves do not fit the pool size (%llu bytes)",
                        (unsigned long long)p->size);
        }
        p->members[i].cfg = *m;
        return 0;
    }
    return -ENOENT;
}

int hc_pool_set_size(hc_pool *p, uint64_t size, char *err, size_t errlen) {
    std::lock_guard g(p->mu);
    if (!p->fits(p->members, size)) {
        return fail(err, errlen, "size %llu cannot hold the members' reserves",
                    (unsigned long long)size);
    }
    p->size = size;
    return 0;
}

int hc_pool_rebalance(hc_pool *p) {
    std::lock_guard g(p->mu);
    try {
        return p->rebalance();
    } catch (...) {
        return -ENOMEM;
    }
}

}  // extern "C"
