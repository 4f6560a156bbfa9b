// SPDX-License-Identifier: GPL-2.0-or-later
#include "ghost.h"

#include <algorithm>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace hypercache {

namespace {

// Bit i set where way i of @b holds @fp.
unsigned ways_equal(const Ghost::Bucket &b, uint32_t fp) {
#if defined(__SSE2__)
    __m128i k = _mm_set1_epi32(int(fp));
    unsigned m = 0;
    for (unsigned i = 0; i < Ghost::kWays / 4; i++) {
        __m128i v =
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(b.fp) + i);
        __m128 eq = _mm_castsi128_ps(_mm_cmpeq_epi32(v, k));
        m |= unsigned(_mm_movemask_ps(eq)) << (4 * i);
    }
    return m;
#else
    unsigned m = 0;
    for (unsigned i = 0; i < Ghost::kWays; i++) {
        m |= unsigned(b.fp[i] == fp) << i;
    }
    return m;
#endif
}

}  // namespace

void Ghost::resize(uint32_t capacity) {
    ring_.assign(capacity, 0);
    ring_.shrink_to_fit();
    head_ = 0;
    // As many words as a flat table of capacity * 1.5, rounded up to a
    // power of two: at most two thirds full.
    uint64_t words = capacity ? next_pow2(uint64_t(capacity) * 3 / 2 + 1) : 0;
    uint64_t n = words ? std::max<uint64_t>(words / kWays, 1) : 0;
    buckets_.assign(n, Bucket{});
    buckets_.shrink_to_fit();
    overflow_.assign(n, 0);
    overflow_.shrink_to_fit();
    mask_ = n ? n - 1 : 0;
}

bool Ghost::contains(uint64_t block) const {
    if (buckets_.empty()) {
        return false;
    }
    uint32_t fp = fingerprint(block);
    // At most once round the table, in case every bucket was passed.
    for (uint64_t b = fp & mask_, k = 0; k <= mask_; b = next(b), k++) {
        if (ways_equal(buckets_[b], fp)) {
            return true;
        }
        if (overflow_[b] == 0) {
            return false;
        }
    }
    return false;
}

// @fp is in the table: clear it, and uncount it where it passed.
void Ghost::remove(uint32_t fp) {
    for (uint64_t b = fp & mask_;; b = next(b)) {
        if (unsigned m = ways_equal(buckets_[b], fp)) {
            buckets_[b].fp[__builtin_ctz(m)] = 0;
            return;
        }
        overflow_[b]--;
    }
}

// One walk finds @block's fingerprint or the place for it: the first free
// way on the way (buckets before it are full and count it as passing).
void Ghost::insert(uint64_t block) {
    if (ring_.empty()) {
        return;
    }
    uint32_t fp = fingerprint(block);
    uint64_t place = UINT64_MAX;
    unsigned way = 0;
    for (uint64_t b = fp & mask_, k = 0; k <= mask_; b = next(b), k++) {
        if (ways_equal(buckets_[b], fp)) {
            return;  // known: it keeps its place in the FIFO
        }
        if (place == UINT64_MAX) {
            if (unsigned free = ways_equal(buckets_[b], 0)) {
                place = b;
                way = unsigned(__builtin_ctz(free));
            }
        }
        if (overflow_[b] == 0) {
            break;
        }
    }
    // The overwritten ring entry leaves first: it may sit in the bucket
    // chosen above, which stays right (a freed way is as good).
    uint32_t old = ring_[head_];
    if (old != 0) {
        remove(old);
    }
    if (place == UINT64_MAX) {
        // Every bucket up to the end of the probe was full: go on to the
        // first with a free way, counting @fp in those it passes.
        for (uint64_t b = fp & mask_;; b = next(b)) {
            if (unsigned free = ways_equal(buckets_[b], 0)) {
                place = b;
                way = unsigned(__builtin_ctz(free));
                break;
            }
        }
    }
    for (uint64_t b = fp & mask_; b != place; b = next(b)) {
        overflow_[b]++;
    }
    buckets_[place].fp[way] = fp;
    ring_[head_] = fp;
    head_ = head_ + 1 == ring_.size() ? 0 : head_ + 1;
}

}  // namespace hypercache
