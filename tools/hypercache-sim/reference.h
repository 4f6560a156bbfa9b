// SPDX-License-Identifier: GPL-2.0-or-later
//
// Textbook LRU and ARC, kept only to check that the simulator counts blocks
// the way the published figures do (anchors.md).  They are not policies of
// the cache; the core's are.
#pragma once

#include <cstdint>

#include "workload.h"

namespace hcsim {

struct RefResult {
    uint64_t misses = 0;
    uint64_t evictions = 0;
};

RefResult run_reference_lru(const Workload &w, uint64_t capacity);

// Megiddo & Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache",
// FAST'03, Fig. 4, with the adaptation step computed in real numbers.
RefResult run_reference_arc(const Workload &w, uint64_t capacity);

}  // namespace hcsim
