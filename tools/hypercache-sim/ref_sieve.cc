// SPDX-License-Identifier: GPL-2.0-or-later
//
// SIEVE: Y. Zhang, J. Yang, Y. Yue, Y. Vigfusson and K. V. Rashmi, "SIEVE is
// Simpler than LRU: an Efficient Turn-Key Eviction Algorithm for Web
// Caches", NSDI'24, Fig. 3: one FIFO queue, new blocks at the head, a
// visited bit set by hits, and a hand that moves from the tail toward the
// head, clearing visited bits, and evicts the first unvisited block; the
// hand stays where it stopped.
#include "block_list.h"
#include "reference.h"

namespace hcsim {

namespace {

class Sieve {
public:
    Sieve(uint64_t n, uint64_t c)
        : arena_(n), resident_(n, 0), visited_(n, 0), c_(c) {}

    bool access(uint32_t x) {
        if (resident_[x]) {
            visited_[x] = 1;
            return true;
        }
        if (q_.size == c_) {
            evict();
        }
        arena_.push_front(q_, x);
        resident_[x] = 1;
        visited_[x] = 0;
        return false;
    }

    uint64_t evictions = 0;

private:
    void evict() {
        uint32_t o = hand_ != ListArena::kNil ? hand_ : q_.tail;
        while (visited_[o]) {
            visited_[o] = 0;
            o = arena_.prev(o) != ListArena::kNil ? arena_.prev(o) : q_.tail;
        }
        hand_ = arena_.prev(o);
        arena_.remove(q_, o);
        resident_[o] = 0;
        evictions++;
    }

    ListArena arena_;
    ListArena::List q_;  // head = newest
    std::vector<uint8_t> resident_, visited_;
    uint64_t c_;
    uint32_t hand_ = ListArena::kNil;
};

}  // namespace

RefResult run_reference_sieve(const Workload &w, uint64_t capacity) {
    return replay_reference<Sieve>(w, capacity);
}

}  // namespace hcsim
