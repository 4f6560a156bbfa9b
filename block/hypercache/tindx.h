// SPDX-License-Identifier: GPL-2.0-or-later
//
// tindx, the index table: block number -> entry, sharded by hash so several
// iothreads can look up at once.  Expected O(1): chained buckets of 32-bit
// entry numbers, two buckets per possible entry.
//
// An entry lives in one pool for the whole cache (entry numbers are stable,
// so policies can link entries into queues by number).  Fields and who may
// touch them:
//   block, slot, hnext, state  - the shard lock of 'block' (changes also
//                                hold the tmaster mutex, except that a
//                                write-through may claim an idle clean
//                                block, and clear its kWriting again,
//                                under the shard lock alone; state is
//                                atomic so mutex holders may read it)
//   qprev, qnext, queue        - the eviction policy (tmaster mutex)
//   freq                       - anyone, relaxed atomic (hits bump it)
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "util.h"

namespace hypercache {

enum EntryState : uint8_t {
    kClean = 0,
    kDirty = 1,      // newer than the child: in WB
    kWriteback = 2,  // handed out by hc_writeback_next, not yet done
    kWriting = 4,    // a write-through of this block is in flight
    kHeld = 8,       // an operation under the tmaster mutex relies on this
                     // entry staying as it saw it (no eviction, no claim
                     // by the write-through fast path)
};
inline constexpr uint8_t kBusy = kWriteback | kWriting;

struct Entry {
    uint64_t block = 0;
    uint32_t slot = kNil;  // kNil: entry is free
    uint32_t hnext = kNil;
    uint32_t qprev = kNil;
    uint32_t qnext = kNil;
    std::atomic<uint8_t> state{kClean};
    uint8_t queue = 0;
    std::atomic<uint8_t> freq{0};
};
static_assert(sizeof(Entry) <= 32, "keep tindx entries small");

class Tindx {
public:
    struct alignas(64) Shard {
        std::mutex mu;
        std::vector<uint32_t> buckets;
        uint64_t mask = 0;
    };

    explicit Tindx(uint32_t shards);

    // Make room for @capacity entries.  Callers hold every shard lock (or
    // no one else can see the index yet).  May throw std::bad_alloc.
    void reserve(uint32_t capacity);

    uint32_t shard_count() const { return uint32_t(shards_.size()); }
    uint32_t shard_index(uint64_t block) const {
        return uint32_t(mix64(block) >> 40) & shard_mask_;
    }
    Shard &shard_of(uint64_t block) { return shards_[shard_index(block)]; }
    Shard &shard(uint32_t i) { return shards_[i]; }

    // The caller holds the shard lock of @block.
    uint32_t find(const Shard &sh, uint64_t block) const {
        uint32_t e = sh.buckets[mix64(block) & sh.mask];
        while (e != kNil && entries_[e].block != block) {
            e = entries_[e].hnext;
        }
        return e;
    }
    // Start loading @block's bucket, for a lookup a little later.  The
    // caller holds any shard lock or the tmaster mutex (either keeps
    // reserve() from swapping the buckets).
    void prefetch(uint64_t block) const {
        const Shard &sh = shards_[shard_index(block)];
        __builtin_prefetch(&sh.buckets[mix64(block) & sh.mask]);
    }
    void link(Shard &sh, uint32_t e);
    void unlink(Shard &sh, uint32_t e);

    // The entry pool; alloc/free under the tmaster mutex.
    uint32_t alloc_entry();
    void free_entry(uint32_t e);

    Entry &at(uint32_t e) { return entries_[e]; }
    const Entry &at(uint32_t e) const { return entries_[e]; }
    uint32_t capacity() const { return capacity_; }
    uint32_t in_use() const { return capacity_ - free_count_; }

    void lock_all();
    void unlock_all();

    size_t metadata_bytes() const;

private:
    std::vector<Shard> shards_;
    uint32_t shard_mask_;
    std::unique_ptr<Entry[]> entries_;
    uint32_t capacity_ = 0;
    uint32_t free_head_ = kNil;  // free entries chain through hnext
    uint32_t free_count_ = 0;
};

}  // namespace hypercache
