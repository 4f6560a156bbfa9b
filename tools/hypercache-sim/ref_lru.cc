// SPDX-License-Identifier: GPL-2.0-or-later
#include "block_list.h"
#include "reference.h"

namespace hcsim {

RefResult run_reference_lru(const Workload &w, uint64_t capacity) {
    RefResult r;
    if (capacity == 0) {
        r.misses = w.accesses();
        return r;
    }
    ListArena arena(w.distinct());
    ListArena::List lru;
    std::vector<uint8_t> resident(w.distinct(), 0);
    for (uint32_t x : w.ids) {
        if (resident[x]) {
            arena.remove(lru, x);
        } else {
            r.misses++;
            if (lru.size == capacity) {
                resident[arena.pop_back(lru)] = 0;
                r.evictions++;
            }
            resident[x] = 1;
        }
        arena.push_front(lru, x);
    }
    return r;
}

}  // namespace hcsim
