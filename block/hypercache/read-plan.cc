// SPDX-License-Identifier: GPL-2.0-or-later
//
// The per-thread pool of read plans.  An iothread with 32 requests in
// flight keeps up to kKeep plans between them; their vectors keep their
// capacity, so the next request of a similar size allocates nothing.
// Plans for huge requests are freed instead of kept, which bounds what a
// thread keeps to about kKeep * 24 KiB.
#include "read-plan.h"

namespace hypercache {

namespace {

constexpr unsigned kKeep = 32;
constexpr size_t kMaxBlocks = 256;  // 1 MiB of 4 KiB blocks

struct Pool {
    hc_read_plan *plans[kKeep] = {};
    unsigned n = 0;
    ~Pool() {
        while (n > 0) {
            delete plans[--n];
        }
    }
};

thread_local Pool pool;

}  // namespace

hc_read_plan *plan_get() {
    if (pool.n > 0) {
        return pool.plans[--pool.n];
    }
    return new hc_read_plan;
}

void plan_put(hc_read_plan *plan) {
    if (pool.n == kKeep || plan->blocks.capacity() > kMaxBlocks) {
        delete plan;
        return;
    }
    plan->clear();
    pool.plans[pool.n++] = plan;
}

}  // namespace hypercache
