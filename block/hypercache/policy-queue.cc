// SPDX-License-Identifier: GPL-2.0-or-later
//
// HC_POLICY_S3FIFO and HC_POLICY_FREQ: a small probation FIFO, a main FIFO
// with second chances (CLOCK) and a ghost history of blocks evicted from
// probation.  New blocks wait in the small queue; only those hit while there
// (or remembered by the ghost) reach main, so a scan passes through without
// flushing the hot set.  Hits only bump an atomic counter: no list moves, no
// lock on the hit path.
//
// FREQ adds the tmaster's access-frequency sketch (the paper's per-block
// access counter, kept for uncached blocks too): leaving probation takes two
// hits there, or one for a block the sketch already rates frequent.  Tuned
// by replaying real traces; see docs/core.md.
#include <algorithm>

#include "ghost.h"
#include "policy.h"
#include "sketch.h"

namespace hypercache {

namespace {

enum Queue : uint8_t { kSmall = 0, kMain = 1 };

class QueuePolicy final : public EvictionPolicy {
public:
    QueuePolicy(uint32_t capacity, const QueueParams &p,
                const FrequencyEstimator *freq)
        : p_(p), freq_(freq) {
        resize(capacity);
    }

    void insert(Tindx &tx, uint32_t e) override {
        Entry &en = tx.at(e);
        en.freq.store(0, std::memory_order_relaxed);
        bool hot = ghost_.contains(en.block);
        en.queue = hot ? kMain : kSmall;
        (hot ? main_ : small_).push_head(tx, e);
    }

    void prefetch_insert(uint64_t block) const override {
        ghost_.prefetch(block);
    }

    void touch(Tindx &tx, uint32_t e) override {
        std::atomic<uint8_t> &f = tx.at(e).freq;
        uint8_t v = f.load(std::memory_order_relaxed);
        if (v < p_.max_freq) {
            f.store(uint8_t(v + 1), std::memory_order_relaxed);
        }
    }

    void remove(Tindx &tx, uint32_t e) override {
        list(tx.at(e).queue).unlink(tx, e);
    }

    bool evict_one(Tindx &tx, EvictFn try_evict) override {
        // Every entry is examined a bounded number of times: each visit
        // either evicts, promotes, or lowers a counter; entries that cannot
        // go (dirty, pinned) go round again until the budget runs out.
        uint64_t budget =
            uint64_t(small_.size() + main_.size()) * (p_.max_freq + 2) + 8;
        while (budget-- > 0) {
            if (small_.size() + main_.size() == 0) {
                return false;
            }
            if (small_.size() > small_target_ || main_.size() == 0) {
                if (evict_small(tx, try_evict)) {
                    return true;
                }
            } else if (evict_main(tx, try_evict)) {
                return true;
            }
        }
        return false;
    }

    void resize(uint32_t capacity) override {
        capacity_ = capacity;
        small_target_ = std::max<uint32_t>(
            1, uint32_t(uint64_t(capacity) * p_.small_pct / 100));
        ghost_.resize(uint32_t(uint64_t(capacity) * p_.ghost_pct / 100));
    }

    size_t metadata_bytes() const override {
        return sizeof(*this) + ghost_.metadata_bytes();
    }

    // Main before probation (main holds the blocks that proved reuse);
    // within a queue by CLOCK counter and, for FREQ, the sketch's count,
    // highest first, and among equals from the head (the last to be
    // evicted) on.  A bucket sort: this runs under the tmaster mutex.
    void rank(const Tindx &tx, std::vector<uint32_t> *out) const override {
        rank_queue(tx, main_, out);
        rank_queue(tx, small_, out);
    }

    // Main's tail, without credit: the first that CLOCK will take, before
    // any block the guest has brought in or hit since.
    void insert_warm(Tindx &tx, uint32_t e) override {
        Entry &en = tx.at(e);
        en.freq.store(0, std::memory_order_relaxed);
        en.queue = kMain;
        main_.push_tail(tx, e);
    }

private:
    static constexpr uint32_t kSketchLevels = 16;  // 4-bit counters

    uint32_t value(const Entry &en) const {
        uint32_t f = std::min<uint32_t>(en.freq.load(std::memory_order_relaxed),
                                        p_.max_freq);
        uint32_t s =
            freq_ ? std::min(freq_->estimate(en.block), kSketchLevels - 1) : 0;
        return f * kSketchLevels + s;
    }

    void rank_queue(const Tindx &tx, const EntryList &q,
                    std::vector<uint32_t> *out) const {
        // Hits bump counters meanwhile (without the mutex): read each
        // entry's value once.
        uint32_t levels = (p_.max_freq + 1) * kSketchLevels;
        std::vector<uint32_t> start(levels, 0);
        std::vector<std::pair<uint32_t, uint32_t>> order;  // entry, rank
        order.reserve(q.size());
        for (uint32_t e = q.head(); e != kNil; e = tx.at(e).qnext) {
            uint32_t r = levels - 1 - value(tx.at(e));
            order.emplace_back(e, r);
            start[r]++;
        }
        // Exclusive prefix sums: each rank's first position.
        uint32_t pos = 0;
        for (uint32_t &c : start) {
            uint32_t n = c;
            c = pos;
            pos += n;
        }
        size_t base = out->size();
        out->resize(base + order.size());
        for (const auto &[e, r] : order) {
            (*out)[base + start[r]++] = e;
        }
    }

    EntryList &list(uint8_t q) { return q == kMain ? main_ : small_; }

    // One step on the small queue's tail; true if something was evicted.
    bool evict_small(Tindx &tx, EvictFn try_evict) {
        uint32_t e = small_.tail();
        Entry &en = tx.at(e);
        small_.unlink(tx, e);
        // The next victim (whose entry unlink() just touched): start
        // loading its index bucket and ghost bucket for the next eviction,
        // which a request of many misses makes right after this one.
        if (uint32_t nx = small_.tail(); nx != kNil) {
            tx.prefetch(tx.at(nx).block);
            ghost_.prefetch(tx.at(nx).block);
        }
        uint8_t f = en.freq.load(std::memory_order_relaxed);
        // FREQ: one hit in probation is enough for a block whose longer
        // history (the sketch) says it is frequent; others need more.
        bool promote = f >= p_.move_threshold ||
                       (f >= 1 && freq_ && p_.sketch_promote &&
                        freq_->estimate(en.block) >= p_.sketch_promote);
        if (promote) {
            en.freq.store(0, std::memory_order_relaxed);
            en.queue = kMain;
            main_.push_head(tx, e);
            return false;
        }
        uint64_t block = en.block;
        if (try_evict(e)) {
            ghost_.insert(block);
            return true;
        }
        // Refused: dirty (new writes land here dirty) or pinned.  Back at
        // the head of probation it would be met again on every eviction
        // while probation stays over its target, so an eviction would scan
        // all of probation, and allocation would fail with clean blocks to
        // spare in main.  It goes to main, with no credit: once clean and
        // unused, CLOCK evicts it at its first visit.
        en.freq.store(0, std::memory_order_relaxed);
        en.queue = kMain;
        main_.push_head(tx, e);
        return false;
    }

    bool evict_main(Tindx &tx, EvictFn try_evict) {
        uint32_t e = main_.tail();
        Entry &en = tx.at(e);
        main_.unlink(tx, e);
        uint8_t f = en.freq.load(std::memory_order_relaxed);
        if (f > 0) {
            en.freq.store(uint8_t(f - 1), std::memory_order_relaxed);
            main_.push_head(tx, e);
            return false;
        }
        if (try_evict(e)) {
            return true;
        }
        main_.push_head(tx, e);
        return false;
    }

    QueueParams p_;
    const FrequencyEstimator *freq_;
    uint32_t capacity_ = 0;
    uint32_t small_target_ = 1;
    EntryList small_, main_;
    Ghost ghost_;
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_queue_policy(
    uint32_t capacity, const QueueParams &params,
    const FrequencyEstimator *freq) {
    return std::make_unique<QueuePolicy>(capacity, params, freq);
}

}  // namespace hypercache
