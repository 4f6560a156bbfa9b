// SPDX-License-Identifier: GPL-2.0-or-later
//
// Configuration defaults, validation (messages name options as QAPI spells
// them) and the names of modes and policies.
#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "block/hypercache-core.h"
#include "util.h"

int hypercache::fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

using hypercache::fail;

namespace {

bool pow2(uint64_t x) {
    return x && !(x & (x - 1));
}

}  // namespace

extern "C" {

void hc_config_default(hc_config *cfg) {
    *cfg = hc_config{};
    cfg->size = 256ULL << 20;
    cfg->block_size = 4096;
    cfg->buf_align = 4096;
    cfg->mode = HC_MODE_WRITEBACK;
    cfg->policy = HC_POLICY_FREQ;
    cfg->admit_threshold = 1;
    cfg->dirty_high_pct = 50;  // dm-writecache's watermarks
    cfg->dirty_low_pct = 45;
    cfg->dirty_max_pct = 90;
    cfg->max_dirty_age_ns = 30ULL * 1000 * 1000 * 1000;
    cfg->max_merge = 1ULL << 20;
    // Off: FREQ's probation queue already keeps scans out of the hot set,
    // and a cutoff costs .01-.02 miss ratio on cloudPhysicsIO and stops
    // small sequential writes from being merged (docs/SIMULATOR.md).
    cfg->seq_cutoff = 0;
    cfg->shards = 0;
}

int hc_config_validate(const hc_config *c, char *err, size_t errlen) {
    if (!c) {
        return fail(err, errlen, "no configuration given");
    }
    if (!pow2(c->block_size) || c->block_size < 512 || c->block_size > 65536) {
        return fail(err, errlen,
                    "block-size must be a power of two from 512 to 65536, "
                    "not %u",
                    c->block_size);
    }
    if (!pow2(c->buf_align) || c->buf_align < 512 ||
        c->buf_align > (2u << 20)) {
        return fail(err, errlen,
                    "buf-align must be a power of two from 512 to 2097152, "
                    "not %u",
                    c->buf_align);
    }
    if (c->size < 8ULL * c->block_size ||
        c->size / c->block_size > (1ULL << 31)) {
        return fail(err, errlen,
                    "size must be from 8 blocks (%llu bytes) to 2^31 blocks "
                    "of block-size, not %llu",
                    8ULL * c->block_size, (unsigned long long)c->size);
    }
    if (unsigned(c->mode) >= HC_MODE__MAX) {
        return fail(err, errlen,
                    "mode must be writeback, writethrough, writearound or "
                    "none");
    }
    if (unsigned(c->policy) >= HC_POLICY__MAX) {
        return fail(err, errlen, "policy must be freq, lru or s3fifo");
    }
    if (c->admit_threshold < 1 || c->admit_threshold > 15) {
        return fail(err, errlen, "admit-threshold must be from 1 to 15, not %u",
                    c->admit_threshold);
    }
    if (c->dirty_high_pct < 1 || c->dirty_high_pct > 100) {
        return fail(err, errlen, "dirty-high must be from 1 to 100, not %u",
                    c->dirty_high_pct);
    }
    if (c->dirty_low_pct >= c->dirty_high_pct) {
        return fail(err, errlen, "dirty-low (%u) must be below dirty-high (%u)",
                    c->dirty_low_pct, c->dirty_high_pct);
    }
    if (c->dirty_max_pct < c->dirty_high_pct || c->dirty_max_pct > 100) {
        return fail(err, errlen,
                    "dirty-max must be from dirty-high (%u) to 100, "
                    "not %u",
                    c->dirty_high_pct, c->dirty_max_pct);
    }
    if (c->max_merge < c->block_size || c->max_merge > (1ULL << 30)) {
        return fail(err, errlen,
                    "max-merge must be from block-size (%u) to 1 GiB, "
                    "not %llu",
                    c->block_size, (unsigned long long)c->max_merge);
    }
    if (c->shards != 0 && (!pow2(c->shards) || c->shards > 256)) {
        return fail(err, errlen,
                    "shards must be 0 (automatic) or a power of two up to "
                    "256, not %u",
                    c->shards);
    }
    return 0;
}

const char *hc_mode_name(hc_mode m) {
    switch (m) {
        case HC_MODE_WRITEBACK:
            return "writeback";
        case HC_MODE_WRITETHROUGH:
            return "writethrough";
        case HC_MODE_WRITEAROUND:
            return "writearound";
        case HC_MODE_NONE:
            return "none";
        default:
            return "invalid";
    }
}

const char *hc_policy_name(hc_policy p) {
    switch (p) {
        case HC_POLICY_FREQ:
            return "freq";
        case HC_POLICY_LRU:
            return "lru";
        case HC_POLICY_S3FIFO:
            return "s3fifo";
        default:
            return "invalid";
    }
}

}  // extern "C"
