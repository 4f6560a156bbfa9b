// SPDX-License-Identifier: GPL-2.0-or-later
#include "dirty.h"

namespace hypercache {

void DirtyTracker::mark(uint64_t block, uint64_t seq, uint32_t entry) {
    blocks_.emplace(block, Info{seq, entry});
    seq_count_[seq]++;
}

void DirtyTracker::uncount(uint64_t seq, uint64_t n) {
    auto sc = seq_count_.find(seq);
    if ((sc->second -= n) == 0) {
        seq_count_.erase(sc);
    }
}

// Checkpoints older than every dirty block are no longer needed, but keep
// the newest of them: it dates the blocks dirtied right after.
void DirtyTracker::trim_checkpoints() {
    uint64_t oldest =
        seq_count_.empty() ? UINT64_MAX : seq_count_.begin()->first;
    while (checkpoints_.size() > 1 && checkpoints_[1].first < oldest) {
        checkpoints_.pop_front();
    }
}

void DirtyTracker::clear(uint64_t block) {
    auto it = blocks_.find(block);
    if (it == blocks_.end()) {
        return;
    }
    uncount(it->second.seq, 1);
    blocks_.erase(it);
    trim_checkpoints();
}

// One walk for a written-back extent; its blocks often share a sequence
// number (one guest write), so the count is only looked up on a change.
void DirtyTracker::clear_run(uint64_t first, uint64_t n) {
    auto it = blocks_.lower_bound(first);
    auto end = it;
    uint64_t seq = 0, same = 0;
    for (uint64_t i = 0; i < n && end != blocks_.end(); i++, ++end) {
        if (same && end->second.seq != seq) {
            uncount(seq, same);
            same = 0;
        }
        seq = end->second.seq;
        same++;
    }
    if (same) {
        uncount(seq, same);
    }
    blocks_.erase(it, end);
    trim_checkpoints();
}

void DirtyTracker::clear_all() {
    blocks_.clear();
    seq_count_.clear();
}

uint64_t DirtyTracker::pending(uint64_t upto) const {
    uint64_t n = 0;
    for (auto it = seq_count_.begin();
         it != seq_count_.end() && it->first <= upto; ++it) {
        n += it->second;
    }
    return n;
}

void DirtyTracker::checkpoint(uint64_t seq, uint64_t now) {
    if (!checkpoints_.empty() && (checkpoints_.back().first == seq ||
                                  checkpoints_.back().second > now)) {
        return;
    }
    checkpoints_.emplace_back(seq, now);
    // Bounded memory: forgetting old checkpoints only makes blocks look
    // older, which writes them back sooner, never later.
    if (checkpoints_.size() > 4096) {
        checkpoints_.pop_front();
    }
}

uint64_t DirtyTracker::seq_older_than(uint64_t now, uint64_t age) const {
    uint64_t s = 0;
    for (const auto &[seq, t] : checkpoints_) {
        if (t > now || now - t < age) {
            break;
        }
        s = seq;
    }
    return s;
}

bool DirtyTracker::oldest_older_than(uint64_t now, uint64_t age) const {
    if (seq_count_.empty()) {
        return false;
    }
    uint64_t s = seq_older_than(now, age);
    return s != 0 && s >= seq_count_.begin()->first;
}

}  // namespace hypercache
