// SPDX-License-Identifier: GPL-2.0-or-later
#include "block_list.h"
#include "reference.h"

namespace hcsim {

namespace {

class Lru {
public:
    Lru(uint64_t n, uint64_t c) : arena_(n), resident_(n, 0), c_(c) {}

    bool access(uint32_t x) {
        bool hit = resident_[x];
        if (hit) {
            arena_.remove(lru_, x);
        } else {
            if (lru_.size == c_) {
                resident_[arena_.pop_back(lru_)] = 0;
                evictions++;
            }
            resident_[x] = 1;
        }
        arena_.push_front(lru_, x);
        return hit;
    }

    uint64_t evictions = 0;

private:
    ListArena arena_;
    ListArena::List lru_;
    std::vector<uint8_t> resident_;
    uint64_t c_;
};

}  // namespace

RefResult run_reference_lru(const Workload &w, uint64_t capacity) {
    return replay_reference<Lru>(w, capacity);
}

}  // namespace hcsim
