// SPDX-License-Identifier: GPL-2.0-or-later
#include "dirty.h"

namespace hypercache {

void DirtyTracker::mark(uint64_t block, uint64_t seq, uint32_t entry) {
    blocks_.emplace(block, Info{seq, entry});
    seq_count_[seq]++;
}

void DirtyTracker::clear(uint64_t block) {
    auto it = blocks_.find(block);
    if (it == blocks_.end()) {
        return;
    }
    auto sc = seq_count_.find(it->second.seq);
    if (--sc->second == 0) {
        seq_count_.erase(sc);
    }
    blocks_.erase(it);
    // Checkpoints older than every dirty block are no longer needed, but
    // keep the newest of them: it dates the blocks dirtied right after.
    uint64_t oldest =
        seq_count_.empty() ? UINT64_MAX : seq_count_.begin()->first;
    while (checkpoints_.size() > 1 && checkpoints_[1].first < oldest) {
        checkpoints_.pop_front();
    }
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
