// SPDX-License-Identifier: GPL-2.0-or-later
//
// Guest writes.  In writeback mode whole blocks (absorb.cc) and partial
// updates of cached ones are absorbed into WB and acknowledged at once.
// Everything else goes to the child with a ticket: FUA writes, the
// writethrough, writearound and none modes, sequential streams past the
// cutoff, and partial writes of blocks we do not hold (we would need the
// rest of the block first).  Cached copies are updated either way, so a
// read never sees older data than the guest wrote; when they are all clean
// and idle, without the tmaster mutex (write-clean.cc).
#include <cerrno>
#include <cstring>

#include "iov.h"
#include "tmaster.h"

using namespace hypercache;

namespace {

struct Span {
    uint32_t off, len;  // the bytes of the block the write covers
};

}  // namespace

int hc_cache::write_begin(uint64_t offset, uint64_t len, const iovec *iov,
                          int iovcnt, size_t skip, unsigned flags,
                          hc_write_ticket **ticket_out) {
    if (ticket_out) {
        *ticket_out = nullptr;
    }
    if (offset + len < offset || (len && !iov && iovcnt)) {
        return -EINVAL;
    }
    st.add(kWriteRequests);
    st.add(kWriteBytes, len);
    if (len == 0) {
        return HC_WRITE_DONE;
    }
    uint64_t b0 = offset >> shift;
    uint64_t b1 = (offset + len + block_size - 1) >> shift;
    auto span = [&](uint64_t b) {
        uint64_t lo = std::max(offset, b << shift);
        uint64_t hi = std::min(offset + len, (b + 1) << shift);
        return Span{uint32_t(lo - (b << shift)), uint32_t(hi - lo)};
    };
    IovCursor src{iov, iovcnt, skip};

    bool bypass = seq.observe(offset, len, seq_cutoff.load());
    if (bypass) {
        st.add(kBypassed);
    }
    uint64_t mask = block_size - 1;
    int fm = mode.load();
    bool through = flags & (HC_WRITE_FUA | HC_WRITE_THROUGH);
    if (fm == HC_MODE_WRITEBACK && !bypass && !through && !(offset & mask) &&
        !(len & mask)) {
        if (rewrite_dirty(b0, b1, src)) {
            return HC_WRITE_DONE;
        }
        return absorb_whole(b0, b1, src);
    }
    if (ticket_out &&
        (fm == HC_MODE_WRITETHROUGH ||
         (fm == HC_MODE_WRITEBACK && (bypass || through))) &&
        write_clean(offset, len, src, bypass, ticket_out)) {
        return HC_WRITE_CHILD;
    }

    std::lock_guard g(mu);

    // Phase 1: refuse before changing anything.  Blocks found cached are
    // held, so allocating for the others cannot evict them behind our back
    // (a partial block must not turn into a miss half way).
    Hold hold{this, {}};
    bool partial_miss = false, child_busy = false;
    uint64_t new_dirty = 0;
    for (uint64_t b = b0; b < b1; b++) {
        Tindx::Shard &sh = tindx.shard_of(b);
        std::lock_guard sg(sh.mu);
        uint32_t e = tindx.find(sh, b);
        if (e != kNil) {
            uint8_t s = tindx.at(e).state;
            if (s & kBusy) {
                return -EAGAIN;
            }
            hold.add(e);
            new_dirty += !(s & kDirty);
        } else {
            new_dirty++;
            partial_miss |= span(b).len < block_size;
            child_busy |= gens.writing(b);
        }
    }
    int m = cfg.mode;
    bool absorb =
        m == HC_MODE_WRITEBACK && !through && !bypass && !partial_miss;
    uint32_t spare = kNil;
    struct Release {
        hc_cache *c;
        uint32_t *spare;
        ~Release() {
            if (*spare != kNil) {
                c->tbuf.release(*spare);
            }
        }
    } release{this, &spare};

    auto pos_of = [&](uint64_t b, Span s) {
        return (b << shift) + s.off - offset;  // position within the write
    };

    if (absorb && child_busy) {
        // An older write of one of these blocks, not cached, is still out
        // at the child: absorbed now, this data could be written back
        // before it lands and then lose to it on the disk.  Wait for it.
        return -EAGAIN;
    }
    if (absorb) {
        uint64_t cap = tbuf.nslots();
        if ((dirty_blocks.load() + new_dirty) * 100 > cap * cfg.dirty_max_pct) {
            return -ENOSPC;
        }
        uint64_t seqno = ++dirty_seq_;
        for (uint64_t b = b0; b < b1; b++) {
            Span s = span(b);
            sketch->record(b);
            uint32_t e;
            {
                Tindx::Shard &sh = tindx.shard_of(b);
                std::lock_guard sg(sh.mu);
                e = tindx.find(sh, b);
            }
            if (e == kNil) {
                uint32_t slot = alloc_slot();
                if (slot == kNil) {
                    // Earlier blocks already hold the new data; the write
                    // is not acknowledged and the caller retries it whole.
                    return -ENOSPC;
                }
                src.copy_to(tbuf.ptr(slot), pos_of(b, s), block_size);
                e = insert(b, slot, kDirty);
                dirty.mark(b, seqno, e);
                gens.bump(b);
                continue;
            }
            policy->touch(tindx, e);
            if (!update_block(e, s.off, s.len, &src, pos_of(b, s), &spare)) {
                return -ENOSPC;
            }
            make_dirty(e, seqno);
        }
        st.add(kWritebackBlocksWritten, b1 - b0);
        return HC_WRITE_DONE;
    }

    if (!ticket_out) {
        return -EINVAL;
    }
    auto ticket = std::make_unique<hc_write_ticket>();
    ticket->blocks.reserve(b1 - b0);
    bool admit_new =
        !bypass && (m == HC_MODE_WRITETHROUGH || m == HC_MODE_WRITEBACK);
    bool drop_clean = m == HC_MODE_WRITEAROUND || m == HC_MODE_NONE;
    for (uint64_t b = b0; b < b1; b++) {
        Span s = span(b);
        bool full = s.len == block_size;
        if (!bypass) {
            sketch->record(b);
        }
        uint32_t e;
        {
            Tindx::Shard &sh = tindx.shard_of(b);
            std::lock_guard sg(sh.mu);
            e = tindx.find(sh, b);
        }
        if (e != kNil && drop_clean && !(tindx.at(e).state & kDirty)) {
            drop(e);
            e = kNil;
        } else if (e != kNil) {
            if (!update_block(e, s.off, s.len, &src, pos_of(b, s), &spare)) {
                if (!(tindx.at(e).state & kDirty)) {
                    drop(e);
                    e = kNil;
                } else {
                    finish(ticket.get(), -ENOSPC);
                    return -ENOSPC;
                }
            } else {
                set_state(e, kWriting);
                policy->touch(tindx, e);
                ticket->blocks.push_back({b, e, full});
                continue;
            }
        } else if (full && admit_new && !gens.writing(b) && admit(b)) {
            // Not while an older write of the block is out at the child: it
            // could land after this one, under a clean cached copy.
            uint32_t slot = alloc_slot();
            if (slot != kNil) {
                src.copy_to(tbuf.ptr(slot), pos_of(b, s), block_size);
                e = insert(b, slot, kWriting);
                gens.bump(b);
                st.add(kAdmissions);
                ticket->blocks.push_back({b, e, full});
                continue;
            }
        }
        gens.begin_write(b);
        ticket->blocks.push_back({b, kNil, full});
    }
    *ticket_out = ticket.release();
    return HC_WRITE_CHILD;
}

// Settle a write-through ticket (mu held).
void hc_cache::finish(hc_write_ticket *t, int ret) {
    // A dirty block it kept busy may be idle again: write-back must look.
    wb_none_valid = false;
    for (const hc_write_ticket::Block &tb : t->blocks) {
        if (tb.entry == kNil) {
            gens.end_write(tb.block);
            continue;
        }
        Entry &en = tindx.at(tb.entry);
        set_state(tb.entry, 0, kWriting);
        if (ret < 0) {
            // The child may hold old or new data: a clean copy can no
            // longer be trusted; a dirty one still has to reach the child.
            if (!(en.state & kDirty)) {
                drop(tb.entry);
            }
        } else if ((en.state & kDirty) && tb.full) {
            make_clean(tb.entry);  // the child has the whole block as we do
        }
        gens.bump(tb.block);
    }
}

// A successful write-through whose cached blocks are all clean needs only
// its kWriting bits cleared and the generations bumped: done under the
// shard locks alone, so completions on several iothreads do not meet on
// the tmaster mutex.  Clearing a busy bit without the mutex is safe: code
// under it that saw the block busy only waited or skipped it, and nothing
// else changes a block while it is busy.  False, with nothing changed, if
// a block is dirty (its dirty record must go, under the mutex).
bool hc_cache::settle_clean(hc_write_ticket *t) {
    for (const hc_write_ticket::Block &tb : t->blocks) {
        if (tb.entry != kNil) {
            std::lock_guard sg(tindx.shard_of(tb.block).mu);
            if (tindx.at(tb.entry).state & kDirty) {
                return false;
            }
        }
    }
    for (const hc_write_ticket::Block &tb : t->blocks) {
        if (tb.entry == kNil) {
            gens.end_write(tb.block);
            continue;
        }
        {
            std::lock_guard sg(tindx.shard_of(tb.block).mu);
            tindx.at(tb.entry).state &= uint8_t(~kWriting);
        }
        gens.bump(tb.block);
    }
    return true;
}

void hc_cache::write_end(hc_write_ticket *t, int ret) {
    if (ret < 0 || !settle_clean(t)) {
        std::lock_guard g(mu);
        finish(t, ret);
    }
    if (ret < 0) {
        st.add(kWriteErrors);
    }
    delete t;
}
