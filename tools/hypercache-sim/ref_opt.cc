// SPDX-License-Identifier: GPL-2.0-or-later
//
// Belady's MIN: L. A. Belady, "A study of replacement algorithms for a
// virtual-storage computer", IBM Systems Journal 5(2), 1966.  On a miss in a
// full cache, evict the block whose next use lies farthest in the future.
// Demand paging, as the published figures count: the missed block always
// enters, and the victim is chosen among the blocks already cached.  An
// offline pass: the next use of every access is computed first, then the
// cache is a max-heap on next use (indexed, so a hit updates its key).
#include <limits>
#include <utility>

#include "reference.h"

namespace hcsim {

namespace {

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

class NextUseHeap {
public:
    explicit NextUseHeap(uint64_t n) : pos_(n, kAbsent) {}

    bool contains(uint32_t x) const { return pos_[x] != kAbsent; }
    uint64_t size() const { return heap_.size(); }

    void push(uint32_t x, uint64_t key) {
        pos_[x] = heap_.size();
        heap_.push_back({key, x});
        up(heap_.size() - 1);
    }

    // A cached block's next use moved later (it was just used).
    void increase(uint32_t x, uint64_t key) {
        heap_[pos_[x]].key = key;
        up(pos_[x]);
    }

    uint32_t pop_max() {
        uint32_t x = heap_[0].id;
        pos_[x] = kAbsent;
        heap_[0] = heap_.back();
        heap_.pop_back();
        if (!heap_.empty()) {
            pos_[heap_[0].id] = 0;
            down(0);
        }
        return x;
    }

private:
    static constexpr uint64_t kAbsent = std::numeric_limits<uint64_t>::max();
    struct Entry {
        uint64_t key;
        uint32_t id;
    };

    void swap(uint64_t a, uint64_t b) {
        std::swap(heap_[a], heap_[b]);
        pos_[heap_[a].id] = a;
        pos_[heap_[b].id] = b;
    }
    void up(uint64_t i) {
        while (i > 0 && heap_[(i - 1) / 2].key < heap_[i].key) {
            swap(i, (i - 1) / 2);
            i = (i - 1) / 2;
        }
    }
    void down(uint64_t i) {
        for (;;) {
            uint64_t l = 2 * i + 1, r = l + 1, m = i;
            if (l < heap_.size() && heap_[l].key > heap_[m].key) {
                m = l;
            }
            if (r < heap_.size() && heap_[r].key > heap_[m].key) {
                m = r;
            }
            if (m == i) {
                return;
            }
            swap(i, m);
            i = m;
        }
    }

    std::vector<uint64_t> pos_;
    std::vector<Entry> heap_;
};

}  // namespace

RefResult run_reference_opt(const Workload &w, uint64_t capacity) {
    RefResult r;
    if (capacity == 0) {
        r.misses = w.accesses();
        return r;
    }
    // next[i]: the index of the next access to the block of access i.
    std::vector<uint64_t> next(w.accesses());
    {
        std::vector<uint64_t> seen(w.distinct(), kNever);
        for (uint64_t i = w.accesses(); i-- > 0;) {
            next[i] = seen[w.ids[i]];
            seen[w.ids[i]] = i;
        }
    }
    NextUseHeap cache(w.distinct());
    for (uint64_t i = 0; i < w.accesses(); i++) {
        uint32_t x = w.ids[i];
        if (cache.contains(x)) {
            cache.increase(x, next[i]);
            continue;
        }
        r.misses++;
        if (cache.size() == capacity) {
            cache.pop_max();
            r.evictions++;
        }
        cache.push(x, next[i]);
    }
    return r;
}

}  // namespace hcsim
