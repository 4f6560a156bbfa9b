// SPDX-License-Identifier: GPL-2.0-or-later
//
// Shared helpers for the core's unit tests.
#pragma once

#include <cstdint>
#include <vector>

#include "block/hypercache-core.h"

namespace hctest {

// A small cache with 4 KiB blocks, built with the defaults otherwise.
hc_cache *make_cache(uint64_t blocks, hc_mode mode = HC_MODE_WRITEBACK,
                     hc_policy policy = HC_POLICY_FREQ,
                     void (*tweak)(hc_config *) = nullptr);

// Deterministic block content: every byte depends on block and version.
std::vector<uint8_t> pattern(uint64_t len, uint32_t seed);

// Read [off, off+len) through the cache from a backing "disk" and return
// the bytes; fills miss runs from @disk.
std::vector<uint8_t> read_through(hc_cache *c, const std::vector<uint8_t> &disk,
                                  uint64_t off, uint64_t len);

// Write through the API in writeback mode; for HC_WRITE_CHILD also apply
// to @disk and end the ticket.  Returns the hc_write_begin result.
int write_to(hc_cache *c, std::vector<uint8_t> &disk, uint64_t off,
             const std::vector<uint8_t> &data, unsigned flags = 0);

// Write every dirty block back to @disk (flush).
void flush_all(hc_cache *c, std::vector<uint8_t> &disk);

}  // namespace hctest
