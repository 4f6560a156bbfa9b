// SPDX-License-Identifier: GPL-2.0-or-later
//
// Ghost history: the most recently evicted blocks (numbers only, no data),
// in FIFO order, with O(1) membership.  A block that comes back while its
// ghost is remembered has shown reuse at a distance the cache could not
// hold, so the eviction policy treats it as frequent.
//
// Stores 32-bit fingerprints in a ring (the FIFO order) plus a hash table
// of the same fingerprints: about 12 bytes per remembered block.  A
// fingerprint is in the table exactly when it is in the ring, once:
// insert() leaves a known one where it is, and the ring entry it overwrites
// leaves the table.
//
// Every eviction inserts and every admission looks up, so this is on the
// read-miss path.  The table is made of 64-byte buckets of 16 fingerprints;
// an operation usually reads one bucket, compared at once (SSE2 where
// there is one).  A full bucket passes new fingerprints on to the next
// bucket and counts them (overflow_), so a lookup stops at the first
// bucket that nothing passed, and deletion needs no tombstones.  The
// table is at most two thirds full.
//
// A fingerprint collision only makes one block look reused; it never
// affects correctness.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "util.h"

namespace hypercache {

class Ghost {
public:
    explicit Ghost(uint32_t capacity = 0) { resize(capacity); }
    void resize(uint32_t capacity);
    void insert(uint64_t block);
    bool contains(uint64_t block) const;
    // Start loading @block's home bucket, for an insert() or contains()
    // a little later.
    void prefetch(uint64_t block) const {
        if (!buckets_.empty()) {
            __builtin_prefetch(&buckets_[fingerprint(block) & mask_]);
        }
    }
    size_t metadata_bytes() const {
        return ring_.capacity() * 4 + buckets_.capacity() * sizeof(Bucket) +
               overflow_.capacity() * sizeof(uint32_t);
    }

    static constexpr unsigned kWays = 16;
    struct alignas(64) Bucket {
        uint32_t fp[kWays];  // 0 = empty
    };

private:
    static uint32_t fingerprint(uint64_t block) {
        uint32_t fp = uint32_t(mix64(block) >> 32);
        return fp ? fp : 1;
    }
    void remove(uint32_t fp);
    uint64_t next(uint64_t b) const { return (b + 1) & mask_; }

    std::vector<uint32_t> ring_;  // fingerprints, 0 = empty
    uint32_t head_ = 0;           // next ring position to overwrite
    std::vector<Bucket> buckets_;
    // Per bucket: fingerprints placed further on that passed it, full.
    std::vector<uint32_t> overflow_;
    uint64_t mask_ = 0;
};

}  // namespace hypercache
