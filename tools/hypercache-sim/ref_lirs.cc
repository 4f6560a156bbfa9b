// SPDX-License-Identifier: GPL-2.0-or-later
//
// LIRS: S. Jiang and X. Zhang, "LIRS: An Efficient Low Inter-reference
// Recency Set Replacement Policy to Improve Buffer Cache Performance",
// SIGMETRICS'02, section 3 (stack S, list Q, stack pruning, the three cases
// of a reference).  The HIR part of the cache, Lhirs, is 1 % of the cache as
// in the paper's experiments (at least one block).  Non-resident HIR blocks
// stay in S until pruning removes them or, as the paper allows for bounding
// S (section 4.4), until more than the cache size of them are kept: then the
// oldest one leaves S.  That bound is what libCacheSim's figures in
// anchors.md use (without it cloudPhysicsIO at 5 % reads .876, not .853).
#include <algorithm>

#include "block_list.h"
#include "reference.h"

namespace hcsim {

namespace {

enum State : uint8_t { kNone, kLir, kHirResident, kHirGhost };

class Lirs {
public:
    Lirs(uint64_t n, uint64_t c)
        : s_arena_(n),
          q_arena_(n),
          state_(n, kNone),
          in_s_(n, 0),
          c_(c),
          lhirs_(std::max<uint64_t>(1, c / 100)) {
        lirs_max_ = c > lhirs_ ? c - lhirs_ : 1;
        ghost_max_ = c;
    }

    bool access(uint32_t x) {
        switch (state_[x]) {
            case kLir:
                to_top(x);
                prune();
                return true;
            case kHirResident:
                if (in_s_[x]) {
                    // Its new reuse distance beats the oldest LIR block's.
                    q_arena_.remove(q_, x);
                    state_[x] = kLir;
                    lir_count_++;
                    to_top(x);
                    demote_bottom();
                } else {
                    to_top(x);
                    q_arena_.remove(q_, x);
                    q_arena_.push_front(q_, x);
                }
                return true;
            case kNone:
            case kHirGhost:
                break;
        }
        if (lir_count_ < lirs_max_ && resident_ < c_) {
            // Filling: the first blocks make up the LIR set.
            state_[x] = kLir;
            lir_count_++;
            resident_++;
            to_top(x);
            return false;
        }
        if (resident_ == c_) {
            uint32_t y = q_arena_.pop_back(q_);
            state_[y] = in_s_[y] ? kHirGhost : kNone;
            if (state_[y] == kHirGhost) {
                q_arena_.push_front(ghosts_, y);
                if (ghosts_.size > ghost_max_) {
                    uint32_t g = q_arena_.pop_back(ghosts_);
                    s_arena_.remove(s_, g);
                    in_s_[g] = 0;
                    state_[g] = kNone;
                }
            }
            resident_--;
            evictions++;
        }
        resident_++;
        if (state_[x] == kHirGhost) {
            q_arena_.remove(ghosts_, x);
            state_[x] = kLir;
            lir_count_++;
            to_top(x);
            demote_bottom();
        } else {
            state_[x] = kHirResident;
            to_top(x);
            q_arena_.push_front(q_, x);
        }
        return false;
    }

    uint64_t evictions = 0;

private:
    void to_top(uint32_t x) {
        if (in_s_[x]) {
            s_arena_.remove(s_, x);
        }
        s_arena_.push_front(s_, x);
        in_s_[x] = 1;
    }

    // The LIR block at the bottom of S becomes a resident HIR block at the
    // end of Q; then S is pruned.
    void demote_bottom() {
        uint32_t y = s_arena_.pop_back(s_);
        in_s_[y] = 0;
        state_[y] = kHirResident;
        lir_count_--;
        q_arena_.push_front(q_, y);
        prune();
    }

    // Stack pruning: the bottom of S is always a LIR block.
    void prune() {
        while (s_.size && state_[s_.tail] != kLir) {
            uint32_t y = s_arena_.pop_back(s_);
            in_s_[y] = 0;
            if (state_[y] == kHirGhost) {
                q_arena_.remove(ghosts_, y);
                state_[y] = kNone;
            }
        }
    }

    ListArena s_arena_, q_arena_;
    ListArena::List s_, q_;   // head = top of S, end of Q
    ListArena::List ghosts_;  // non-resident HIR blocks in S, newest first
    std::vector<uint8_t> state_;
    std::vector<uint8_t> in_s_;
    uint64_t c_, lhirs_, lirs_max_, ghost_max_;
    uint64_t lir_count_ = 0, resident_ = 0;
};

}  // namespace

RefResult run_reference_lirs(const Workload &w, uint64_t capacity) {
    if (capacity < 2) {
        // No room for both a LIR and a HIR block; one slot is LRU.
        return run_reference_lru(w, capacity);
    }
    return replay_reference<Lirs>(w, capacity);
}

}  // namespace hcsim
