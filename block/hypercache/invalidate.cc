// SPDX-License-Identifier: GPL-2.0-or-later
//
// Invalidation (discard, write-zeroes, truncate, migration) and the dirty
// map query behind block_status.
#include <cerrno>
#include <vector>

#include "tmaster.h"

using namespace hypercache;

int hc_cache::invalidate(uint64_t offset, uint64_t len, unsigned flags) {
    uint64_t end = (len == UINT64_MAX || offset + len < offset) ? UINT64_MAX
                                                                : offset + len;
    if (end == offset) {
        return 0;
    }
    uint64_t b0 = offset >> shift;
    uint64_t b1 =
        end == UINT64_MAX ? UINT64_MAX : (end + block_size - 1) >> shift;
    std::lock_guard g(mu);

    // Collect the cached blocks in range: by lookup for short ranges, by a
    // walk over all entries for long ones (a whole-disk discard must not
    // cost a lookup per block of the disk).
    std::vector<uint32_t> hit;
    bool walk = b1 - b0 > uint64_t(tindx.capacity());
    if (walk) {
        for (uint32_t e = 0; e < tindx.capacity(); e++) {
            const Entry &en = tindx.at(e);
            if (en.slot != kNil && en.block >= b0 && en.block < b1) {
                hit.push_back(e);
            }
        }
    } else {
        for (uint64_t b = b0; b < b1; b++) {
            Tindx::Shard &sh = tindx.shard_of(b);
            std::lock_guard sg(sh.mu);
            uint32_t e = tindx.find(sh, b);
            if (e != kNil) {
                hit.push_back(e);
            }
        }
    }

    // Each block is checked and held in one hold of its shard lock: the
    // write-through fast path claims idle clean blocks under that lock
    // alone.  Held, they cannot be evicted by the allocation zeroing may
    // need either.
    Hold hold{this, {}};
    hold.entries.reserve(hit.size());
    for (uint32_t e : hit) {
        std::lock_guard sg(tindx.shard_of(tindx.at(e).block).mu);
        if (tindx.at(e).state & kBusy) {
            return -EAGAIN;  // its data is out at the child right now
        }
        hold.add(e);
    }
    uint32_t spare = kNil;
    int ret = 0;
    for (uint32_t e : hit) {
        Entry &en = tindx.at(e);
        uint64_t lo = std::max(offset, en.block << shift);
        uint64_t hi = std::min(end, (en.block + 1) << shift);
        if (hi - lo == block_size) {
            drop(e);
        } else if (flags & HC_INV_ZERO) {
            // The range now reads as zeroes; the rest of the block is still
            // valid (and may be dirty), so zero in place.
            if (!update_block(e, uint32_t(lo - (en.block << shift)),
                              uint32_t(hi - lo), nullptr, 0, &spare)) {
                if (en.state & kDirty) {
                    ret = -ENOSPC;
                } else {
                    drop(e);
                }
            }
        } else if (!(en.state & kDirty)) {
            // A discarded part reads as anything the child likes: do not
            // keep a clean copy that might disagree.  A dirty block keeps
            // its other bytes, which still have to reach the child.
            drop(e);
        }
    }
    if (spare != kNil) {
        tbuf.release(spare);
    }
    // Fills in flight for blocks in range must not land.
    if (walk) {
        gens.bump_all();
    } else {
        for (uint64_t b = b0; b < b1; b++) {
            gens.bump(b);
        }
    }
    return ret;
}

bool hc_cache::range_dirty(uint64_t offset, uint64_t len, uint64_t *pnum) {
    std::lock_guard g(mu);
    uint64_t end = offset + len < offset ? UINT64_MAX : offset + len;
    DirtyTracker::Map &map = dirty.blocks();
    uint64_t b = offset >> shift;
    auto it = map.lower_bound(b);
    bool is_dirty = it != map.end() && it->first == b;
    uint64_t change;  // first byte where the answer changes
    if (is_dirty) {
        uint64_t next = b;
        while (it != map.end() && it->first == next && (next << shift) < end) {
            ++it;
            next++;
        }
        change = next << shift;
    } else {
        change = it == map.end() ? UINT64_MAX : it->first << shift;
    }
    if (pnum) {
        *pnum = std::min(end, change) - offset;
    }
    return is_dirty;
}
