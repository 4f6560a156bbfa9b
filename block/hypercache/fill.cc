// SPDX-License-Identifier: GPL-2.0-or-later
//
// Admission of read misses, batched per request and with the child's data
// read straight into cache slots:
//
//   1. hc_read_begin(), one hold of the tmaster mutex for the request:
//      decide admission for each missed block and reserve a private slot
//      for it (evicting clean blocks as needed).  The slot is pinned, so a
//      shrink cannot take its memory; it is in no index, so nobody else
//      can see it.
//   2. The caller reads the child into the slots, unlocked.
//   3. hc_read_fill_done(), one hold of the mutex per run: publish each
//      block unless its generation changed (a write, invalidation or
//      write-through came in between: the child's data may be older than
//      the guest's newest) or someone else cached it meanwhile.  Published
//      or not, the slot stays pinned for the caller to copy from.
//   4. hc_read_end() unpins; reservations never published are freed.
//
// Single flight (inflight.h): from step 1 until step 3 (or a failure, or
// step 4 without a fill) a reserved block is registered as in flight, and
// other plans that miss it get a wait run instead of a child read of
// their own.
//
// A write to a published, still pinned block copies it to a fresh slot
// (update_block, absorb_whole), so the bytes the caller copies out never
// change under it.
#include <cstring>
#include <new>

#include "tmaster.h"

using namespace hypercache;

namespace {

constexpr uint32_t kAhead = 8;  // blocks prefetched ahead at publication

}  // namespace

// Step 1 (mu not held on entry).  Blocks changed since they were looked up
// are not worth a slot: their fill would be refused.  After the first
// allocation that fails (nothing clean and idle to evict) the rest of the
// request does not try again: each try may walk the whole policy queue.
void hc_cache::reserve_fills(hc_read_plan *plan) {
    uint64_t refused = 0, waits = 0, id = 0;
    uint32_t n = uint32_t(plan->blocks.size());
    std::lock_guard g(mu);
    if (cfg.mode == HC_MODE_NONE) {
        return;
    }
    bool full = false;
    for (uint32_t k = 0; k < n; k++) {
        hc_read_plan::Block &bl = plan->blocks[k];
        if (bl.kind != hc_read_plan::kMiss) {
            continue;
        }
        uint64_t b = plan->first_block + k;
        // Single flight: never read a block that another plan is reading
        // or has just cached; wait for it instead (whether this plan would
        // admit it or not: the wait saves the child read either way).
        if (uint64_t owner = inflight.owner(b); owner || cached(b)) {
            bl.kind = hc_read_plan::kWait;
            bl.fill = owner;
            waits++;
            continue;
        }
        if (full || !gens.unchanged(b, bl.gen) || !admit(b)) {
            refused++;
            continue;
        }
        // Registered first: nothing may throw once a slot is pinned.
        if (!id) {
            id = inflight.next_id();
        }
        try {
            inflight.add(b, id);
        } catch (const std::bad_alloc &) {
            full = true;
            refused++;
            continue;
        }
        uint32_t slot = alloc_slot();
        if (slot == kNil) {
            inflight.remove(b, id);
            full = true;
            refused++;
            continue;
        }
        tbuf.meta(slot).pins = 1;
        bl.slot = slot;
        bl.p = tbuf.ptr(slot);
        bl.kind = hc_read_plan::kReserved;
        bl.fill = id;
        plan->nreserved++;
    }
    st.add(kRejections, refused);
    st.add(kFillWaits, waits);
}

// Whether @block entered the index since read_begin() looked it up (mu
// held): its reader published it between that lookup and this hold.
bool hc_cache::cached(uint64_t block) {
    Tindx::Shard &sh = tindx.shard_of(block);
    std::lock_guard sg(sh.mu);
    return tindx.find(sh, block) != kNil;
}

// Whether a fill that wait run @i waits for is still out.
bool hc_cache::read_wait_pending(const hc_read_plan *plan, size_t i) {
    if (i >= plan->segs.size() || plan->segs[i].hit || !plan->runs[i].wait) {
        return false;
    }
    const hc_read_plan::Run &run = plan->runs[i];
    std::lock_guard g(mu);
    for (uint32_t k = run.first; k < run.first + run.nblocks; k++) {
        if (inflight.pending(plan->first_block + k, plan->blocks[k].fill)) {
            return true;
        }
    }
    return false;
}

// The fill of reserved run @i is over, one way or another (mu held): its
// waiters may plan again.
void hc_cache::end_flight(hc_read_plan *plan, size_t i) {
    const hc_read_plan::Run &run = plan->runs[i];
    for (uint32_t k = run.first; k < run.first + run.nblocks; k++) {
        inflight.remove(plan->first_block + k, plan->blocks[k].fill);
    }
}

// Enter @block with the data in private @slot, unless it is cached already
// (mu held).  The check, the policy insert and the link happen in one hold
// of the block's shard lock: a reader must never find an entry that the
// policy does not know yet (LRU would unlink it from a list it is not on).
// Nothing outside mu inserts, so nobody can cache the block between the
// check and the link.  A @warm block (a hot set's prefetch, prefetch.cc)
// enters the policy behind the blocks already cached.
bool hc_cache::publish_clean(uint64_t block, uint32_t slot, bool warm) {
    Tindx::Shard &sh = tindx.shard_of(block);
    std::lock_guard sg(sh.mu);
    if (tindx.find(sh, block) != kNil) {
        return false;
    }
    uint32_t e = tindx.alloc_entry();  // never fails: entries >= slots
    Entry &en = tindx.at(e);
    en.block = block;
    en.slot = slot;
    en.state = kClean;
    if (warm) {
        policy->insert_warm(tindx, e);
    } else {
        policy->insert(tindx, e);
    }
    tindx.link(sh, e);
    clean_blocks.add(1);
    return true;
}

// Step 3 for run @i, shared by guest reads and hot-set prefetches: how many
// of its blocks entered the cache, or -1 if @i is no pending reserved run.
int64_t hc_cache::publish_run(hc_read_plan *plan, size_t i, bool warm) {
    if (!plan->is_reserved_run(i) ||
        plan->runs[i].state != hc_read_plan::kPending) {
        return -1;
    }
    hc_read_plan::Run &run = plan->runs[i];
    run.state = hc_read_plan::kFilled;
    int64_t admitted = 0;
    std::lock_guard g(mu);
    end_flight(plan, i);
    // Switched to "cache nothing" since the plan: stay private.
    if (cfg.mode == HC_MODE_NONE) {
        return 0;
    }
    // The child read took long: the blocks' index buckets and the
    // policy's ghost buckets are cold again.  Have a few ahead on their
    // way while publishing.
    uint32_t end = run.first + run.nblocks;
    auto ahead = [&](uint32_t k) {
        if (k < end) {
            tindx.prefetch(plan->first_block + k);
            policy->prefetch_insert(plan->first_block + k);
        }
    };
    for (uint32_t k = run.first; k < run.first + kAhead; k++) {
        ahead(k);
    }
    for (uint32_t k = run.first; k < end; k++) {
        ahead(k + kAhead);
        hc_read_plan::Block &bl = plan->blocks[k];
        uint64_t b = plan->first_block + k;
        if (gens.unchanged(b, bl.gen) && publish_clean(b, bl.slot, warm)) {
            bl.kind = hc_read_plan::kPublished;
            admitted++;
        }
    }
    return admitted;
}

void hc_cache::read_fill_done(hc_read_plan *plan, size_t i) {
    int64_t admitted = publish_run(plan, i, false);
    if (admitted < 0) {
        return;
    }
    st.add(kAdmissions, uint64_t(admitted));
    st.add(kRejections, plan->runs[i].nblocks - uint64_t(admitted));
}

void hc_cache::read_fill(hc_read_plan *plan, size_t i, const void *buf) {
    if (!plan->is_reserved_run(i) ||
        plan->runs[i].state != hc_read_plan::kPending) {
        return;
    }
    // The slots are private and pinned: copied into without any lock.
    const hc_read_seg &seg = plan->segs[i];
    auto *src = static_cast<const uint8_t *>(buf);
    for (int k = 0; k < seg.fill_iovcnt; k++) {
        memcpy(seg.fill_iov[k].iov_base, src, seg.fill_iov[k].iov_len);
        src += seg.fill_iov[k].iov_len;
    }
    read_fill_done(plan, i);
}

void hc_cache::read_failed(hc_read_plan *plan, size_t i) {
    st.add(kReadErrors);
    // Its reservations stay kReserved: hc_read_end() frees them.
    if (plan->is_reserved_run(i) &&
        plan->runs[i].state == hc_read_plan::kPending) {
        plan->runs[i].state = hc_read_plan::kFailed;
        // Its waiters plan again and read the child themselves: each gets
        // its own result, never these slots' bytes.
        std::lock_guard g(mu);
        end_flight(plan, i);
    }
}
