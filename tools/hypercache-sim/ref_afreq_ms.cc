// SPDX-License-Identifier: GPL-2.0-or-later
//
// A prototype (issue 17): FREQ whose probation share is chosen by miniature
// simulations (Waldspurger et al., "Cache Modeling and Optimization using
// Miniature Simulations", USENIX ATC'17).
//
// The live cache is ref-freq-model's FREQ (ref_afreq.cc): a probation FIFO,
// a main FIFO with 2-bit second-chance counters, a ghost of probation's
// victims, and the paper's frequency-aware promotion (two hits in
// probation, or one if the sketch already rates the block at 3 or more).
// Beside it run scaled-down copies of the same policy, one per candidate
// probation share, on a spatial sample of the blocks: a block is sampled
// when a hash of its number falls under a threshold, as SHARDS samples
// (Waldspurger et al., FAST'15), so every access to a sampled block reaches
// the mini-caches and their reuse distances scale with the sample rate.  The
// rate is chosen so that a mini-cache holds about kMiniBlocks blocks (the
// paper's mini-caches are accurate from a few hundred blocks on); a cache no
// larger than that is simulated at rate 1.
//
// Every epoch (as many sampled accesses as a mini-cache holds, the time a
// cache's content can turn over) each candidate's misses are added to an
// exponentially decayed score, so the choice follows phase changes while a
// single noisy epoch cannot flip it; the live cache adopts the lowest-score
// share when it beats the current one by more than kHysteresis.  Adopting a
// share only moves probation's target: the next evictions take from
// whichever queue is over its share, so nothing is flushed.
//
// The candidates span the structure's range rather than fit any trace:
// probation at 1 % (W-TinyLFU's window, LIRS' HIR share: protect a
// frequent set against scans and loops), at today's 15 %, at half the cache,
// and at 90 % (nearly a FIFO with a ghost: recency-friendly workloads that a
// small probation starves), with 5 % and 30 % between, roughly geometric.
#include <algorithm>
#include <array>

#include "block_list.h"
#include "ref_sketch.h"
#include "reference.h"

namespace hcsim {

namespace {

constexpr std::array<double, 6> kShares = {0.01, 0.05, 0.15, 0.30, 0.50, 0.90};
constexpr size_t kDefault = 2;  // 15 %, today's FREQ
constexpr double kGhostShare = 0.6;
constexpr uint64_t kMiniBlocks = 1024;
constexpr double kDecay = 0.9;        // an epoch's weight halves in ~7 epochs
constexpr double kHysteresis = 0.01;  // relative score margin to switch

enum Where : uint8_t { kNone, kSmall, kMain, kGhost };

// FREQ over dense ids 0..n-1 with a probation share that can change live.
class Freq {
public:
    Freq(uint64_t n, uint64_t c, double share)
        : arena_(n),
          where_(n, kNone),
          freq_(n, 0),
          sketch_(c),
          c_(c),
          ghost_max_(uint64_t(kGhostShare * double(c))) {
        set_share(share);
    }

    void set_share(double share) {
        small_target_ = std::max(1.0, share * double(c_));
    }

    bool access(uint32_t x) {
        sketch_.increment(x);
        if (where_[x] == kSmall || where_[x] == kMain) {
            freq_[x] = uint8_t(std::min(3, freq_[x] + 1));
            return true;
        }
        while (small_.size + main_.size >= c_) {
            evict_one();
        }
        freq_[x] = 0;
        if (where_[x] == kGhost) {
            // Reused soon after probation let it go: main, as in S3-FIFO.
            arena_.remove(ghost_, x);
            arena_.push_front(main_, x);
            where_[x] = kMain;
        } else {
            arena_.push_front(small_, x);
            where_[x] = kSmall;
        }
        return false;
    }

    uint64_t evictions = 0;

private:
    void evict_one() {
        for (;;) {
            if (double(small_.size) > small_target_ || main_.size == 0) {
                uint32_t t = arena_.pop_back(small_);
                uint8_t f = freq_[t];
                if (f >= 2 || (f >= 1 && sketch_.frequency(t) >= 3)) {
                    freq_[t] = 0;
                    arena_.push_front(main_, t);
                    where_[t] = kMain;
                    continue;
                }
                evictions++;
                arena_.push_front(ghost_, t);
                where_[t] = kGhost;
                while (ghost_.size > ghost_max_) {
                    where_[arena_.pop_back(ghost_)] = kNone;
                }
                return;
            }
            uint32_t t = arena_.pop_back(main_);
            if (freq_[t] > 0) {
                freq_[t]--;
                arena_.push_front(main_, t);
                continue;
            }
            evictions++;
            where_[t] = kNone;
            return;
        }
    }

    ListArena arena_;
    std::vector<uint8_t> where_;
    std::vector<uint8_t> freq_;
    FrequencySketch sketch_;
    ListArena::List small_, main_, ghost_;
    uint64_t c_;
    uint64_t ghost_max_;
    double small_target_ = 1;
};

uint64_t mix(uint64_t z) {
    // splitmix64's finaliser, seeded apart from the sketch's rows
    z += 0x632be59bd9b4e019ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

class MiniSimFreq {
public:
    MiniSimFreq(uint64_t n, uint64_t c)
        : live_(n, c, kShares[kDefault]), current_(kDefault) {
        double rate = std::min(1.0, double(kMiniBlocks) / double(c));
        threshold_ =
            rate >= 1.0 ? UINT64_MAX : uint64_t(rate * 18446744073709551616.0);
        uint64_t mc = std::max<uint64_t>(1, uint64_t(rate * double(c) + 0.5));
        epoch_ = mc;
        mini_capacity_ = mc;
        // The simulator's ids are dense; the mini-caches index only the
        // sampled ones, renumbered, to keep their arrays small.
        local_.assign(n, UINT32_MAX);
        uint32_t m = 0;
        for (uint64_t x = 0; x < n; x++) {
            if (mix(x) <= threshold_) {
                local_[x] = m++;
            }
        }
        for (double s : kShares) {
            mini_.emplace_back(m, mc, s);
        }
        epoch_misses_.assign(kShares.size(), 0);
        score_.assign(kShares.size(), 0);
    }

    bool access(uint32_t x) {
        if (uint32_t l = local_[x]; l != UINT32_MAX) {
            for (size_t k = 0; k < mini_.size(); k++) {
                epoch_misses_[k] += !mini_[k].access(l);
            }
            if (++sampled_ >= epoch_) {
                end_epoch();
            }
        }
        bool hit = live_.access(x);
        evictions = live_.evictions;
        return hit;
    }

    uint64_t evictions = 0;

private:
    void end_epoch() {
        sampled_ = 0;
        // Until every mini-cache has filled and then turned its content
        // over once, its misses measure the fill (compulsory misses, and a
        // probation holding the whole cache) rather than the share.
        for (const Freq &m : mini_) {
            if (m.evictions < mini_capacity_) {
                std::fill(epoch_misses_.begin(), epoch_misses_.end(), 0);
                return;
            }
        }
        size_t best = current_;
        for (size_t k = 0; k < score_.size(); k++) {
            score_[k] = kDecay * score_[k] + double(epoch_misses_[k]);
            epoch_misses_[k] = 0;
        }
        for (size_t k = 0; k < score_.size(); k++) {
            if (score_[k] < score_[best]) {
                best = k;
            }
        }
        if (best != current_ &&
            score_[best] < (1 - kHysteresis) * score_[current_]) {
            current_ = best;
            live_.set_share(kShares[best]);
        }
    }

    Freq live_;
    size_t current_;
    std::vector<Freq> mini_;
    std::vector<uint32_t> local_;
    std::vector<uint64_t> epoch_misses_;
    std::vector<double> score_;
    uint64_t mini_capacity_ = 1;
    uint64_t threshold_ = 0, epoch_ = 1, sampled_ = 0;
};

}  // namespace

RefResult run_reference_afreq_ms(const Workload &w, uint64_t capacity) {
    return replay_reference<MiniSimFreq>(w, capacity);
}

}  // namespace hcsim
