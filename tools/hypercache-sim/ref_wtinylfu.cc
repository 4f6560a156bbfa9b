// SPDX-License-Identifier: GPL-2.0-or-later
//
// W-TinyLFU: G. Einziger, R. Friedman and B. Manes, "TinyLFU: A Highly
// Efficient Cache Admission Policy", ACM Transactions on Storage 13(4), 2017,
// section 4 (W-TinyLFU): a window LRU in front of a segmented LRU main cache
// (probation and protected, protected 80 % of main); a block leaving the
// window enters main only if the frequency sketch rates it above main's
// victim (the probation tail), else it leaves.  The sketch is a count-min
// sketch of four rows of 4-bit counters, as wide as the cache (rounded up to
// a power of two), halved after 10 x cache-size increments (the paper's
// reset, section 3.3); no doorkeeper.
//
// The window is sized by hill climbing as Caffeine (Manes' implementation
// of W-TinyLFU) describes its adaptive policy: the window starts at 1 % of
// the cache; after every sample of 10 x cache-size accesses the hit ratio is
// compared with the previous sample's; the window moves by a step in the
// same direction if the hit ratio rose, else in the other; the step starts
// at 6.25 % of the cache and decays by 0.98 per sample, and is reset to
// 6.25 % when the hit ratio moves by 5 % or more.
#include <algorithm>

#include "block_list.h"
#include "ref_sketch.h"
#include "reference.h"

namespace hcsim {

namespace {

enum Where : uint8_t { kNone, kWindow, kProbation, kProtected };

class WTinyLfu {
public:
    WTinyLfu(uint64_t n, uint64_t c, bool adaptive)
        : adaptive_(adaptive),
          arena_(n),
          where_(n, kNone),
          sketch_(c),
          climber_(c),
          c_(c) {
        window_max_ = std::max(1.0, 0.01 * double(c));
    }

    bool access(uint32_t x) {
        sketch_.increment(x);
        bool hit = where_[x] != kNone;
        switch (where_[x]) {
            case kWindow:
                arena_.remove(window_, x);
                arena_.push_front(window_, x);
                break;
            case kProbation:
                arena_.remove(probation_, x);
                arena_.push_front(protected_, x);
                where_[x] = kProtected;
                trim_protected();
                break;
            case kProtected:
                arena_.remove(protected_, x);
                arena_.push_front(protected_, x);
                break;
            case kNone:
                arena_.push_front(window_, x);
                where_[x] = kWindow;
                make_room();
                break;
        }
        if (adaptive_) {
            if (double amount = climber_.record(hit)) {
                resize_window(amount);
            }
        }
        return hit;
    }

    uint64_t evictions = 0;

private:
    uint64_t window_limit() const { return uint64_t(window_max_); }
    uint64_t resident() const {
        return window_.size + probation_.size + protected_.size;
    }

    // Protected keeps 80 % of main; what it sheds goes back to probation.
    void trim_protected() {
        uint64_t main = c_ - std::min(c_, window_limit());
        uint64_t limit = uint64_t(0.8 * double(main));
        while (protected_.size > limit) {
            uint32_t y = arena_.pop_back(protected_);
            arena_.push_front(probation_, y);
            where_[y] = kProbation;
        }
    }

    void make_room() {
        // Blocks past the window's share move to main as candidates.
        while (window_.size > window_limit()) {
            uint32_t cand = arena_.pop_back(window_);
            arena_.push_front(probation_, cand);
            where_[cand] = kProbation;
            if (resident() > c_) {
                duel(cand);
            }
        }
        while (resident() > c_) {
            evict_tail(probation_.size   ? probation_
                       : protected_.size ? protected_
                                         : window_);
        }
    }

    // TinyLFU admission: the candidate stays only if it is more frequent
    // than main's victim.
    void duel(uint32_t cand) {
        uint32_t victim = probation_.tail;
        if (victim == cand) {
            victim = protected_.size ? protected_.tail : cand;
        }
        if (victim != cand &&
            sketch_.frequency(cand) > sketch_.frequency(victim)) {
            evict(victim);
        } else {
            evict(cand);
        }
    }

    void evict_tail(ListArena::List &l) { evict(l.tail); }

    void evict(uint32_t y) {
        ListArena::List &l = where_[y] == kWindow      ? window_
                             : where_[y] == kProbation ? probation_
                                                       : protected_;
        arena_.remove(l, y);
        where_[y] = kNone;
        evictions++;
    }

    void resize_window(double amount) {
        window_max_ =
            std::clamp(window_max_ + amount, 1.0, double(c_ > 1 ? c_ - 1 : 1));
        // A smaller window hands its oldest blocks to probation; a larger
        // one fills from misses, main shrinking through evictions.
        while (window_.size > window_limit()) {
            uint32_t y = arena_.pop_back(window_);
            arena_.push_front(probation_, y);
            where_[y] = kProbation;
        }
        trim_protected();
    }

    bool adaptive_;
    ListArena arena_;
    std::vector<uint8_t> where_;
    FrequencySketch sketch_;
    HillClimber climber_;
    ListArena::List window_, probation_, protected_;
    uint64_t c_;
    double window_max_;
};

struct Adaptive : WTinyLfu {
    Adaptive(uint64_t n, uint64_t c) : WTinyLfu(n, c, true) {}
};
struct Fixed : WTinyLfu {
    Fixed(uint64_t n, uint64_t c) : WTinyLfu(n, c, false) {}
};

}  // namespace

RefResult run_reference_wtinylfu(const Workload &w, uint64_t capacity) {
    return replay_reference<Adaptive>(w, capacity);
}

RefResult run_reference_wtinylfu_fixed(const Workload &w, uint64_t capacity) {
    return replay_reference<Fixed>(w, capacity);
}

}  // namespace hcsim
