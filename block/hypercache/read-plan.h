// SPDX-License-Identifier: GPL-2.0-or-later
//
// A read plan: what hc_read_begin() found for each block of a request
// (a pinned hit, a miss, or a miss with a private slot reserved for the
// child's data) and the segments the caller sees.  Plans are recycled
// through a small per-thread pool, so a request allocates nothing once
// its thread has served one of similar size.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "block/hypercache-core.h"

struct hc_read_plan {
    enum Kind : uint8_t {
        kHit,        // slot pinned, cached data
        kMiss,       // nothing reserved: read from the child, not cached
        kReserved,   // private slot, pinned, not in the index
        kPublished,  // was reserved, now in the index; still pinned
        kWait,       // another plan's fill is out: wait for it, plan again
    };
    struct Block {
        uint64_t gen;   // misses: generation at plan time
        uint64_t fill;  // reserved: this plan's fill id; kWait: the id
                        // waited for (0: cached meanwhile, no wait)
        uint8_t *p;     // hits and reservations: the slot's address
        uint32_t slot;  // hits and reservations
        Kind kind;
    };
    enum RunState : uint8_t { kPending, kFilled, kFailed };
    struct Run {         // parallel to segs; only miss segments use it
        uint32_t first;  // index into blocks
        uint32_t nblocks;
        uint32_t iov_base;  // reserved runs: their fill_iov in iovs
        uint32_t iovcnt;
        bool reserved;
        RunState state;
        bool wait;  // kWait blocks: no child read, see hc_read_wait_pending
    };

    uint64_t first_block = 0;
    std::vector<Block> blocks;
    std::vector<hc_read_seg> segs;
    std::vector<Run> runs;
    std::vector<iovec> iovs;        // fill_iov of every reserved run
    std::vector<uint32_t> release;  // hc_read_end's scratch: slots to free
    uint32_t nreserved = 0;         // blocks reserved (kReserved or kPublished)
    bool bypass = false;

    bool is_reserved_run(size_t i) const {
        return i < segs.size() && !segs[i].hit && runs[i].reserved;
    }
    void clear() {
        blocks.clear();
        segs.clear();
        runs.clear();
        iovs.clear();
        release.clear();
        nreserved = 0;
        bypass = false;
    }
};

namespace hypercache {

// A cleared plan, from this thread's pool when it has one.
hc_read_plan *plan_get();
// Back to this thread's pool (any thread may return any plan), or freed
// when the pool is full or the plan grew too big to keep.
void plan_put(hc_read_plan *plan);

}  // namespace hypercache
