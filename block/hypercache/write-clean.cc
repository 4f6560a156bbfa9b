// SPDX-License-Identifier: GPL-2.0-or-later
//
// The write-through fast path.  A write that goes to the child (writethrough
// mode, FUA, sequential bypass) and whose blocks are all cached, clean and
// idle updates the cached copies and claims the blocks (kWriting) under
// each block's shard lock alone.  settle_clean() (write.cc) completes it
// the same way, so write-throughs from several iothreads never meet on the
// tmaster mutex.
//
// Why the mutex is not needed: code under mu that acts on a cached block
// checks it and takes it (kHeld, kWriteback, or unlinks it) in one hold of
// the block's shard lock; see Hold, invalidate(), absorb_whole(),
// writeback_next() and try_evict().  A block is claimed here only while it
// is exactly kClean (not held, not busy, not dirty), under the same lock.
// Whichever comes first wins: the other backs off, this path to the locked
// one, code under mu with -EAGAIN until this write completes.
#include <cerrno>

#include "iov.h"
#include "tmaster.h"

using namespace hypercache;

// A claimed block's copy may already hold the new data, which the child
// does not have yet: give the claims back by dropping the copies (clean,
// so the child's data stands), under mu.
void hc_cache::abandon(hc_write_ticket *t) {
    if (t->blocks.empty()) {
        return;
    }
    std::lock_guard g(mu);
    for (const hc_write_ticket::Block &tb : t->blocks) {
        if (tb.entry != kNil) {
            drop(tb.entry);
        } else {
            gens.end_write(tb.block);
        }
    }
    t->blocks.clear();
}

bool hc_cache::write_clean(uint64_t offset, uint64_t len, const IovCursor &src,
                           bool bypass, hc_write_ticket **out) {
    uint64_t b0 = offset >> shift;
    uint64_t b1 = (offset + len + block_size - 1) >> shift;
    auto idle_clean = [&](const Tindx::Shard &sh, uint64_t b) {
        uint32_t e = tindx.find(sh, b);
        return e != kNil && tindx.at(e).state == kClean ? e : kNil;
    };
    if (b1 - b0 > 1) {
        // Look before claiming: others that see a claim wait for it, so a
        // write that would give its claims back should not make any.
        for (uint64_t b = b0; b < b1; b++) {
            Tindx::Shard &sh = tindx.shard_of(b);
            std::lock_guard sg(sh.mu);
            if (idle_clean(sh, b) == kNil) {
                return false;
            }
        }
    }
    // Allocate before claiming: nothing may throw while claims are held.
    auto ticket = std::make_unique<hc_write_ticket>();
    ticket->blocks.reserve(b1 - b0);
    for (uint64_t b = b0; b < b1; b++) {
        uint64_t lo = std::max(offset, b << shift);
        uint64_t hi = std::min(offset + len, (b + 1) << shift);
        uint32_t off = uint32_t(lo - (b << shift)), n = uint32_t(hi - lo);
        Tindx::Shard &sh = tindx.shard_of(b);
        std::unique_lock sg(sh.mu);
        uint32_t e = idle_clean(sh, b);
        if (e == kNil) {  // changed since the look above
            sg.unlock();
            abandon(ticket.get());
            return false;
        }
        Entry &en = tindx.at(e);
        en.state = kWriting;
        if (!bypass) {
            sketch->record(b);  // under the shard lock: reconfigure swaps it
        }
        policy->touch(tindx, e);
        if (tbuf.meta(en.slot).pins == 0) {
            // Nobody can read the slot: readers pin it under this lock.
            src.copy_to(tbuf.ptr(en.slot) + off, lo - offset, n);
            gens.bump(b);
        } else {
            // A reader has the slot: the new data goes to a fresh one, which
            // takes mu.  The claim keeps everyone else off the block.
            sg.unlock();
            std::lock_guard g(mu);
            uint32_t spare = kNil;
            if (!update_block(e, off, n, &src, lo - offset, &spare)) {
                drop(e);  // clean: the child's copy stands
                gens.begin_write(b);
                e = kNil;
            }
            // Left over if the reader let go meanwhile.  Not kept past mu:
            // a shrink may take any slot that no entry or pin holds.
            if (spare != kNil) {
                tbuf.release(spare);
            }
        }
        ticket->blocks.push_back({b, e, n == block_size});
    }
    *out = ticket.release();
    return true;
}
