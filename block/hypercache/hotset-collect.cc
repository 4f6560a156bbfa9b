// SPDX-License-Identifier: GPL-2.0-or-later
//
// Hot sets: listing a cache's blocks by the policy's own value, hottest
// first (the C API of the lists themselves is in hotset.cc).
#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "hotset.h"
#include "tmaster.h"

using namespace hypercache;

namespace {

// The cached blocks, most valuable first (mu taken here).  Only the block
// numbers leave the lock: the list is built in one hold of the mutex, which
// the ranking needs (the policy's queues change under it).
void collect(hc_cache *c, uint64_t max, std::vector<uint64_t> *out) {
    std::vector<uint32_t> entries;
    std::lock_guard g(c->mu);
    entries.reserve(c->tindx.in_use());
    c->policy->rank(c->tindx, &entries);
    size_t n = std::min<uint64_t>(entries.size(), max);
    out->reserve(n);
    for (size_t i = 0; i < n; i++) {
        const Entry &en = c->tindx.at(entries[i]);
        if (en.slot != kNil) {
            out->push_back(en.block);
        }
    }
}

}  // namespace

extern "C" {

hc_hotset *hc_hotset_collect(hc_cache *c, uint64_t max, const hc_hotset *rest,
                             uint64_t rest_from, uint64_t image_size,
                             const char *identity) {
    hc_hotset *hs = hc_hotset_new(c->block_size, image_size, identity);
    if (!hs) {
        return nullptr;
    }
    try {
        if (max == 0) {
            max = UINT64_MAX;
        }
        collect(c, max, &hs->blocks);
        if (rest && rest->block_size == c->block_size &&
            rest_from < rest->blocks.size() && hs->blocks.size() < max) {
            std::unordered_set<uint64_t> have(hs->blocks.begin(),
                                              hs->blocks.end());
            for (size_t i = rest_from;
                 i < rest->blocks.size() && hs->blocks.size() < max; i++) {
                if (have.insert(rest->blocks[i]).second) {
                    hs->blocks.push_back(rest->blocks[i]);
                }
            }
        }
        return hs;
    } catch (...) {
        delete hs;
        return nullptr;
    }
}

}  // extern "C"
