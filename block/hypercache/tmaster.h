// SPDX-License-Identifier: GPL-2.0-or-later
//
// tmaster, the master table: one per cache.  It owns the configuration,
// tindx, tbuf, the policy pieces, dirty bookkeeping and statistics, and
// implements the operations behind the C API (api.cc only adds the
// exception boundary).
//
// Locking, outermost first:
//   mu           every change of the index, slots, states, policy queues
//                and dirty data (writes, fills, write-back, invalidation,
//                reconfiguration);
//   shard locks  the index chains and entries' slots and the slots' pin
//                counts; the read hit path takes only these, one at a time;
//   policy lock  LRU's list on the hit path (innermost, held briefly).
// Only a thread holding mu may hold two shard locks, and reconfigure holds
// all of them.  Statistics are striped per thread (stats.h), readable at
// any time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "block/hypercache-core.h"
#include "dirty.h"
#include "inflight.h"
#include "mrc.h"
#include "policy.h"
#include "read-plan.h"
#include "seqcutoff.h"
#include "sketch.h"
#include "stats.h"
#include "tbuf.h"
#include "tindx.h"

struct IovCursor;

namespace hypercache {

// Per-block write generations for blocks whether cached or not, hashed into
// a fixed table: a fill compares the generation it saw at plan time, so a
// write or invalidation in between (or a write-through still in flight)
// keeps stale child data out.  A hash collision only drops a fill.
class GenTable {
public:
    static constexpr uint32_t kSize = 4096;
    uint64_t snapshot(uint64_t block) const {
        return (uint64_t(epoch_.load(std::memory_order_acquire)) << 32) |
               gen_[index(block)].load(std::memory_order_acquire);
    }
    bool unchanged(uint64_t block, uint64_t snap) const {
        return !writing(block) && snapshot(block) == snap;
    }
    // A write-through of @block (or of a block hashed alike) that the cache
    // does not hold is out at the child.
    bool writing(uint64_t block) const {
        return inflight_[index(block)].load(std::memory_order_acquire) != 0;
    }
    void bump(uint64_t block) {
        gen_[index(block)].fetch_add(1, std::memory_order_acq_rel);
    }
    void bump_all() { epoch_.fetch_add(1, std::memory_order_acq_rel); }
    void begin_write(uint64_t block) {
        inflight_[index(block)].fetch_add(1, std::memory_order_acq_rel);
        bump(block);
    }
    void end_write(uint64_t block) {
        bump(block);
        inflight_[index(block)].fetch_sub(1, std::memory_order_acq_rel);
    }

private:
    static uint32_t index(uint64_t block) {
        return uint32_t(mix64(block) >> 20) & (kSize - 1);
    }
    std::atomic<uint32_t> epoch_{0};
    std::atomic<uint32_t> gen_[kSize] = {};
    std::atomic<uint32_t> inflight_[kSize] = {};
};

}  // namespace hypercache

struct hc_write_ticket {
    struct Block {
        uint64_t block;
        uint32_t entry;  // kNil: not cached, counted in the GenTable
        bool full;       // the write covered the whole block
    };
    std::vector<Block> blocks;
};

struct hc_extent_impl : hc_extent {  // the C API hands out the base
    std::vector<iovec> iovs;
    std::vector<uint32_t> entries;  // the blocks' tindx entries, in order
    uint64_t first_block;
    uint32_t nblocks;
};

struct hc_cache {
    hc_cache(const hc_config &cfg, uint32_t shards);

    // Operations behind the C API; they may throw std::bad_alloc, which
    // api.cc turns into -ENOMEM.
    void init();
    int reconfigure(const hc_config &cfg, char *err, size_t errlen);
    int read_begin(uint64_t offset, uint64_t len, hc_read_plan **plan);
    void read_fill(hc_read_plan *plan, size_t i, const void *buf);
    void read_fill_done(hc_read_plan *plan, size_t i);
    void read_failed(hc_read_plan *plan, size_t i);
    void read_end(hc_read_plan *plan);
    int write_begin(uint64_t offset, uint64_t len, const iovec *iov, int iovcnt,
                    size_t skip, unsigned flags, hc_write_ticket **ticket);
    void write_end(hc_write_ticket *ticket, int ret);
    uint64_t dirty_seq();
    int writeback_wanted(uint64_t now);
    int writeback_next(hc_wb_reason why, uint64_t upto, uint64_t now,
                       hc_extent **ext);
    void writeback_done(hc_extent *ext, int ret);
    uint64_t dirty_pending(uint64_t upto);
    int invalidate(uint64_t offset, uint64_t len, unsigned flags);
    bool range_dirty(uint64_t offset, uint64_t len, uint64_t *pnum);
    void get_stats(hc_stats *st);
    void reset_stats();
    double mrc_hit_ratio(double factor);
    void get_config(hc_config *cfg);

    // ---- internals (callers hold mu unless noted) ----
    uint32_t alloc_slot();       // evicts if needed; kNil if full
    bool evict_victim();         // one clean block out; false if none
    bool try_evict(uint32_t e);  // the EvictFn of the policy
    void drop(uint32_t e);       // takes the shard lock itself
    // Entry states change under mu and the block's shard lock (but see
    // write_clean() and settle_clean()), so holding either is enough to
    // read one (rewrite_dirty() holds only the shard lock).  Takes the shard
    // lock itself.
    void set_state(uint32_t e, uint8_t set, uint8_t clear = 0);
    // A cached block takes new data: dirty from @seqno on, unless it was
    // dirty already (its first-dirtied sequence number stands).
    void make_dirty(uint32_t e, uint64_t seqno);
    // A dirty block is on the child as cached: clean again.  Clears
    // @also_clear in the same step.
    void make_clean(uint32_t e, uint8_t also_clear = 0);
    void finish(hc_write_ticket *t, int ret);
    bool settle_clean(hc_write_ticket *t);  // shard locks only
    // Absorb a write of whole blocks [b0, b1) into WB, copying outside mu
    // (absorb.cc).  absorb_whole() takes mu itself; rewrite_dirty() only
    // shard locks, and declines blocks that are not idle and dirty.
    int absorb_whole(uint64_t b0, uint64_t b1, const IovCursor &src);
    bool rewrite_dirty(uint64_t b0, uint64_t b1, const IovCursor &src);
    // Update and claim cached, clean, idle blocks for a write to the child
    // under shard locks only (write-clean.cc).  False, with nothing
    // changed, if a block does not qualify.  Takes mu itself when needed.
    bool write_clean(uint64_t offset, uint64_t len, const IovCursor &src,
                     bool bypass, hc_write_ticket **ticket);
    void abandon(hc_write_ticket *t);  // takes mu
    void drop_locked(hypercache::Tindx::Shard &sh, uint32_t e);
    uint32_t insert(uint64_t block, uint32_t slot, uint8_t state);
    // Read misses (read.cc, fill.cc): reserve_fills() takes mu itself,
    // publish_clean() runs under it, publish_run() (a guest read's fill or
    // a hot-set prefetch's) takes it; build_segs() needs no lock.
    int new_plan(uint64_t offset, uint64_t len, uint64_t max_blocks,
                 hc_read_plan **out);
    void reserve_fills(hc_read_plan *plan);
    bool cached(uint64_t block);
    bool read_wait_pending(const hc_read_plan *plan, size_t i);
    void end_flight(hc_read_plan *plan, size_t i);
    bool publish_clean(uint64_t block, uint32_t slot, bool warm);
    int64_t publish_run(hc_read_plan *plan, size_t i, bool warm);
    void build_segs(hc_read_plan *plan);
    bool admit(uint64_t block) const;
    void make_policy();
    int shrink_to(uint32_t nslots);
    // Copy @n bytes at @dst_off of block entry @e from the write's data at
    // @src_pos, or zero them when @src is null; copies the block to a fresh
    // slot first when a reader has the old one pinned.  False if no slot
    // could be had for that copy.
    bool update_block(uint32_t e, uint32_t dst_off, uint32_t n,
                      const IovCursor *src, uint64_t src_pos, uint32_t *spare);
    uint64_t metadata_bytes() const;

    // Keeps entries from being evicted while an operation allocates slots
    // (which may evict) and then comes back to them, and keeps the
    // write-through fast path (write_clean) off them.  Code under mu that
    // checks a block's state and acts on it later adds the block in the same
    // hold of its shard lock as the check.
    struct Hold {
        hc_cache *c;
        std::vector<uint32_t> entries;
        void add(uint32_t e) {  // the caller holds the shard lock
            c->tindx.at(e).state |= hypercache::kHeld;
            entries.push_back(e);
        }
        ~Hold() {
            for (uint32_t e : entries) {
                c->set_state(e, 0, hypercache::kHeld);
            }
        }
    };

    const uint32_t block_size;
    const uint32_t shift;
    hc_config cfg;  // mu

    std::mutex mu;
    hypercache::Tindx tindx;
    hypercache::Tbuf tbuf;
    std::unique_ptr<hypercache::CountMinSketch> sketch;
    std::unique_ptr<hypercache::EvictionPolicy> policy;
    hypercache::DirtyTracker dirty;
    hypercache::GenTable gens;
    hypercache::InflightFills inflight;  // mu
    hypercache::SeqDetector seq;
    hypercache::MrcEstimator mrc;
    bool all_locked = false;  // reconfigure holds every shard lock
    uint64_t dirty_seq_ = 0;
    uint64_t wb_cursor = 0;
    // Write-back (writeback.cc, all under mu).  A hand-out that found no
    // idle dirty block with a sequence number up to wb_none_upto is not
    // repeated while wb_none_valid: the glue asks again after every
    // completion, and each scan would walk every dirty block.  Blocks get
    // new numbers only when they turn dirty, so only a busy dirty block
    // turning idle (a failed write-back, a finished write-through) can
    // make the answer wrong; those clear wb_none_valid.
    bool wb_none_valid = false;
    uint64_t wb_none_upto = 0;
    // Extents handed back, kept for reuse with their vectors' capacity
    // (the glue keeps up to 32 in flight).
    static constexpr size_t kKeepExtents = 64;
    std::vector<std::unique_ptr<hc_extent_impl>> ext_free;

    // Hot copies of mutable options, read without mu.
    std::atomic<int> mode;
    std::atomic<uint64_t> max_merge, seq_cutoff;

    // Occupancy gauges (written under mu, read anywhere), and evictions,
    // which happen under mu only (so not in st).
    hypercache::Gauge clean_blocks, dirty_blocks, wb_busy_blocks;
    hypercache::Gauge evictions;
    std::atomic<uint64_t> meta_static{0};
    std::atomic<uint32_t> capacity_slots{0};
    hypercache::Stats st;
};
