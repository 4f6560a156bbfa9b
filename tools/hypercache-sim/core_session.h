// SPDX-License-Identifier: GPL-2.0-or-later
//
// Creating a core cache for one simulated run, and the scratch buffers the
// runs hand to it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "block/hypercache-core.h"
#include "core_replay.h"

namespace hcsim {

struct CacheDeleter {
    void operator()(hc_cache *c) const { hc_destroy(c); }
};
using CachePtr = std::unique_ptr<hc_cache, CacheDeleter>;

CachePtr make_cache(const CoreRun &run, hc_mode mode, std::string *err);

// Zero-filled, 4 KiB aligned (valid for O_DIRECT), grown on demand: the
// simulator's stand-in for guest and disk data, which it never inspects.
class ScratchBuffer {
public:
    const uint8_t *get(size_t len);

private:
    struct Free {
        void operator()(uint8_t *p) const { std::free(p); }
    };
    std::unique_ptr<uint8_t, Free> buf_;
    size_t len_ = 0;
};

void fill_core_stats(hc_cache *c, uint32_t block_size, RunResult *res);

}  // namespace hcsim
