// SPDX-License-Identifier: GPL-2.0-or-later
#include <algorithm>

#include "block_list.h"
#include "reference.h"

namespace hcsim {

namespace {

enum Where : uint8_t { kNone, kT1, kT2, kB1, kB2 };

class Arc {
public:
    Arc(uint64_t n, uint64_t c) : arena_(n), where_(n, kNone), c_(c) {}

    // Returns true on a hit.
    bool access(uint32_t x) {
        switch (where_[x]) {
            case kT1:
                move(x, t1_, t2_, kT2);
                return true;
            case kT2:
                move(x, t2_, t2_, kT2);
                return true;
            case kB1: {
                double d = b1_.size >= b2_.size
                               ? 1.0
                               : double(b2_.size) / double(b1_.size);
                p_ = std::min(double(c_), p_ + d);
                replace(false);
                move(x, b1_, t2_, kT2);
                return false;
            }
            case kB2: {
                double d = b2_.size >= b1_.size
                               ? 1.0
                               : double(b1_.size) / double(b2_.size);
                p_ = std::max(0.0, p_ - d);
                replace(true);
                move(x, b2_, t2_, kT2);
                return false;
            }
            case kNone:
                break;
        }
        uint64_t l1 = t1_.size + b1_.size;
        uint64_t total = l1 + t2_.size + b2_.size;
        if (l1 == c_) {
            if (t1_.size < c_) {
                where_[arena_.pop_back(b1_)] = kNone;
                replace(false);
            } else {
                where_[arena_.pop_back(t1_)] = kNone;
                evictions++;
            }
        } else if (total >= c_) {
            if (total == 2 * c_) {
                where_[arena_.pop_back(b2_)] = kNone;
            }
            replace(false);
        }
        arena_.push_front(t1_, x);
        where_[x] = kT1;
        return false;
    }

    uint64_t evictions = 0;

private:
    void move(uint32_t x, ListArena::List &from, ListArena::List &to, Where w) {
        arena_.remove(from, x);
        arena_.push_front(to, x);
        where_[x] = w;
    }

    // Makes room in T1 + T2 by demoting one block to its ghost list.
    void replace(bool hit_in_b2) {
        if (t1_.size + t2_.size < c_) {
            return;  // still filling: nothing needs to leave
        }
        if (t1_.size >= 1 &&
            (double(t1_.size) > p_ || (hit_in_b2 && double(t1_.size) == p_))) {
            uint32_t y = arena_.pop_back(t1_);
            arena_.push_front(b1_, y);
            where_[y] = kB1;
        } else {
            uint32_t y = arena_.pop_back(t2_);
            arena_.push_front(b2_, y);
            where_[y] = kB2;
        }
        evictions++;
    }

    ListArena arena_;
    std::vector<uint8_t> where_;
    ListArena::List t1_, t2_, b1_, b2_;
    uint64_t c_;
    double p_ = 0;
};

}  // namespace

RefResult run_reference_arc(const Workload &w, uint64_t capacity) {
    return replay_reference<Arc>(w, capacity);
}

}  // namespace hcsim
