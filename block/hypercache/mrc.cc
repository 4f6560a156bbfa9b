// SPDX-License-Identifier: GPL-2.0-or-later
#include "mrc.h"

#include <algorithm>

#include "util.h"

namespace hypercache {

namespace {
uint64_t sample_hash(uint64_t block) {
    return mix64(block ^ 0x2545f4914f6cdd1dULL) &
           (MrcEstimator::kHashRange - 1);
}
}  // namespace

void MrcEstimator::fenwick_add(uint64_t t, int delta) {
    for (uint64_t i = t - base_ + 1; i <= fenwick_.size(); i += i & -i) {
        fenwick_[i - 1] += delta;
    }
}

uint64_t MrcEstimator::fenwick_sum(uint64_t t) const {
    int64_t s = 0;
    for (uint64_t i = t - base_ + 1; i > 0; i -= i & -i) {
        s += fenwick_[i - 1];
    }
    return uint64_t(s);
}

// Times grow without bound; when the tree is full, renumber the live marks
// (one per tracked block) densely from zero.
void MrcEstimator::compact() {
    std::map<uint64_t, uint64_t *> order;
    for (auto &[block, t] : last_) {
        order.emplace(t, &t);
    }
    size_t n = std::max<size_t>(4 * kMaxTracked, 4 * order.size());
    fenwick_.assign(n, 0);
    base_ = 0;
    uint64_t t = 0;
    for (auto &[old, p] : order) {
        *p = t;
        fenwick_add(t, 1);
        t++;
    }
    now_ = t;
}

uint64_t MrcEstimator::distance(uint64_t last_time) {
    return fenwick_sum(now_ - 1) - fenwick_sum(last_time);
}

void MrcEstimator::record(uint64_t block) {
    if (sample_hash(block) >= threshold_.load(std::memory_order_relaxed)) {
        return;
    }
    // Sampled: queue it in this thread's batch; the batch is replayed into
    // the estimator once full, so the estimator's mutex is taken once per
    // kBatch samples and iothreads do not contend for it on every hit.
    // Threads' accesses interleave at batch granularity, which moves stack
    // distances by at most a batch or so: noise for a miss-ratio curve.
    Batch &bt = batches_[thread_stripe()];
    uint64_t full[kBatch];
    {
        std::lock_guard g(bt.mu);
        bt.blocks[bt.n++] = block;
        if (bt.n < kBatch) {
            return;
        }
        std::copy(bt.blocks, bt.blocks + kBatch, full);
        bt.n = 0;
    }
    std::lock_guard g(mu_);
    for (uint64_t b : full) {
        replay(b);
    }
}

// Take every batch's queued samples (callers hold mu_).
void MrcEstimator::drain_batches() {
    for (Batch &bt : batches_) {
        std::lock_guard g(bt.mu);
        for (uint32_t i = 0; i < bt.n; i++) {
            replay(bt.blocks[i]);
        }
        bt.n = 0;
    }
}

void MrcEstimator::replay(uint64_t block) {
    uint64_t h = sample_hash(block);
    uint64_t threshold = threshold_.load(std::memory_order_relaxed);
    if (h >= threshold) {
        return;  // the rate was cut after this sample was queued
    }
    if (fenwick_.empty() || now_ - base_ >= fenwick_.size()) {
        compact();
    }
    // Each sample stands for 1/rate accesses; weighting by that keeps
    // samples taken before a rate cut from dominating those after it.
    double scale = double(kHashRange) / double(threshold);
    total_ += scale;
    auto it = last_.find(block);
    if (it == last_.end()) {
        cold_ += scale;
        last_.emplace(block, now_);
        by_hash_.emplace(h, block);
    } else {
        uint64_t d = distance(it->second);
        // Bucket the scaled distance coarsely: 64 buckets per octave keep
        // the histogram small at any scale.
        uint64_t sd = uint64_t(double(d + 1) * scale);
        unsigned lg = 63 - unsigned(__builtin_clzll(sd | 1));
        uint64_t key = lg < 6 ? sd : (sd >> (lg - 6)) << (lg - 6);
        hist_[key] += scale;
        fenwick_add(it->second, -1);
        it->second = now_;
    }
    fenwick_add(now_, 1);
    now_++;
    while (last_.size() > kMaxTracked) {
        // Fixed-size SHARDS: lower the rate to drop the largest hash.
        auto top = std::prev(by_hash_.end());
        threshold_.store(top->first, std::memory_order_relaxed);
        auto lt = last_.find(top->second);
        fenwick_add(lt->second, -1);
        last_.erase(lt);
        by_hash_.erase(top);
    }
}

double MrcEstimator::hit_ratio(double blocks) {
    std::lock_guard g(mu_);
    drain_batches();
    if (total_ < 256) {
        return -1;
    }
    double hits = 0;
    for (auto &[d, w] : hist_) {
        if (double(d) > blocks) {
            break;
        }
        hits += w;
    }
    return hits / total_;
}

void MrcEstimator::reset() {
    std::lock_guard g(mu_);
    for (Batch &bt : batches_) {
        std::lock_guard bg(bt.mu);
        bt.n = 0;
    }
    threshold_.store(kMaxThreshold, std::memory_order_relaxed);
    now_ = base_ = 0;
    last_.clear();
    by_hash_.clear();
    fenwick_.clear();
    hist_.clear();
    cold_ = total_ = 0;
}

size_t MrcEstimator::metadata_bytes() const {
    // A bound, not a measurement (no lock needed): kMaxTracked map and set
    // nodes, the Fenwick tree, and at most 64 histogram buckets per octave.
    return kMaxTracked * (48 + 48) + 4 * kMaxTracked * 4 + 64 * 64 * 56 +
           sizeof(batches_);
}

}  // namespace hypercache
