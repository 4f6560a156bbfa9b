// SPDX-License-Identifier: GPL-2.0-or-later
#include "sketch.h"

#include <algorithm>

#include "util.h"

namespace hypercache {

namespace {
// Nibble index (0..15) of row @r for hash @h: each row owns its own quarter
// of the word so the four counters of one block never alias each other.
inline unsigned nibble(uint64_t h, unsigned r) {
    return r * 4 + unsigned((h >> (40 + 2 * r)) & 3);
}
}  // namespace

CountMinSketch::CountMinSketch(uint32_t capacity) {
    resize(capacity);
}

void CountMinSketch::resize(uint32_t capacity) {
    // Four counters per row per cached block (blocks seen but not cached
    // need counters too), and an aging period of ten accesses per cached
    // block, as TinyLFU found to work.
    nwords_ = next_pow2(std::max<uint64_t>(capacity, 64));
    words_ = std::make_unique<std::atomic<uint64_t>[]>(nwords_);
    for (uint64_t i = 0; i < nwords_; i++) {
        words_[i].store(0, std::memory_order_relaxed);
    }
    sample_limit_ = uint64_t(std::max<uint32_t>(capacity, 64)) * 10;
    uint64_t half = sample_limit_ / 2;
    batch_ = std::min<uint64_t>(64, half & -half);
    for (Pending &p : pending_) {
        p.n.store(0, std::memory_order_relaxed);
    }
    samples_.store(0, std::memory_order_relaxed);
}

void CountMinSketch::record(uint64_t block) {
    uint64_t h = hash(block);
    std::atomic<uint64_t> &w = words_[h & (nwords_ - 1)];
    uint64_t old = w.load(std::memory_order_relaxed);
    uint64_t next;
    do {
        next = old;
        for (unsigned r = 0; r < 4; r++) {
            unsigned n = nibble(h, r);
            if (((old >> (n * 4)) & 0xf) != kMax) {
                next += uint64_t(1) << (n * 4);
            }
        }
    } while (next != old &&
             !w.compare_exchange_weak(old, next, std::memory_order_relaxed));
    std::atomic<uint64_t> &mine = pending_[thread_stripe()].n;
    // batch_ is a power of two: a mask, not a division (a 64-bit divide
    // was a third of this function's time on every lookup).
    if (((mine.fetch_add(1, std::memory_order_relaxed) + 1) & (batch_ - 1)) !=
        0) {
        return;
    }
    if (samples_.fetch_add(batch_, std::memory_order_relaxed) + batch_ ==
        sample_limit_) {
        age();
    }
}

uint32_t CountMinSketch::estimate(uint64_t block) const {
    uint64_t h = hash(block);
    uint64_t w = words_[h & (nwords_ - 1)].load(std::memory_order_relaxed);
    uint32_t m = kMax;
    for (unsigned r = 0; r < 4; r++) {
        m = std::min<uint32_t>(m, uint32_t(w >> (nibble(h, r) * 4)) & 0xf);
    }
    return m;
}

// Halve every counter: old popularity fades, new popularity can win.
void CountMinSketch::age() {
    for (uint64_t i = 0; i < nwords_; i++) {
        uint64_t old = words_[i].load(std::memory_order_relaxed);
        while (!words_[i].compare_exchange_weak(
            old, (old >> 1) & 0x7777777777777777ULL,
            std::memory_order_relaxed)) {
        }
    }
    samples_.fetch_sub(sample_limit_ / 2, std::memory_order_relaxed);
}

}  // namespace hypercache
