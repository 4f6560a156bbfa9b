// SPDX-License-Identifier: GPL-2.0-or-later
#include "tindx.h"

namespace hypercache {

Tindx::Tindx(uint32_t shards)
    : shards_(next_pow2(shards)), shard_mask_(uint32_t(shards_.size()) - 1) {}

void Tindx::reserve(uint32_t capacity) {
    if (capacity > capacity_) {
        // Entry numbers must survive, so copy into a larger pool.
        auto grown = std::make_unique<Entry[]>(capacity);
        for (uint32_t i = 0; i < capacity_; i++) {
            Entry &d = grown[i];
            const Entry &s = entries_[i];
            d.block = s.block;
            d.slot = s.slot;
            d.hnext = s.hnext;
            d.qprev = s.qprev;
            d.qnext = s.qnext;
            d.state.store(s.state.load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
            d.queue = s.queue;
            d.freq.store(s.freq.load(std::memory_order_relaxed),
                         std::memory_order_relaxed);
        }
        entries_ = std::move(grown);
        for (uint32_t i = capacity; i-- > capacity_;) {
            entries_[i].hnext = free_head_;
            free_head_ = i;
            free_count_++;
        }
        capacity_ = capacity;
    }

    // Two buckets per entry a shard can expect to hold: every read miss
    // walks its bucket's whole chain, and each entry on it is a CPU cache
    // miss of its own; at one bucket per entry the chain holds one entry
    // on average, at two half of one.  4 more bytes per cached block made
    // read misses in a 256 MiB cache about 1.2x faster (docs/core.md).
    uint64_t want = 2 * next_pow2((uint64_t(capacity_) + shards_.size() - 1) /
                                  shards_.size());
    for (Shard &sh : shards_) {
        if (sh.buckets.size() >= want) {
            continue;
        }
        std::vector<uint32_t> old = std::move(sh.buckets);
        sh.buckets.assign(want, kNil);
        sh.mask = want - 1;
        for (uint32_t head : old) {
            for (uint32_t e = head; e != kNil;) {
                uint32_t next = entries_[e].hnext;
                link(sh, e);
                e = next;
            }
        }
    }
}

void Tindx::link(Shard &sh, uint32_t e) {
    uint32_t &head = sh.buckets[mix64(entries_[e].block) & sh.mask];
    entries_[e].hnext = head;
    head = e;
}

void Tindx::unlink(Shard &sh, uint32_t e) {
    uint32_t *p = &sh.buckets[mix64(entries_[e].block) & sh.mask];
    while (*p != e) {
        p = &entries_[*p].hnext;
    }
    *p = entries_[e].hnext;
    entries_[e].hnext = kNil;
}

uint32_t Tindx::alloc_entry() {
    uint32_t e = free_head_;
    if (e != kNil) {
        free_head_ = entries_[e].hnext;
        entries_[e].hnext = kNil;
        free_count_--;
    }
    return e;
}

void Tindx::free_entry(uint32_t e) {
    Entry &en = entries_[e];
    en.slot = kNil;
    en.state = kClean;
    en.qprev = en.qnext = kNil;
    en.freq.store(0, std::memory_order_relaxed);
    en.hnext = free_head_;
    free_head_ = e;
    free_count_++;
}

void Tindx::lock_all() {
    for (Shard &sh : shards_) {
        sh.mu.lock();
    }
}

void Tindx::unlock_all() {
    for (Shard &sh : shards_) {
        sh.mu.unlock();
    }
}

size_t Tindx::metadata_bytes() const {
    size_t n =
        size_t(capacity_) * sizeof(Entry) + shards_.size() * sizeof(Shard);
    for (const Shard &sh : shards_) {
        n += sh.buckets.capacity() * sizeof(uint32_t);
    }
    return n;
}

}  // namespace hypercache
