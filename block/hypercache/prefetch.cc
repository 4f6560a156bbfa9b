// SPDX-License-Identifier: GPL-2.0-or-later
//
// Prefetch of a hot set's blocks: the reserved-slot fill path of a guest's
// read miss (fill.cc), with three differences that keep it in the
// background:
//
//   - it only takes free slots: a prefetch never evicts what the guest has
//     brought in, and a full cache ends the load (hc_prefetch_info.full);
//   - it leaves the guest's view alone: no statistics, no sketch or
//     miss-ratio samples, no policy hit for blocks already cached, no
//     sequential-stream detection;
//   - a prefetched block enters the policy with insert_warm(): kept like a
//     proven block, but behind everything already cached.
//
// What keeps it correct is shared with guest reads: each block's write
// generation is noted under the tmaster mutex when its slot is reserved,
// the slot is private (pinned, in no index) while the child is read into
// it, and the fill path's own publish_run() publishes the block only if its
// generation did not change and nobody cached it meanwhile.  A block the
// guest wrote, discarded or wrote through after the plan is never
// overwritten with what the child held before; hc_read_end() frees what was
// not published.
#include <cerrno>
#include <memory>

#include "tmaster.h"

using namespace hypercache;

namespace {

// A plan's runs are read with one preadv each: IOV_MAX.
constexpr uint64_t kMaxPrefetchBlocks = 1024;

int prefetch_begin(hc_cache *c, uint64_t offset, uint64_t len,
                   hc_read_plan **out, hc_prefetch_info *info) {
    if (offset + len < offset) {
        return -EINVAL;
    }
    hc_read_plan *plan;
    if (int ret = c->new_plan(offset, len, kMaxPrefetchBlocks, &plan);
        ret < 0) {
        return ret;
    }
    *out = plan;
    uint64_t b0 = plan->first_block;
    uint64_t n = plan->blocks.size();
    if (n == 0) {
        return 0;
    }
    {
        // Under mu nobody else can insert: a block found uncached here
        // stays so until its fill is published (or another fill wins).
        std::lock_guard g(c->mu);
        bool caching = c->cfg.mode != HC_MODE_NONE;
        for (uint64_t k = 0; k < n; k++) {
            uint64_t b = b0 + k;
            hc_read_plan::Block &bl = plan->blocks[k];
            bl.kind = hc_read_plan::kMiss;
            bool cached;
            {
                Tindx::Shard &sh = c->tindx.shard_of(b);
                std::lock_guard sg(sh.mu);
                cached = c->tindx.find(sh, b) != kNil;
            }
            bl.gen = c->gens.snapshot(b);
            if (cached) {
                info->cached++;
                continue;
            }
            uint32_t slot;
            if (!caching || info->full || c->gens.writing(b)) {
                info->refused++;
                continue;
            }
            if (!c->tbuf.alloc(&slot)) {
                info->full = true;
                info->refused++;
                continue;
            }
            c->tbuf.meta(slot).pins = 1;
            bl.slot = slot;
            bl.p = c->tbuf.ptr(slot);
            bl.kind = hc_read_plan::kReserved;
            plan->nreserved++;
            info->reserved++;
        }
    }
    c->build_segs(plan);
    return 0;
}

// Published as a guest read's fill is (fill.cc), but with insert_warm()
// and without the guest's admission statistics.
uint64_t prefetch_fill_done(hc_cache *c, hc_read_plan *plan, size_t i) {
    int64_t published = c->publish_run(plan, i, true);
    return published < 0 ? 0 : uint64_t(published);
}

}  // namespace

extern "C" {

int hc_prefetch_begin(hc_cache *c, uint64_t offset, uint64_t len,
                      hc_read_plan **plan, hc_prefetch_info *info) {
    if (!plan || !info) {
        return -EINVAL;
    }
    *plan = nullptr;
    *info = hc_prefetch_info{};
    try {
        return prefetch_begin(c, offset, len, plan, info);
    } catch (...) {
        return -ENOMEM;
    }
}

uint64_t hc_prefetch_fill_done(hc_cache *c, hc_read_plan *plan, size_t i) {
    if (!plan) {
        return 0;
    }
    try {
        return prefetch_fill_done(c, plan, i);
    } catch (...) {
        return 0;  // nothing below allocates; stays private, freed at end
    }
}

}  // extern "C"
