// SPDX-License-Identifier: GPL-2.0-or-later
//
// Single flight: the blocks whose child reads are out right now, each with
// the id of the plan that reads it.  A later plan that misses such a block
// does not read the child again: it marks the block "wait" and its caller
// waits until that fill is over (published, refused or failed), then plans
// the range again and mostly hits.  Ids are what make the wait exact: a
// waiter waits for the fill it saw, not for whatever fill of the block
// comes next.  Everything here runs under the tmaster mutex.
#pragma once

#include <cstdint>
#include <unordered_map>

namespace hypercache {

class InflightFills {
public:
    // A new id for the fills one plan reserves (never 0: 0 means none).
    uint64_t next_id() { return ++last_; }
    // The id of the fill of @block in flight, or 0.
    uint64_t owner(uint64_t block) const {
        auto it = map_.find(block);
        return it == map_.end() ? 0 : it->second;
    }
    void add(uint64_t block, uint64_t id) { map_.emplace(block, id); }
    // The fill of @block by @id is over (no-op for id 0 or another id's).
    void remove(uint64_t block, uint64_t id) {
        auto it = map_.find(block);
        if (id && it != map_.end() && it->second == id) {
            map_.erase(it);
        }
    }
    bool pending(uint64_t block, uint64_t id) const {
        return id && owner(block) == id;
    }
    size_t size() const { return map_.size(); }

private:
    std::unordered_map<uint64_t, uint64_t> map_;
    uint64_t last_ = 0;
};

}  // namespace hypercache
