// SPDX-License-Identifier: GPL-2.0-or-later
//
// The C API: argument checks and the exception boundary.  Nothing thrown
// inside the core (in practice std::bad_alloc) ever reaches a C caller;
// functions that can report it return -ENOMEM, the others degrade (a fill
// that cannot allocate is simply not cached).
#include <cerrno>
#include <cstdio>
#include <new>
#include <thread>

#include "tmaster.h"

namespace {

template <typename F>
int guard(F &&f) {
    try {
        return f();
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (...) {
        return -EIO;
    }
}

template <typename F>
void guard_void(F &&f) {
    try {
        f();
    } catch (...) {
        // Nothing to report through a void function; the operation was
        // only an optimisation (a fill) or its state is already settled.
    }
}

// Two shard locks per hit; with at least 16 shards, two iothreads meet on
// one in a sixteenth of their hits at most.  A shard costs a cache line.
uint32_t auto_shards() {
    unsigned n = std::thread::hardware_concurrency();
    uint32_t s = 16;
    while (s < 2 * n && s < 64) {
        s <<= 1;
    }
    return s;
}

}  // namespace

extern "C" {

hc_cache *hc_create(const hc_config *cfg, char *err, size_t errlen) {
    if (hc_config_validate(cfg, err, errlen) < 0) {
        return nullptr;
    }
    try {
        auto c = std::make_unique<hc_cache>(
            *cfg, cfg->shards ? cfg->shards : auto_shards());
        c->init();
        return c.release();
    } catch (...) {
        if (err && errlen) {
            snprintf(err, errlen, "cannot allocate %llu bytes of cache%s",
                     static_cast<unsigned long long>(cfg->size),
                     cfg->prealloc ? " (prealloc=on faults it all in)" : "");
        }
        return nullptr;
    }
}

void hc_destroy(hc_cache *c) {
    delete c;
}

void hc_get_config(hc_cache *c, hc_config *cfg) {
    c->get_config(cfg);
}

int hc_reconfigure(hc_cache *c, const hc_config *cfg, char *err,
                   size_t errlen) {
    if (!cfg) {
        return -EINVAL;
    }
    return guard([&] { return c->reconfigure(*cfg, err, errlen); });
}

int hc_read_begin(hc_cache *c, uint64_t offset, uint64_t len,
                  hc_read_plan **plan) {
    if (!plan) {
        return -EINVAL;
    }
    *plan = nullptr;
    return guard([&] { return c->read_begin(offset, len, plan); });
}

size_t hc_read_plan_count(const hc_read_plan *plan) {
    return plan->segs.size();
}

const hc_read_seg *hc_read_plan_seg(const hc_read_plan *plan, size_t i) {
    return i < plan->segs.size() ? &plan->segs[i] : nullptr;
}

bool hc_read_wait_pending(hc_cache *c, const hc_read_plan *plan, size_t i) {
    return plan && c->read_wait_pending(plan, i);
}

void hc_read_fill(hc_cache *c, hc_read_plan *plan, size_t i, const void *buf) {
    if (plan && buf) {
        guard_void([&] { c->read_fill(plan, i, buf); });
    }
}

void hc_read_fill_done(hc_cache *c, hc_read_plan *plan, size_t i) {
    if (plan) {
        guard_void([&] { c->read_fill_done(plan, i); });
    }
}

void hc_read_failed(hc_cache *c, hc_read_plan *plan, size_t i, int) {
    if (plan) {
        c->read_failed(plan, i);
    } else {
        c->st.add(hypercache::kReadErrors);
    }
}

void hc_read_end(hc_cache *c, hc_read_plan *plan) {
    if (plan) {
        c->read_end(plan);
    }
}

int hc_write_begin(hc_cache *c, uint64_t offset, uint64_t len,
                   const struct iovec *iov, int iovcnt, size_t skip,
                   unsigned flags, hc_write_ticket **ticket) {
    return guard([&] {
        return c->write_begin(offset, len, iov, iovcnt, skip, flags, ticket);
    });
}

void hc_write_end(hc_cache *c, hc_write_ticket *ticket, int ret) {
    if (ticket) {
        c->write_end(ticket, ret);
    }
}

uint64_t hc_dirty_seq(hc_cache *c) {
    return c->dirty_seq();
}

int hc_writeback_wanted(hc_cache *c, uint64_t now_ns) {
    return c->writeback_wanted(now_ns);
}

int hc_writeback_next(hc_cache *c, hc_wb_reason why, uint64_t upto_seq,
                      uint64_t now_ns, hc_extent **ext) {
    if (!ext) {
        return -EINVAL;
    }
    *ext = nullptr;
    return guard([&] { return c->writeback_next(why, upto_seq, now_ns, ext); });
}

void hc_writeback_done(hc_cache *c, hc_extent *ext, int ret) {
    if (ext) {
        c->writeback_done(ext, ret);
    }
}

uint64_t hc_dirty_pending(hc_cache *c, uint64_t upto_seq) {
    return c->dirty_pending(upto_seq);
}

int hc_invalidate(hc_cache *c, uint64_t offset, uint64_t len, unsigned flags) {
    return guard([&] { return c->invalidate(offset, len, flags); });
}

bool hc_range_dirty(hc_cache *c, uint64_t offset, uint64_t len,
                    uint64_t *pnum) {
    return c->range_dirty(offset, len, pnum);
}

void hc_get_stats(hc_cache *c, hc_stats *st) {
    c->get_stats(st);
}

void hc_reset_stats(hc_cache *c) {
    c->reset_stats();
}

double hc_mrc_hit_ratio(hc_cache *c, double factor) {
    return c->mrc_hit_ratio(factor);
}

}  // extern "C"
