// SPDX-License-Identifier: GPL-2.0-or-later
//
// Ghost history: the most recently evicted blocks (numbers only, no data),
// in FIFO order, with O(1) membership.  A block that comes back while its
// ghost is remembered has shown reuse at a distance the cache could not
// hold, so the eviction policy treats it as frequent.
//
// Stores 32-bit fingerprints in a ring plus an open-addressed table of the
// same fingerprints: about 12 bytes per remembered block.  A fingerprint
// is in the table exactly when it is in the ring, once: insert() leaves a
// known one where it is, and the ring entry it overwrites leaves the table.
// So probing compares table words only and never visits the ring (every
// eviction inserts, every admission looks up: this is on the miss path).
// A fingerprint collision only makes one block look reused; it never
// affects correctness.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hypercache {

class Ghost {
public:
    explicit Ghost(uint32_t capacity = 0) { resize(capacity); }
    void resize(uint32_t capacity);
    void insert(uint64_t block);
    bool contains(uint64_t block) const;
    size_t metadata_bytes() const {
        return ring_.capacity() * 4 + table_.capacity() * 4;
    }

private:
    static uint32_t fingerprint(uint64_t block);
    bool find(uint32_t fp, uint64_t *pos) const;
    void erase_at(uint64_t pos);

    std::vector<uint32_t> ring_;   // fingerprints, 0 = empty
    uint32_t head_ = 0;            // next ring position to overwrite
    std::vector<uint32_t> table_;  // fingerprints, 0 = empty
    uint64_t mask_ = 0;
};

}  // namespace hypercache
