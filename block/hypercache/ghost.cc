// SPDX-License-Identifier: GPL-2.0-or-later
#include "ghost.h"

#include "util.h"

namespace hypercache {

uint32_t Ghost::fingerprint(uint64_t block) {
    uint32_t fp = uint32_t(mix64(block) >> 32);
    return fp ? fp : 1;
}

void Ghost::resize(uint32_t capacity) {
    ring_.assign(capacity, 0);
    ring_.shrink_to_fit();
    head_ = 0;
    uint64_t n = capacity ? next_pow2(uint64_t(capacity) * 3 / 2 + 1) : 0;
    table_.assign(n, 0);
    table_.shrink_to_fit();
    mask_ = n ? n - 1 : 0;
}

// Whether @fp is in the table, and where.  Probing starts at the
// fingerprint's home, so the table needs no second hash.
bool Ghost::find(uint32_t fp, uint64_t *pos) const {
    if (table_.empty()) {
        return false;
    }
    for (uint64_t i = fp & mask_;; i = (i + 1) & mask_) {
        uint32_t v = table_[i];
        if (v == 0) {
            return false;
        }
        if (v == fp) {
            *pos = i;
            return true;
        }
    }
}

bool Ghost::contains(uint64_t block) const {
    uint64_t pos;
    return find(fingerprint(block), &pos);
}

// Backward-shift deletion keeps linear probing free of tombstones.
void Ghost::erase_at(uint64_t pos) {
    uint64_t hole = pos;
    for (uint64_t i = (pos + 1) & mask_; table_[i] != 0; i = (i + 1) & mask_) {
        uint64_t home = table_[i] & mask_;
        // Move entry i into the hole unless its home lies in (hole, i].
        bool stays =
            hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (!stays) {
            table_[hole] = table_[i];
            hole = i;
        }
    }
    table_[hole] = 0;
}

void Ghost::insert(uint64_t block) {
    if (ring_.empty()) {
        return;
    }
    uint32_t fp = fingerprint(block);
    uint64_t pos;
    if (find(fp, &pos)) {
        return;
    }
    uint32_t old = ring_[head_];
    if (old != 0 && find(old, &pos)) {
        erase_at(pos);
    }
    ring_[head_] = fp;
    uint64_t i = fp & mask_;
    while (table_[i] != 0) {
        i = (i + 1) & mask_;
    }
    table_[i] = fp;
    head_ = head_ + 1 == ring_.size() ? 0 : head_ + 1;
}

}  // namespace hypercache
