// SPDX-License-Identifier: GPL-2.0-or-later
//
// 2Q: T. Johnson and D. Shasha, "2Q: A Low Overhead High Performance Buffer
// Management Replacement Algorithm", VLDB'94, the full version (Fig. 2):
// A1in (FIFO of blocks seen once, Kin = 25 % of the cache), A1out (FIFO of
// the ids A1in let go, Kout = 50 % of the cache) and Am (LRU of blocks seen
// again after leaving A1in), with the paper's recommended Kin and Kout.
#include "block_list.h"
#include "reference.h"

namespace hcsim {

namespace {

enum Where : uint8_t { kNone, kA1in, kA1out, kAm };

class TwoQ {
public:
    TwoQ(uint64_t n, uint64_t c)
        : arena_(n), where_(n, kNone), c_(c), kin_(c / 4), kout_(c / 2) {}

    bool access(uint32_t x) {
        switch (where_[x]) {
            case kAm:
                arena_.remove(am_, x);
                arena_.push_front(am_, x);
                return true;
            case kA1in:
                return true;  // correlated reference: left where it is
            case kA1out:
                arena_.remove(a1out_, x);
                reclaim();
                arena_.push_front(am_, x);
                where_[x] = kAm;
                return false;
            case kNone:
                break;
        }
        reclaim();
        arena_.push_front(a1in_, x);
        where_[x] = kA1in;
        return false;
    }

    uint64_t evictions = 0;

private:
    // Frees one slot if the cache is full (the paper's reclaimfor).
    void reclaim() {
        if (a1in_.size + am_.size < c_) {
            return;
        }
        evictions++;
        if (a1in_.size > kin_ || am_.size == 0) {
            uint32_t y = arena_.pop_back(a1in_);
            arena_.push_front(a1out_, y);
            where_[y] = kA1out;
            if (a1out_.size > kout_) {
                where_[arena_.pop_back(a1out_)] = kNone;
            }
        } else {
            where_[arena_.pop_back(am_)] = kNone;
        }
    }

    ListArena arena_;
    std::vector<uint8_t> where_;
    ListArena::List a1in_, a1out_, am_;
    uint64_t c_, kin_, kout_;
};

}  // namespace

RefResult run_reference_2q(const Workload &w, uint64_t capacity) {
    return replay_reference<TwoQ>(w, capacity);
}

}  // namespace hcsim
