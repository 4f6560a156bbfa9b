// SPDX-License-Identifier: GPL-2.0-or-later
//
// The eviction policy interface.  Each policy is one small type (like
// CacheLib's MMLru / MMS3FIFO) that orders tindx entries in its own queues,
// linked through Entry::qprev/qnext.  Admission and the frequency estimate
// are separate pieces (admission.h, sketch.h).
//
// Locking: insert, remove, evict_one and resize run under the tmaster mutex;
// touch runs on the hit path under only the block's shard lock, possibly on
// several threads at once, so it must be cheap and self-synchronising.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "tindx.h"

namespace hypercache {

class FrequencyEstimator;

// A non-owning reference to "try to evict entry e": true when e was taken
// out of the index and its slot freed (the policy then unlinks e); false
// when e cannot go now (dirty, busy or pinned).
class EvictFn {
public:
    template <typename F>
    EvictFn(F &f)  // NOLINT: implicit by design, like std::function_ref
        : obj_(&f),
          call_([](void *o, uint32_t e) { return (*static_cast<F *>(o))(e); }) {
    }
    bool operator()(uint32_t e) const { return call_(obj_, e); }

private:
    void *obj_;
    bool (*call_)(void *, uint32_t);
};

class EvictionPolicy {
public:
    virtual ~EvictionPolicy() = default;
    virtual void insert(Tindx &tx, uint32_t e) = 0;
    virtual void touch(Tindx &tx, uint32_t e) = 0;
    virtual void remove(Tindx &tx, uint32_t e) = 0;
    // Evict one entry; false if nothing could be evicted.
    virtual bool evict_one(Tindx &tx, EvictFn try_evict) = 0;
    virtual void resize(uint32_t capacity) = 0;
    virtual size_t metadata_bytes() const = 0;
    // @block will be inserted soon: start loading what insert() reads.
    virtual void prefetch_insert(uint64_t) const {}

    // Hot sets (hotset.cc), under the tmaster mutex.  rank() appends the
    // entries the policy holds, most valuable first by its own measure
    // (roughly the reverse of the order it would evict them in).
    virtual void rank(const Tindx &tx, std::vector<uint32_t> *out) const = 0;
    // A block prefetched from a hot set: it proved its worth before the
    // restart, so it is kept where the policy keeps proven blocks, but
    // behind every block already there: what the guest uses now outranks
    // what it used before, and prefetched blocks inserted later (colder
    // ones: hot sets load hottest first) go before earlier ones.
    virtual void insert_warm(Tindx &tx, uint32_t e) = 0;
};

// An intrusive FIFO/LRU list of entries (head = newest).
class EntryList {
public:
    void push_head(Tindx &tx, uint32_t e);
    void push_tail(Tindx &tx, uint32_t e);
    void unlink(Tindx &tx, uint32_t e);
    uint32_t head() const { return head_; }
    uint32_t tail() const { return tail_; }
    uint32_t size() const { return size_; }

private:
    uint32_t head_ = kNil;
    uint32_t tail_ = kNil;
    uint32_t size_ = 0;
};

// Tunables of the queue policies, measured in docs/core.md.
struct QueueParams {
    uint32_t small_pct = 10;      // probation (small FIFO) share of capacity
    uint32_t move_threshold = 1;  // hits in small needed to reach main
    uint32_t ghost_pct = 90;      // ghost history, share of capacity
    uint32_t max_freq = 3;        // saturation of the per-entry hit counter
    // FREQ only: a block hit once in small is promoted anyway when its
    // sketch frequency reaches this (0 = off).
    uint32_t sketch_promote = 0;
};

std::unique_ptr<EvictionPolicy> make_lru_policy(uint32_t capacity);
std::unique_ptr<EvictionPolicy> make_queue_policy(
    uint32_t capacity, const QueueParams &params,
    const FrequencyEstimator *freq);

}  // namespace hypercache
