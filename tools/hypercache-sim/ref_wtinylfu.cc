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
#include <cmath>

#include "block_list.h"
#include "reference.h"

namespace hcsim {

namespace {

class FrequencySketch {
public:
    explicit FrequencySketch(uint64_t c) : reset_at_(10 * c) {
        uint64_t width = 16;
        while (width < c) {
            width *= 2;
        }
        mask_ = width - 1;
        table_.assign(kRows * width, 0);
    }

    void increment(uint32_t x) {
        for (int r = 0; r < kRows; r++) {
            uint8_t &v = table_[r * (mask_ + 1) + index(x, r)];
            if (v < 15) {
                v++;
            }
        }
        if (++additions_ >= reset_at_) {
            for (uint8_t &v : table_) {
                v >>= 1;
            }
            additions_ /= 2;
        }
    }

    unsigned frequency(uint32_t x) const {
        unsigned f = 15;
        for (int r = 0; r < kRows; r++) {
            f = std::min<unsigned>(f, table_[r * (mask_ + 1) + index(x, r)]);
        }
        return f;
    }

private:
    static constexpr int kRows = 4;

    uint64_t index(uint32_t x, int row) const {
        // splitmix64 finaliser over the id and the row's seed
        uint64_t z = x + 0x9e3779b97f4a7c15ull * uint64_t(row + 1);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return (z ^ (z >> 31)) & mask_;
    }

    std::vector<uint8_t> table_;
    uint64_t mask_ = 0;
    uint64_t additions_ = 0;
    uint64_t reset_at_;
};

enum Where : uint8_t { kNone, kWindow, kProbation, kProtected };

class WTinyLfu {
public:
    WTinyLfu(uint64_t n, uint64_t c, bool adaptive)
        : adaptive_(adaptive),
          arena_(n),
          where_(n, kNone),
          sketch_(c),
          c_(c),
          sample_(10 * c),
          step_(kStep * double(c)) {
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
        (hit ? sample_hits_ : sample_misses_)++;
        if (adaptive_ && sample_hits_ + sample_misses_ >= sample_) {
            climb();
        }
        return hit;
    }

    uint64_t evictions = 0;

private:
    static constexpr double kStep = 0.0625, kDecay = 0.98, kRestart = 0.05;

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

    // Caffeine's hill climber: one step per sample.
    void climb() {
        double rate =
            double(sample_hits_) / double(sample_hits_ + sample_misses_);
        double change = rate - prev_rate_;
        double amount = change >= 0 ? step_ : -step_;
        step_ = std::fabs(change) >= kRestart
                    ? kStep * double(c_) * (amount >= 0 ? 1 : -1)
                    : kDecay * amount;
        prev_rate_ = rate;
        sample_hits_ = sample_misses_ = 0;
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
    ListArena::List window_, probation_, protected_;
    uint64_t c_, sample_;
    double window_max_, step_, prev_rate_ = 0;
    uint64_t sample_hits_ = 0, sample_misses_ = 0;
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
