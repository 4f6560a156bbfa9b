// SPDX-License-Identifier: GPL-2.0-or-later
//
// Hot sets: the load order, and the C API of hot sets and their file
// (hotset-file.cc).  Nothing here touches a cache (hotset-collect.cc and
// prefetch.cc do), so the parser's fuzzer links these two files alone.
#include "hotset.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

using namespace hypercache;

namespace {

void set_err(char *err, size_t errlen, const std::string &msg) {
    if (err && errlen) {
        snprintf(err, errlen, "%s", msg.c_str());
    }
}

}  // namespace

extern "C" {

hc_hotset *hc_hotset_new(uint32_t block_size, uint64_t image_size,
                         const char *identity) {
    try {
        auto *hs = new hc_hotset;
        hs->block_size = block_size;
        hs->image_size = image_size;
        hs->identity = identity ? identity : "";
        return hs;
    } catch (...) {
        return nullptr;
    }
}

int hc_hotset_add(hc_hotset *hs, uint64_t block) {
    try {
        hs->blocks.push_back(block);
        return 0;
    } catch (...) {
        return -ENOMEM;
    }
}

void hc_hotset_free(hc_hotset *hs) {
    delete hs;
}

uint64_t hc_hotset_count(const hc_hotset *hs) {
    return hs->blocks.size();
}

uint64_t hc_hotset_block(const hc_hotset *hs, uint64_t i) {
    return i < hs->blocks.size() ? hs->blocks[i] : UINT64_MAX;
}

uint32_t hc_hotset_block_size(const hc_hotset *hs) {
    return hs->block_size;
}

int hc_hotset_encode(const hc_hotset *hs, void **buf, size_t *len) {
    *buf = nullptr;
    *len = 0;
    try {
        std::vector<uint8_t> bytes = hotset_encode(*hs);
        void *p = malloc(bytes.size());
        if (!p) {
            return -ENOMEM;
        }
        memcpy(p, bytes.data(), bytes.size());
        *buf = p;
        *len = bytes.size();
        return 0;
    } catch (...) {
        return -ENOMEM;
    }
}

int hc_hotset_parse(const void *buf, size_t len, uint64_t max_blocks,
                    hc_hotset **out, char *err, size_t errlen) {
    *out = nullptr;
    try {
        auto hs = std::make_unique<hc_hotset>();
        std::string msg;
        int r = hotset_parse(static_cast<const uint8_t *>(buf), len, max_blocks,
                             hs.get(), &msg);
        if (r < 0) {
            set_err(err, errlen, msg);
            return r;
        }
        *out = hs.release();
        return 0;
    } catch (...) {
        set_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
}

int hc_hotset_check(const hc_hotset *hs, uint32_t block_size,
                    uint64_t image_size, const char *identity, char *err,
                    size_t errlen) {
    try {
        std::string msg;
        int r = hotset_check(*hs, block_size, image_size, identity, &msg);
        if (r < 0) {
            set_err(err, errlen, msg);
        }
        return r;
    } catch (...) {
        set_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
}

size_t hc_hotset_next_batch(const hc_hotset *hs, uint64_t *pos,
                            uint32_t max_blocks, uint32_t max_run_blocks,
                            hc_hotset_run *runs) {
    uint64_t from = *pos;
    if (from >= hs->blocks.size() || max_blocks == 0) {
        return 0;
    }
    max_run_blocks = std::max<uint32_t>(max_run_blocks, 1);
    uint64_t to = std::min<uint64_t>(hs->blocks.size(), from + max_blocks);
    std::vector<uint64_t> b;
    try {
        b.assign(hs->blocks.begin() + from, hs->blocks.begin() + to);
    } catch (...) {
        return 0;  // *pos unchanged: the caller may try again
    }
    *pos = to;
    std::sort(b.begin(), b.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
    size_t nruns = 0;
    uint64_t run_first = 0, run_len = 0;
    for (uint64_t blk : b) {
        if (run_len && blk == run_first + run_len && run_len < max_run_blocks) {
            run_len++;
            continue;
        }
        if (run_len) {
            runs[nruns++] = hc_hotset_run{run_first * hs->block_size,
                                          run_len * hs->block_size};
        }
        run_first = blk;
        run_len = 1;
    }
    runs[nruns++] =
        hc_hotset_run{run_first * hs->block_size, run_len * hs->block_size};
    return nruns;
}

}  // extern "C"
