// SPDX-License-Identifier: GPL-2.0-or-later
//
// tmaster: construction, slots and entries, eviction, reconfiguration and
// statistics.  The data paths live in read.cc, write.cc, writeback.cc and
// invalidate.cc.
#include "tmaster.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "iov.h"

using namespace hypercache;

namespace {

uint32_t log2u(uint32_t x) {
    return 31 - uint32_t(__builtin_clz(x));
}

// The FREQ policy's tuning, chosen by replaying the cloudPhysicsIO and OLTP
// traces (docs/core.md): a larger probation queue, two hits to leave it
// unless the sketch already rates the block frequent (>= 3 accesses), and a
// shorter ghost so that only recent reuse bypasses probation.
QueueParams freq_params() {
    QueueParams p;
    p.small_pct = 15;
    p.move_threshold = 2;
    p.ghost_pct = 60;
    p.sketch_promote = 3;
    return p;
}

// S3-FIFO as published (Yang et al., SOSP'23).
QueueParams s3fifo_params() {
    QueueParams p;
    p.small_pct = 10;
    p.move_threshold = 1;
    p.ghost_pct = 90;
    return p;
}

}  // namespace

hc_cache::hc_cache(const hc_config &c, uint32_t shards)
    : block_size(c.block_size),
      shift(log2u(c.block_size)),
      cfg(c),
      tindx(shards),
      tbuf(c.block_size, std::max<uint32_t>(c.buf_align, 512)),
      mode(c.mode),
      max_merge(c.max_merge),
      seq_cutoff(c.seq_cutoff) {}

void hc_cache::init() {
    uint32_t n = uint32_t(cfg.size / block_size);
    tbuf.set_prealloc(cfg.prealloc);
    if (!tbuf.resize(n)) {
        throw std::bad_alloc();
    }
    tindx.reserve(n);
    sketch = std::make_unique<CountMinSketch>(n);
    make_policy();
    capacity_slots = n;
    meta_static = metadata_bytes();
    // writeback_done() keeps extents without allocating (it cannot fail).
    ext_free.reserve(kKeepExtents);
}

void hc_cache::make_policy() {
    uint32_t n = tbuf.nslots();
    switch (cfg.policy) {
        case HC_POLICY_LRU:
            policy = make_lru_policy(n);
            break;
        case HC_POLICY_S3FIFO:
            policy = make_queue_policy(n, s3fifo_params(), nullptr);
            break;
        default:
            policy = make_queue_policy(n, freq_params(), sketch.get());
            break;
    }
}

// The paper's admission rule: a block enters HB once its access frequency
// reaches the threshold.  LRU and S3-FIFO are kept textbook (admit all) so
// they stay comparable with published figures.
bool hc_cache::admit(uint64_t block) const {
    if (cfg.policy != HC_POLICY_FREQ || cfg.admit_threshold <= 1) {
        return true;
    }
    return sketch->estimate(block) >= cfg.admit_threshold;
}

bool hc_cache::try_evict(uint32_t e) {
    Entry &en = tindx.at(e);
    Tindx::Shard &sh = tindx.shard_of(en.block);
    std::unique_lock lk(sh.mu, std::defer_lock);
    if (!all_locked) {
        lk.lock();
    }
    if (en.state != kClean || tbuf.meta(en.slot).pins != 0) {
        return false;
    }
    tindx.unlink(sh, e);
    tbuf.release(en.slot);
    en.slot = kNil;
    clean_blocks.sub(1);
    evictions.add(1);
    return true;
}

bool hc_cache::evict_victim() {
    uint32_t victim = kNil;
    auto fn = [&](uint32_t e) {
        if (try_evict(e)) {
            victim = e;
            return true;
        }
        return false;
    };
    if (!policy->evict_one(tindx, EvictFn(fn))) {
        return false;
    }
    tindx.free_entry(victim);
    return true;
}

uint32_t hc_cache::alloc_slot() {
    uint32_t slot;
    while (!tbuf.alloc(&slot)) {
        if (!evict_victim()) {
            return kNil;
        }
    }
    return slot;
}

uint32_t hc_cache::insert(uint64_t block, uint32_t slot, uint8_t state) {
    uint32_t e = tindx.alloc_entry();  // never fails: entries >= slots
    Entry &en = tindx.at(e);
    Tindx::Shard &sh = tindx.shard_of(block);
    // Into the policy first, while no reader can find the entry: a hit's
    // touch() must never see an entry that is not in the policy's lists
    // (LRU would unlink it from a list it is not on).
    en.block = block;
    en.slot = slot;
    en.state = state;
    policy->insert(tindx, e);
    {
        std::lock_guard g(sh.mu);
        tindx.link(sh, e);
    }
    (state & kDirty ? dirty_blocks : clean_blocks).add(1);
    return e;
}

void hc_cache::drop_locked(Tindx::Shard &sh, uint32_t e) {
    Entry &en = tindx.at(e);
    tindx.unlink(sh, e);
    policy->remove(tindx, e);
    SlotMeta &m = tbuf.meta(en.slot);
    if (m.pins != 0) {
        m.orphan = true;  // the last hc_read_end frees it
    } else {
        tbuf.release(en.slot);
    }
    if (en.state & kDirty) {
        dirty.clear(en.block);
        dirty_blocks.sub(1);
    } else {
        clean_blocks.sub(1);
    }
    gens.bump(en.block);
    tindx.free_entry(e);
}

void hc_cache::set_state(uint32_t e, uint8_t set, uint8_t clear) {
    Entry &en = tindx.at(e);
    std::lock_guard g(tindx.shard_of(en.block).mu);
    en.state = uint8_t((en.state & ~clear) | set);
}

void hc_cache::make_dirty(uint32_t e, uint64_t seqno) {
    Entry &en = tindx.at(e);
    if (en.state & kDirty) {
        return;
    }
    set_state(e, kDirty);
    dirty.mark(en.block, seqno, e);
    clean_blocks.sub(1);
    dirty_blocks.add(1);
}

void hc_cache::make_clean(uint32_t e, uint8_t also_clear) {
    Entry &en = tindx.at(e);
    set_state(e, 0, kDirty | also_clear);
    dirty.clear(en.block);
    dirty_blocks.sub(1);
    clean_blocks.add(1);
}

void hc_cache::drop(uint32_t e) {
    Tindx::Shard &sh = tindx.shard_of(tindx.at(e).block);
    std::unique_lock lk(sh.mu, std::defer_lock);
    if (!all_locked) {
        lk.lock();
    }
    drop_locked(sh, e);
}

bool hc_cache::update_block(uint32_t e, uint32_t dst_off, uint32_t n,
                            const IovCursor *src, uint64_t src_pos,
                            uint32_t *spare) {
    Entry &en = tindx.at(e);
    Tindx::Shard &sh = tindx.shard_of(en.block);
    for (;;) {
        std::unique_lock lk(sh.mu);
        uint32_t slot = en.slot;
        if (tbuf.meta(slot).pins != 0) {
            // A reader holds a pointer into this slot: never scribble on
            // it.  Copy the block to a fresh slot and leave the old one to
            // be freed by the last hc_read_end.
            if (*spare == kNil) {
                lk.unlock();
                *spare = alloc_slot();
                if (*spare == kNil) {
                    return false;
                }
                continue;  // pins may have dropped meanwhile
            }
            uint32_t fresh = *spare;
            *spare = kNil;
            memcpy(tbuf.ptr(fresh), tbuf.ptr(slot), block_size);
            tbuf.meta(slot).orphan = true;
            en.slot = slot = fresh;
        }
        uint8_t *dst = tbuf.ptr(slot) + dst_off;
        if (src) {
            src->copy_to(dst, src_pos, n);
        } else {
            memset(dst, 0, n);
        }
        gens.bump(en.block);
        return true;
    }
}

int hc_cache::shrink_to(uint32_t n) {
    // Everything that must stay (dirty, busy, pinned) has to fit, and what
    // sits in the slots being given up must be movable.
    uint64_t keep = 0;
    for (uint32_t s = 0; s < tbuf.nslots(); s++) {
        const SlotMeta &m = tbuf.meta(s);
        if (m.used && (m.orphan || m.pins) && s >= n) {
            return -EBUSY;
        }
        keep += m.used && m.orphan;
    }
    for (uint32_t e = 0; e < tindx.capacity(); e++) {
        const Entry &en = tindx.at(e);
        if (en.slot == kNil) {
            continue;
        }
        if (en.state != kClean || tbuf.meta(en.slot).pins) {
            keep++;
            if (en.slot >= n && (en.state & kBusy)) {
                return -EBUSY;  // its memory is out at the child
            }
        }
    }
    if (keep > n) {
        return -EBUSY;
    }
    while (tbuf.used_count() > n) {
        if (!evict_victim()) {
            return -EBUSY;
        }
    }
    // Move survivors out of the tail into free slots below @n.
    std::vector<uint32_t> low;
    for (uint32_t s = 0; s < n; s++) {
        if (!tbuf.meta(s).used) {
            low.push_back(s);
        }
    }
    for (uint32_t e = 0; e < tindx.capacity(); e++) {
        Entry &en = tindx.at(e);
        if (en.slot == kNil || en.slot < n) {
            continue;
        }
        uint32_t to = low.back();
        low.pop_back();
        memcpy(tbuf.ptr(to), tbuf.ptr(en.slot), block_size);
        tbuf.meta(to).used = true;
        tbuf.meta(en.slot).used = false;
        en.slot = to;
    }
    return tbuf.resize(n) ? 0 : -ENOMEM;
}

int hc_cache::reconfigure(const hc_config &nc, char *err, size_t errlen) {
    int r = hc_config_validate(&nc, err, errlen);
    if (r < 0) {
        return r;
    }
    std::lock_guard g(mu);
    if (nc.block_size != cfg.block_size || nc.buf_align != cfg.buf_align) {
        snprintf(err, errlen, "%s cannot change at run time",
                 nc.block_size != cfg.block_size ? "block-size" : "buf-align");
        return -EINVAL;
    }
    if (nc.shards != cfg.shards) {
        snprintf(err, errlen, "shards cannot change at run time");
        return -EINVAL;
    }
    if (nc.prealloc != cfg.prealloc) {
        snprintf(err, errlen, "prealloc cannot change at run time");
        return -EINVAL;
    }
    tindx.lock_all();
    all_locked = true;
    struct Unlock {
        hc_cache *c;
        ~Unlock() {
            c->all_locked = false;
            c->tindx.unlock_all();
        }
    } unlock{this};

    uint32_t n = uint32_t(nc.size / block_size);
    uint32_t old = tbuf.nslots();
    if (n < old) {
        r = shrink_to(n);
        if (r < 0) {
            snprintf(err, errlen,
                     "size %llu cannot hold the dirty and in-use data now; "
                     "write back and retry",
                     (unsigned long long)nc.size);
            return r;
        }
    } else if (n > old) {
        tindx.reserve(n);
        if (!tbuf.resize(n)) {
            snprintf(err, errlen, "cannot allocate %llu bytes of cache",
                     (unsigned long long)nc.size);
            return -ENOMEM;
        }
    }

    bool policy_changed = nc.policy != cfg.policy;
    cfg = nc;
    if (n != old) {
        sketch->resize(n);
    }
    if (policy_changed) {
        make_policy();
        for (uint32_t e = 0; e < tindx.capacity(); e++) {
            if (tindx.at(e).slot != kNil) {
                policy->insert(tindx, e);
            }
        }
    } else if (n != old) {
        policy->resize(n);
    }
    if (nc.mode == HC_MODE_NONE) {
        // "Cache nothing": keep only what is not yet on the child.
        for (uint32_t e = 0; e < tindx.capacity(); e++) {
            const Entry &en = tindx.at(e);
            if (en.slot != kNil && en.state == kClean) {
                drop(e);
            }
        }
    }
    capacity_slots = n;
    mode = nc.mode;
    max_merge = nc.max_merge;
    seq_cutoff = nc.seq_cutoff;
    meta_static = metadata_bytes();
    return 0;
}

void hc_cache::get_config(hc_config *out) {
    std::lock_guard g(mu);
    *out = cfg;
}

uint64_t hc_cache::metadata_bytes() const {
    return tindx.metadata_bytes() + tbuf.metadata_bytes() +
           sketch->metadata_bytes() + policy->metadata_bytes() +
           sizeof(GenTable) + sizeof(MrcEstimator) + mrc.metadata_bytes() +
           sizeof(*this);
}

void hc_cache::get_stats(hc_stats *s) {
    *s = hc_stats{};
    s->read_requests = st.get(kReadRequests);
    s->read_bytes = st.get(kReadBytes);
    s->write_requests = st.get(kWriteRequests);
    s->write_bytes = st.get(kWriteBytes);
    s->full_hits = st.get(kFullHits);
    s->partial_hits = st.get(kPartialHits);
    s->misses = st.get(kMisses);
    s->hit_blocks = st.get(kHitBlocks);
    s->miss_blocks = st.get(kMissBlocks);
    s->admissions = st.get(kAdmissions);
    s->rejections = st.get(kRejections);
    s->evictions = evictions.load();
    s->bypassed = st.get(kBypassed);
    s->writeback_requests = st.get(kWritebackRequests);
    s->writeback_bytes = st.get(kWritebackBytes);
    s->writeback_blocks_written = st.get(kWritebackBlocksWritten);
    s->writeback_errors = st.get(kWritebackErrors);
    s->write_errors = st.get(kWriteErrors);
    s->read_errors = st.get(kReadErrors);
    s->fill_waits = st.get(kFillWaits);
    auto ld = [](const Gauge &g) { return g.load(); };
    uint64_t dirty_n = ld(dirty_blocks), clean_n = ld(clean_blocks);
    s->dirty_bytes = dirty_n * block_size;
    s->wb_bytes = dirty_n * block_size;
    s->hb_bytes = clean_n * block_size;
    s->cached_blocks = dirty_n + clean_n;
    s->capacity_bytes =
        uint64_t(capacity_slots.load(std::memory_order_relaxed)) * block_size;
    // Dirty map nodes come and go with the data; the rest is fixed.
    s->metadata_bytes =
        meta_static.load(std::memory_order_relaxed) + dirty_n * 88;
}

void hc_cache::reset_stats() {
    st.reset();
    std::lock_guard g(mu);
    evictions.set(0);
}

double hc_cache::mrc_hit_ratio(double factor) {
    if (!(factor > 0)) {
        return -1;
    }
    return mrc.hit_ratio(factor * double(capacity_slots.load()));
}
