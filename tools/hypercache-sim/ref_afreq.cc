// SPDX-License-Identifier: GPL-2.0-or-later
//
// A prototype (issue 17): the core's FREQ policy with the split between
// probation and main following the workload instead of fixed at 15 %.
//
// ref-freq-model is a model of today's FREQ (block/hypercache/
// policy-queue.cc with tmaster.cc's freq_params(), re-written here over the
// simulator's lists so variants are cheap to try): S3-FIFO's structure
// (Yang et al., SOSP'23) -- a probation FIFO (15 % of the cache), a main
// FIFO with 2-bit second-chance counters and a ghost of blocks evicted from
// probation (60 % of the cache) -- with the paper's access frequency (Kim et
// al., Cluster Computing 2017) at its heart: a block leaves probation for
// main after two hits there, or after one if the frequency sketch, which
// counts every lookup of cached and uncached blocks alike, already rates it
// at 3 or more.
//
// ref-afreq adds ARC's learning rule (Megiddo & Modha, FAST'03, section
// IV-A) to the probation target: a second ghost remembers blocks evicted
// from main (as many as the cache holds); a miss found in the probation
// ghost means probation let a reused block go too early, so its target grows
// by max(1, |main ghost| / |probation ghost|); a miss found in the main
// ghost means main was too small, so the target shrinks by max(1,
// |probation ghost| / |main ghost|).  Both kinds of ghost hit enter main.
// The target stays within 1 %..90 % of the cache.
//
// ref-afreq-hc keeps the 15 % split and lets the frequency sketch admit to
// main at probation's exit, TinyLFU-like: a block leaving probation without
// the hits to be promoted still goes to main, if main is under its share and
// the sketch counts at least `admit_` accesses to it.  That is what keeps a
// loop longer than the cache from missing on every access (a FIFO probation
// lets every block of the loop go).  The threshold is hill-climbed as
// Caffeine climbs its window (ref_sketch.h): it starts off (16, above the
// sketch's 15) and moves by one per 6.25 % step of the climber, within 2..16.
#include <algorithm>

#include "block_list.h"
#include "ref_sketch.h"
#include "reference.h"

namespace hcsim {

namespace {

enum Where : uint8_t { kNone, kSmall, kMain, kGhostSmall, kGhostMain };
enum Adapt { kFixed, kGhost, kClimb };

class AdaptiveFreq {
public:
    AdaptiveFreq(uint64_t n, uint64_t c, Adapt adapt)
        : adapt_(adapt),
          arena_(n),
          where_(n, kNone),
          freq_(n, 0),
          sketch_(c),
          climber_(c),
          c_(c),
          small_target_(std::max(1.0, 0.15 * double(c))),
          ghost_small_max_(uint64_t(0.6 * double(c))),
          ghost_main_max_(adapt == kGhost ? c : 0),
          min_target_(std::max(1.0, 0.01 * double(c))),
          max_target_(std::max(1.0, 0.9 * double(c))) {}

    bool access(uint32_t x) {
        sketch_.increment(x);
        bool hit = where_[x] == kSmall || where_[x] == kMain;
        if (hit) {
            freq_[x] = uint8_t(std::min(3, freq_[x] + 1));
        } else {
            miss(x);
        }
        if (adapt_ == kClimb) {
            if (double amount = climber_.record(hit)) {
                admit_ = std::clamp(admit_ - amount / (0.0625 * double(c_)),
                                    2.0, 16.0);
            }
        }
        return hit;
    }

    uint64_t evictions = 0;

private:
    void miss(uint32_t x) {
        while (small_.size + main_.size >= c_) {
            evict_one();
        }
        freq_[x] = 0;
        Where w = Where(where_[x]);
        if (w == kGhostSmall || w == kGhostMain) {
            ListArena::List &g = w == kGhostSmall ? ghost_small_ : ghost_main_;
            if (adapt_ == kGhost) {
                double gs = double(std::max<uint64_t>(ghost_small_.size, 1));
                double gm = double(std::max<uint64_t>(ghost_main_.size, 1));
                double d = w == kGhostSmall ? std::max(1.0, gm / gs)
                                            : -std::max(1.0, gs / gm);
                small_target_ =
                    std::clamp(small_target_ + d, min_target_, max_target_);
            }
            arena_.remove(g, x);
            arena_.push_front(main_, x);
            where_[x] = kMain;
            return;
        }
        arena_.push_front(small_, x);
        where_[x] = kSmall;
    }

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
                if (admit_ < 16 &&
                    double(main_.size) + 1 <= double(c_) - small_target_ &&
                    sketch_.frequency(t) >= unsigned(admit_)) {
                    freq_[t] = 0;
                    arena_.push_front(main_, t);
                    where_[t] = kMain;
                    continue;
                }
                remember(ghost_small_, ghost_small_max_, t, kGhostSmall);
                return;
            }
            uint32_t t = arena_.pop_back(main_);
            if (freq_[t] > 0) {
                freq_[t]--;
                arena_.push_front(main_, t);
                continue;
            }
            remember(ghost_main_, ghost_main_max_, t, kGhostMain);
            return;
        }
    }

    void remember(ListArena::List &g, uint64_t max, uint32_t t, Where w) {
        evictions++;
        if (max == 0) {
            where_[t] = kNone;
            return;
        }
        arena_.push_front(g, t);
        where_[t] = w;
        if (g.size > max) {
            where_[arena_.pop_back(g)] = kNone;
        }
    }

    Adapt adapt_;
    ListArena arena_;
    std::vector<uint8_t> where_;
    std::vector<uint8_t> freq_;
    FrequencySketch sketch_;
    HillClimber climber_;
    ListArena::List small_, main_, ghost_small_, ghost_main_;
    uint64_t c_;
    double small_target_;
    uint64_t ghost_small_max_, ghost_main_max_;
    double min_target_, max_target_;
    double admit_ = 16;  // ref-afreq-hc: sketch count admitting to main
};

template <Adapt A>
struct Variant : AdaptiveFreq {
    Variant(uint64_t n, uint64_t c) : AdaptiveFreq(n, c, A) {}
};

}  // namespace

RefResult run_reference_freq_model(const Workload &w, uint64_t capacity) {
    return replay_reference<Variant<kFixed>>(w, capacity);
}

RefResult run_reference_afreq(const Workload &w, uint64_t capacity) {
    return replay_reference<Variant<kGhost>>(w, capacity);
}

RefResult run_reference_afreq_hc(const Workload &w, uint64_t capacity) {
    return replay_reference<Variant<kClimb>>(w, capacity);
}

}  // namespace hcsim
