// SPDX-License-Identifier: GPL-2.0-or-later
//
// The write-back fast paths for writes of whole blocks.  Rewrites of
// blocks already dirty copy in place under shard locks (rewrite_dirty).
// Other writes are absorbed into WB with the data copied while the tmaster
// mutex is *not* held, so writers and fills on other iothreads wait only
// for bookkeeping, never for the bytes of a large write (absorb_whole):
//
//   1. Under mu: refuse early (busy block, an uncached block with a write
//      still out at the child, WB full), then allocate a fresh private
//      slot per block.  The slots are pinned, so a shrink cannot take
//      their memory; nobody else can find them.
//   2. Unlocked: copy the guest's data into the private slots.
//   3. Under mu: check again (a write-back may have started on one of the
//      blocks, WB may have filled up), then publish every block at once:
//      new blocks are inserted, cached ones get the fresh slot in place of
//      the old (freed now, or by its last reader if pinned).
//
// Only whole blocks go this way: a partial update must merge with the old
// contents under the lock, or a concurrent write to the other part of the
// block could be lost.
#include <cerrno>

#include "iov.h"
#include "tmaster.h"

using namespace hypercache;

// A whole-block rewrite of blocks that are already dirty, idle and not
// being read needs no bookkeeping at all: no slot, no dirty-map change (a
// flush that would write the block back still does, with the newer data).
// So it copies in place under each block's shard lock and never touches
// the tmaster mutex; hot blocks rewritten from several iothreads do not
// serialise.  Write-back marks a block busy under the same shard lock
// before it reads the slot, so the copy is either complete before the
// write-back reads the slot or refused.  False, with some blocks possibly
// already rewritten, when a block does not qualify: the caller then takes
// the general path, which writes every block again.
bool hc_cache::rewrite_dirty(uint64_t b0, uint64_t b1, const IovCursor &src) {
    for (uint64_t b = b0; b < b1; b++) {
        Tindx::Shard &sh = tindx.shard_of(b);
        std::lock_guard sg(sh.mu);
        uint32_t e = tindx.find(sh, b);
        if (e == kNil) {
            return false;
        }
        const Entry &en = tindx.at(e);
        if ((en.state & ~kHeld) != kDirty || tbuf.meta(en.slot).pins) {
            return false;
        }
        src.copy_to(tbuf.ptr(en.slot), (b - b0) << shift, block_size);
        sketch->record(b);
        policy->touch(tindx, e);
        gens.bump(b);
    }
    st.add(kWritebackBlocksWritten, b1 - b0);
    return true;
}

int hc_cache::absorb_whole(uint64_t b0, uint64_t b1, const IovCursor &src) {
    struct Block {
        uint32_t slot;
        uint8_t *dst;
    };
    std::vector<Block> blocks;
    blocks.reserve(b1 - b0);
    auto release_all = [&] {
        for (const Block &bl : blocks) {
            tbuf.release(bl.slot);
        }
    };
    // Blocks that would turn dirty, or -EAGAIN if one is busy.  With
    // @hold, the cached ones are held as they are checked, so that the
    // write-through fast path cannot claim one before they are published.
    auto check = [&](Hold *hold) -> int64_t {
        uint64_t new_dirty = 0;
        for (uint64_t b = b0; b < b1; b++) {
            Tindx::Shard &sh = tindx.shard_of(b);
            std::lock_guard sg(sh.mu);
            uint32_t e = tindx.find(sh, b);
            if (e == kNil) {
                if (gens.writing(b)) {
                    return -EAGAIN;  // an older write is out at the child
                }
                new_dirty++;
            } else if (tindx.at(e).state & kBusy) {
                return -EAGAIN;
            } else {
                new_dirty += !(tindx.at(e).state & kDirty);
                if (hold) {
                    hold->add(e);
                }
            }
        }
        uint64_t cap = tbuf.nslots();
        if ((dirty_blocks.load() + new_dirty) * 100 > cap * cfg.dirty_max_pct) {
            return -ENOSPC;
        }
        return int64_t(new_dirty);
    };

    {
        std::lock_guard g(mu);
        int64_t r = check(nullptr);
        if (r < 0) {
            return int(r);
        }
        for (uint64_t b = b0; b < b1; b++) {
            // May evict clean copies of these very blocks: harmless, they
            // are about to be replaced.
            uint32_t slot = alloc_slot();
            if (slot == kNil) {
                release_all();
                return -ENOSPC;
            }
            tbuf.meta(slot).pins = 1;
            blocks.push_back(Block{slot, tbuf.ptr(slot)});
        }
    }

    for (size_t i = 0; i < blocks.size(); i++) {
        src.copy_to(blocks[i].dst, i << shift, block_size);
    }

    std::lock_guard g(mu);
    Hold hold{this, {}};
    hold.entries.reserve(b1 - b0);
    int64_t r = cfg.mode == HC_MODE_WRITEBACK ? check(&hold) : -EAGAIN;
    if (r < 0) {
        release_all();  // the caller retries from the start
        return int(r);
    }
    uint64_t seqno = ++dirty_seq_;
    for (uint64_t b = b0; b < b1; b++) {
        uint32_t slot = blocks[b - b0].slot;
        tbuf.meta(slot).pins = 0;
        sketch->record(b);
        Tindx::Shard &sh = tindx.shard_of(b);
        uint32_t e, old = kNil;
        {
            std::lock_guard sg(sh.mu);
            e = tindx.find(sh, b);
            if (e != kNil) {
                Entry &en = tindx.at(e);
                old = en.slot;
                en.slot = slot;
                if (tbuf.meta(old).pins != 0) {
                    tbuf.meta(old).orphan = true;  // the last reader frees it
                    old = kNil;
                }
            }
        }
        if (e == kNil) {
            e = insert(b, slot, kDirty);
            dirty.mark(b, seqno, e);
        } else {
            if (old != kNil) {
                tbuf.release(old);
            }
            policy->touch(tindx, e);
            make_dirty(e, seqno);
        }
        gens.bump(b);
    }
    st.add(kWritebackBlocksWritten, b1 - b0);
    return HC_WRITE_DONE;
}
