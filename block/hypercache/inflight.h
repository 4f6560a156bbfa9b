// SPDX-License-Identifier: GPL-2.0-or-later
//
// Single flight: the blocks whose child reads are out right now, each with
// the id of the plan that reads it.  A later plan that misses such a block
// does not read the child again: it marks the block "wait" and its caller
// waits until that fill is over (published, refused or failed), then plans
// the range again and mostly hits.  Ids are what make the wait exact: a
// waiter waits for the fill it saw, not for whatever fill of the block
// comes next.  Everything here runs under the tmaster mutex.
//
// Every missed block is looked up, added and removed here, so the table is
// flat (open addressing, linear probing, deletion by backward shift): no
// allocation per block, and the few entries that are in flight at once
// stay in a few cache lines.  It grows when half full and never shrinks;
// its size follows the most blocks ever in flight at once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "util.h"

namespace hypercache {

class InflightFills {
public:
    // A new id for the fills one plan reserves (never 0: 0 means none).
    uint64_t next_id() { return ++last_; }
    // The id of the fill of @block in flight, or 0.
    uint64_t owner(uint64_t block) const {
        if (count_ == 0) {
            return 0;
        }
        const Slot &s = slots_[find(block)];
        return s.id;
    }
    // Register @block's fill by @id, unless one is registered already.
    // May throw std::bad_alloc (growing), before changing anything.
    void add(uint64_t block, uint64_t id) {
        if ((count_ + 1) * 2 > slots_.size()) {
            grow();
        }
        Slot &s = slots_[find(block)];
        if (!s.id) {
            s = Slot{block, id};
            count_++;
        }
    }
    // The fill of @block by @id is over (no-op for id 0 or another id's).
    void remove(uint64_t block, uint64_t id) {
        if (!id || count_ == 0) {
            return;
        }
        size_t hole = find(block);
        if (slots_[hole].id != id) {
            return;
        }
        // Pull back every later entry of the run that may fill the hole
        // (one whose home is not cyclically after the hole), so lookups
        // never meet a gap before their entry.
        size_t mask = slots_.size() - 1;
        for (size_t j = (hole + 1) & mask; slots_[j].id; j = (j + 1) & mask) {
            if (((j - home(slots_[j].block)) & mask) >= ((j - hole) & mask)) {
                slots_[hole] = slots_[j];
                hole = j;
            }
        }
        slots_[hole] = Slot{};
        count_--;
    }
    bool pending(uint64_t block, uint64_t id) const {
        return id && owner(block) == id;
    }
    size_t size() const { return count_; }

private:
    struct Slot {
        uint64_t block = 0;
        uint64_t id = 0;  // 0: empty
    };

    size_t home(uint64_t block) const {
        return mix64(block) & (slots_.size() - 1);
    }
    // @block's slot, or the empty slot that ends its run (the table is
    // never full).
    size_t find(uint64_t block) const {
        size_t mask = slots_.size() - 1;
        size_t i = home(block);
        while (slots_[i].id && slots_[i].block != block) {
            i = (i + 1) & mask;
        }
        return i;
    }
    void grow() {
        std::vector<Slot> old(std::max<size_t>(64, slots_.size() * 2));
        old.swap(slots_);
        for (const Slot &s : old) {
            if (s.id) {
                slots_[find(s.block)] = s;
            }
        }
    }

    std::vector<Slot> slots_;
    size_t count_ = 0;
    uint64_t last_ = 0;
};

}  // namespace hypercache
