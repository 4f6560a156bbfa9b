// SPDX-License-Identifier: GPL-2.0-or-later
//
// hC-Read: plan a read into pinned hits and merged miss runs, reserve slots
// for the misses the cache admits (fill.cc), unpin.  The hit path takes one
// shard lock per block and nothing else (LRU's list lock aside); plans come
// from a per-thread pool (read-plan.cc), so it allocates nothing either.
#include <cerrno>

#include "tmaster.h"

using namespace hypercache;

namespace {

// IOV_MAX: a reserved run is read with one preadv into its fill_iov.
constexpr uint64_t kMaxRunBlocks = 1024;

// How far ahead lookups prefetch.
constexpr uint64_t kAhead = 4;

}  // namespace

// A plan from the pool for the blocks of [offset, offset + len) (no
// overflow: the caller checked), with room for everything it can need
// before a pin is taken: nothing after this throws.  -EINVAL past
// @max_blocks blocks.
int hc_cache::new_plan(uint64_t offset, uint64_t len, uint64_t max_blocks,
                       hc_read_plan **out) {
    uint64_t b0 = offset >> shift;
    uint64_t b1 = len ? (offset + len + block_size - 1) >> shift : b0;
    uint64_t n = b1 - b0;
    if (n > max_blocks) {
        return -EINVAL;
    }
    hc_read_plan *plan = plan_get();
    try {
        plan->blocks.resize(n);
        plan->segs.reserve(n);
        plan->runs.reserve(n);
        plan->iovs.reserve(n);
        plan->release.reserve(n);
    } catch (...) {
        plan_put(plan);
        throw;
    }
    plan->first_block = b0;
    *out = plan;
    return 0;
}

int hc_cache::read_begin(uint64_t offset, uint64_t len, hc_read_plan **out) {
    if (offset + len < offset) {
        return -EINVAL;
    }
    st.add(kReadRequests);
    st.add(kReadBytes, len);
    hc_read_plan *plan;
    if (int ret = new_plan(offset, len, UINT32_MAX, &plan); ret < 0) {
        return ret;
    }
    *out = plan;
    uint64_t b0 = plan->first_block;
    uint64_t n = plan->blocks.size();
    if (n == 0) {
        return 0;
    }
    plan->bypass = seq.observe(offset, len, seq_cutoff.load());
    if (plan->bypass) {
        st.add(kBypassed);
    }
    uint64_t hits = 0, misses = 0;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t b = b0 + k;
        hc_read_plan::Block &bl = plan->blocks[k];
        if (!plan->bypass) {
            mrc.record(b);
        }
        Tindx::Shard &sh = tindx.shard_of(b);
        std::lock_guard lk(sh.mu);
        // Blocks of a large cache are cache misses of the CPU: have the
        // bucket and counters of a block a few ahead on their way (under
        // this lock, as the lookup itself would read them).
        for (uint64_t a = k ? k + kAhead : 1; a <= k + kAhead && a < n; a++) {
            tindx.prefetch(b0 + a);
            sketch->prefetch(b0 + a);
        }
        if (!plan->bypass) {
            sketch->record(b);  // under the shard lock: reconfigure swaps it
        }
        uint32_t e = tindx.find(sh, b);
        if (e != kNil) {
            uint32_t slot = tindx.at(e).slot;
            tbuf.meta(slot).pins++;
            policy->touch(tindx, e);
            bl.p = tbuf.ptr(slot);
            bl.slot = slot;
            bl.kind = hc_read_plan::kHit;
            hits++;
        } else {
            bl.gen = gens.snapshot(b);
            bl.kind = hc_read_plan::kMiss;
            misses++;
        }
    }
    st.add(kHitBlocks, hits);
    st.add(kMissBlocks, misses);
    st.add(misses == 0 ? kFullHits : hits == 0 ? kMisses : kPartialHits);
    if (misses && !plan->bypass && mode.load() != HC_MODE_NONE) {
        reserve_fills(plan);
    }
    build_segs(plan);
    return 0;
}

// Segments from the blocks' kinds: neighbouring hits that happen to sit in
// neighbouring slots make one segment, as do neighbouring misses of the
// same kind (reserved or not) up to max_merge.
void hc_cache::build_segs(hc_read_plan *plan) {
    uint64_t merge_blocks = std::min(
        std::max<uint64_t>(max_merge.load() >> shift, 1), kMaxRunBlocks);
    uint32_t n = uint32_t(plan->blocks.size());
    for (uint32_t k = 0; k < n; k++) {
        const hc_read_plan::Block &bl = plan->blocks[k];
        uint64_t off = (plan->first_block + k) << shift;
        hc_read_seg *last = plan->segs.empty() ? nullptr : &plan->segs.back();
        if (bl.kind == hc_read_plan::kHit) {
            if (last && last->hit &&
                static_cast<const uint8_t *>(last->hit) + last->len == bl.p) {
                last->len += block_size;
            } else {
                plan->segs.push_back(
                    hc_read_seg{off, block_size, bl.p, nullptr, 0, false});
                plan->runs.push_back(hc_read_plan::Run{});
            }
            continue;
        }
        bool reserved = bl.kind == hc_read_plan::kReserved;
        bool wait = bl.kind == hc_read_plan::kWait;
        hc_read_plan::Run *run =
            last && !last->hit ? &plan->runs.back() : nullptr;
        if (run && run->reserved == reserved && run->wait == wait &&
            run->nblocks < merge_blocks) {
            last->len += block_size;
            run->nblocks++;
        } else {
            plan->segs.push_back(
                hc_read_seg{off, block_size, nullptr, nullptr, 0, wait});
            plan->runs.push_back(
                hc_read_plan::Run{k, 1, uint32_t(plan->iovs.size()), 0,
                                  reserved, hc_read_plan::kPending, wait});
            run = &plan->runs.back();
        }
        if (!reserved) {
            continue;
        }
        iovec *prev = run->iovcnt ? &plan->iovs.back() : nullptr;
        if (prev &&
            static_cast<uint8_t *>(prev->iov_base) + prev->iov_len == bl.p) {
            prev->iov_len += block_size;
        } else {
            plan->iovs.push_back(iovec{bl.p, block_size});
            run->iovcnt++;
        }
    }
    // The iovec array is complete (and never moves again): point at it.
    for (size_t i = 0; i < plan->segs.size(); i++) {
        const hc_read_plan::Run &run = plan->runs[i];
        if (!plan->segs[i].hit && run.reserved) {
            plan->segs[i].fill_iov = plan->iovs.data() + run.iov_base;
            plan->segs[i].fill_iovcnt = int(run.iovcnt);
        }
    }
}

// Unpin what the plan pinned: hits and published fills under their shard
// locks (freeing slots orphaned meanwhile by a write or invalidation), and
// reservations that never entered the index, all in one hold of the tmaster
// mutex, taken only when there is something to free.
void hc_cache::read_end(hc_read_plan *plan) {
    uint32_t n = uint32_t(plan->blocks.size());
    for (uint32_t k = 0; k < n; k++) {
        const hc_read_plan::Block &bl = plan->blocks[k];
        switch (bl.kind) {
            case hc_read_plan::kHit:
            case hc_read_plan::kPublished: {
                Tindx::Shard &sh = tindx.shard_of(plan->first_block + k);
                std::lock_guard g(sh.mu);
                SlotMeta &m = tbuf.meta(bl.slot);
                if (--m.pins == 0 && m.orphan) {
                    plan->release.push_back(bl.slot);
                }
                break;
            }
            case hc_read_plan::kReserved:
                plan->release.push_back(bl.slot);  // private: nobody else
                break;
            case hc_read_plan::kMiss:
            case hc_read_plan::kWait:
                break;
        }
    }
    if (!plan->release.empty()) {
        std::lock_guard g(mu);
        for (uint32_t s : plan->release) {
            tbuf.release(s);
        }
        // Runs never filled nor failed: their waiters read for themselves.
        for (uint32_t k = 0; k < n; k++) {
            const hc_read_plan::Block &bl = plan->blocks[k];
            if (bl.kind == hc_read_plan::kReserved) {
                inflight.remove(plan->first_block + k, bl.fill);
            }
        }
    }
    plan_put(plan);
}
