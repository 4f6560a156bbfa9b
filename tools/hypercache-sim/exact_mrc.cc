// SPDX-License-Identifier: GPL-2.0-or-later
#include "exact_mrc.h"

namespace hcsim {

namespace {

// Marks the latest access to each block; the number of marks between two
// accesses to one block is its reuse distance.
class Fenwick {
public:
    explicit Fenwick(size_t n) : t_(n + 1, 0) {}
    void add(size_t i, int v) {
        for (i++; i < t_.size(); i += i & -i) {
            t_[i] += v;
        }
    }
    // Sum of [0, i).
    int64_t prefix(size_t i) const {
        int64_t s = 0;
        for (; i > 0; i -= i & -i) {
            s += t_[i];
        }
        return s;
    }

private:
    std::vector<int32_t> t_;
};

}  // namespace

ExactMrc::ExactMrc(const Workload &w) : accesses_(w.accesses()) {
    constexpr uint64_t kNever = UINT64_MAX;
    std::vector<uint64_t> last(w.distinct(), kNever);
    std::vector<uint64_t> hist(w.distinct() + 1, 0);
    Fenwick marks(w.accesses());
    for (uint64_t t = 0; t < w.accesses(); t++) {
        uint32_t x = w.ids[t];
        if (last[x] != kNever) {
            uint64_t d = static_cast<uint64_t>(marks.prefix(t) -
                                               marks.prefix(last[x] + 1));
            hist[d]++;
            marks.add(last[x], -1);
        }
        marks.add(t, 1);
        last[x] = t;
    }
    hits_le_.resize(hist.size());
    uint64_t sum = 0;
    for (size_t d = 0; d < hist.size(); d++) {
        sum += hist[d];
        hits_le_[d] = sum;
    }
}

uint64_t ExactMrc::hits(uint64_t blocks) const {
    if (blocks == 0 || hits_le_.empty()) {
        return 0;
    }
    uint64_t d = blocks - 1;
    return d < hits_le_.size() ? hits_le_[d] : hits_le_.back();
}

double ExactMrc::miss_ratio(uint64_t blocks) const {
    if (accesses_ == 0) {
        return 0.0;
    }
    return 1.0 - double(hits(blocks)) / double(accesses_);
}

}  // namespace hcsim
