// SPDX-License-Identifier: GPL-2.0-or-later
//
// hC-Read: plan a read into pinned hits and merged miss runs, admit what
// the child returned, unpin.  The hit path takes one shard lock per block
// and nothing else (LRU's list lock aside).
#include <cerrno>
#include <cstring>

#include "tmaster.h"

using namespace hypercache;

int hc_cache::read_begin(uint64_t offset, uint64_t len, hc_read_plan **out) {
    if (offset + len < offset) {
        return -EINVAL;
    }
    auto plan = std::make_unique<hc_read_plan>();
    st.add(kReadRequests);
    st.add(kReadBytes, len);
    if (len == 0) {
        *out = plan.release();
        return 0;
    }
    uint64_t b0 = offset >> shift;
    uint64_t b1 = (offset + len + block_size - 1) >> shift;
    uint64_t merge_blocks = std::max<uint64_t>(max_merge.load() >> shift, 1);
    plan->bypass = seq.observe(offset, len, seq_cutoff.load());
    if (plan->bypass) {
        st.add(kBypassed);
    }
    uint64_t hits = 0, misses = 0;
    for (uint64_t b = b0; b < b1; b++) {
        if (!plan->bypass) {
            mrc.record(b);
        }
        Tindx::Shard &sh = tindx.shard_of(b);
        std::unique_lock lk(sh.mu);
        if (!plan->bypass) {
            sketch->record(b);  // under the shard lock: reconfigure swaps it
        }
        uint32_t e = tindx.find(sh, b);
        if (e != kNil) {
            uint32_t slot = tindx.at(e).slot;
            tbuf.meta(slot).pins++;
            policy->touch(tindx, e);
            const uint8_t *p = tbuf.ptr(slot);
            lk.unlock();
            plan->pins.emplace_back(b, slot);
            hits++;
            hc_read_seg *last =
                plan->segs.empty() ? nullptr : &plan->segs.back();
            // Neighbouring blocks that happen to sit in neighbouring slots
            // make one segment.
            if (last && last->hit &&
                static_cast<const uint8_t *>(last->hit) + last->len == p) {
                last->len += block_size;
            } else {
                plan->segs.push_back(hc_read_seg{b << shift, block_size, p});
                plan->miss.emplace_back();
            }
        } else {
            uint64_t snap = gens.snapshot(b);
            lk.unlock();
            misses++;
            hc_read_seg *last =
                plan->segs.empty() ? nullptr : &plan->segs.back();
            if (last && !last->hit &&
                plan->miss.back().nblocks < merge_blocks) {
                last->len += block_size;
                plan->miss.back().nblocks++;
            } else {
                plan->segs.push_back(
                    hc_read_seg{b << shift, block_size, nullptr});
                plan->miss.push_back(
                    hc_read_plan::Miss{b, 1, uint32_t(plan->gens.size())});
            }
            plan->gens.push_back(snap);
        }
    }
    st.add(kHitBlocks, hits);
    st.add(kMissBlocks, misses);
    st.add(misses == 0 ? kFullHits : hits == 0 ? kMisses : kPartialHits);
    *out = plan.release();
    return 0;
}

// Admission takes the tmaster mutex twice: once to pick the blocks and
// allocate their slots, once to publish them.  The copy in between runs
// unlocked, so fills and writes from other iothreads wait for the
// bookkeeping only, not for the bytes.
void hc_cache::read_fill(hc_read_plan *plan, size_t i, const void *buf) {
    if (i >= plan->segs.size() || plan->segs[i].hit || plan->bypass) {
        return;
    }
    if (mode.load() == HC_MODE_NONE) {
        return;
    }
    const hc_read_plan::Miss &m = plan->miss[i];
    auto *src = static_cast<const uint8_t *>(buf);
    struct Fill {
        uint32_t j, slot;
        uint8_t *dst;
    };
    // Block j of the run is still worth filling (mu held): not written,
    // invalidated or being written through since the plan was made (the
    // child's data would be stale), and not filled by someone else.
    auto wanted = [&](uint32_t j) {
        uint64_t b = m.first_block + j;
        if (!gens.unchanged(b, plan->gens[m.gen_base + j])) {
            return false;
        }
        Tindx::Shard &sh = tindx.shard_of(b);
        std::lock_guard sg(sh.mu);
        return tindx.find(sh, b) == kNil;
    };
    std::vector<Fill> fills;
    fills.reserve(m.nblocks);
    {
        std::lock_guard g(mu);
        for (uint32_t j = 0; j < m.nblocks; j++) {
            uint64_t b = m.first_block + j;
            if (!wanted(j)) {
                continue;
            }
            if (!admit(b)) {
                st.add(kRejections);
                continue;
            }
            uint32_t slot = alloc_slot();
            if (slot == kNil) {
                st.add(kRejections);
                continue;
            }
            // Private until published; the pin keeps a concurrent shrink
            // (which holds mu) from taking its memory away meanwhile.
            tbuf.meta(slot).pins = 1;
            fills.push_back(Fill{j, slot, tbuf.ptr(slot)});
        }
    }
    if (fills.empty()) {
        return;
    }
    for (const Fill &f : fills) {
        memcpy(f.dst, src + (uint64_t(f.j) << shift), block_size);
    }
    std::lock_guard g(mu);
    for (const Fill &f : fills) {
        tbuf.meta(f.slot).pins = 0;
        if (!wanted(f.j)) {
            tbuf.release(f.slot);  // a write or another fill came first
            st.add(kRejections);
            continue;
        }
        insert(m.first_block + f.j, f.slot, kClean);
        st.add(kAdmissions);
    }
}

void hc_cache::read_end(hc_read_plan *plan) {
    std::vector<uint32_t> orphans;
    for (auto [b, slot] : plan->pins) {
        Tindx::Shard &sh = tindx.shard_of(b);
        std::lock_guard g(sh.mu);
        SlotMeta &m = tbuf.meta(slot);
        if (--m.pins == 0 && m.orphan) {
            orphans.push_back(slot);
        }
    }
    if (!orphans.empty()) {
        std::lock_guard g(mu);
        for (uint32_t s : orphans) {
            tbuf.release(s);
        }
    }
    delete plan;
}
