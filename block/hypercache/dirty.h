// SPDX-License-Identifier: GPL-2.0-or-later
//
// Dirty-block bookkeeping for WB, guarded by the tmaster mutex:
//  - the dirty blocks in offset order (write-back walks them to merge
//    neighbours into one extent);
//  - for each, the sequence number of the write that first dirtied it since
//    it was last clean, so a flush knows which blocks it must wait for (a
//    rewrite keeps the older number: the flush still owes that write);
//  - checkpoints pairing sequence numbers with the times the glue told us,
//    so ages are known without the core reading a clock itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <utility>

namespace hypercache {

class DirtyTracker {
public:
    struct Info {
        uint64_t seq;    // write that first dirtied the block
        uint32_t entry;  // its tindx entry (stable while dirty)
    };
    using Map = std::map<uint64_t, Info>;

    void mark(uint64_t block, uint64_t seq, uint32_t entry);
    void clear(uint64_t block);
    // Clear blocks [first, first + n), which are all dirty.
    void clear_run(uint64_t first, uint64_t n);
    void clear_all();

    Map &blocks() { return blocks_; }
    uint64_t count() const { return blocks_.size(); }
    // Dirty (or being written back) blocks first dirtied at or before @upto.
    uint64_t pending(uint64_t upto) const;

    // Remember that at @now the newest sequence number was @seq.
    void checkpoint(uint64_t seq, uint64_t now);
    // Newest sequence number whose blocks are at least @age old at @now;
    // 0 when none are.
    uint64_t seq_older_than(uint64_t now, uint64_t age) const;
    // Whether the oldest dirty block is at least @age old at @now.
    bool oldest_older_than(uint64_t now, uint64_t age) const;

    size_t metadata_bytes() const {
        // std::map nodes: four pointers and a colour, plus the payload.
        return blocks_.size() * (40 + sizeof(Map::value_type)) +
               seq_count_.size() * 48 + checkpoints_.size() * 16;
    }

private:
    void uncount(uint64_t seq, uint64_t n);
    void trim_checkpoints();

    Map blocks_;
    std::map<uint64_t, uint64_t> seq_count_;  // seq -> dirty blocks
    std::deque<std::pair<uint64_t, uint64_t>> checkpoints_;  // (seq, time)
};

}  // namespace hypercache
