// SPDX-License-Identifier: GPL-2.0-or-later
//
// Pieces shared by the frequency-aware reference policies (ref_wtinylfu.cc,
// ref_afreq.cc): TinyLFU's count-min sketch and Caffeine's hill climber.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace hcsim {

// Count-min sketch of four rows of 4-bit counters, as wide as the cache
// (rounded up to a power of two), all counters halved after 10 x cache-size
// increments (Einziger, Friedman & Manes, ToS 2017, section 3.3, "reset").
class FrequencySketch {
public:
    explicit FrequencySketch(uint64_t c)
        : reset_at_(10 * std::max<uint64_t>(c, 1)) {
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

// Caffeine's hill climber as its documentation describes it: after every
// sample of 10 x cache-size accesses, compare the hit ratio with the
// previous sample's and move the tuned share a step in the same direction if
// it rose, else the other way; the step starts at 6.25 % of the cache,
// decays by 0.98 per sample, and is reset to 6.25 % when the hit ratio
// moves by 5 % or more.
class HillClimber {
public:
    explicit HillClimber(uint64_t c)
        : c_(double(c)),
          sample_(10 * std::max<uint64_t>(c, 1)),
          step_(kStep * double(c)) {}

    // Records one access; returns the adjustment (in blocks, signed) at the
    // end of a sample, else 0.
    double record(bool hit) {
        (hit ? hits_ : misses_)++;
        if (hits_ + misses_ < sample_) {
            return 0;
        }
        double rate = double(hits_) / double(hits_ + misses_);
        double change = rate - prev_rate_;
        double amount = change >= 0 ? step_ : -step_;
        step_ = std::fabs(change) >= kRestart
                    ? kStep * c_ * (amount >= 0 ? 1 : -1)
                    : kDecay * amount;
        prev_rate_ = rate;
        hits_ = misses_ = 0;
        return amount;
    }

private:
    static constexpr double kStep = 0.0625, kDecay = 0.98, kRestart = 0.05;
    double c_;
    uint64_t sample_;
    double step_, prev_rate_ = 0;
    uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace hcsim
