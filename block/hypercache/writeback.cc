// SPDX-License-Identifier: GPL-2.0-or-later
//
// hC-Writeback: hand out dirty blocks of WB in offset order, merged into
// contiguous extents (iovecs straight into WB, no copy), and settle them
// when the child has them.  When and how much is the glue's call, guided by
// hc_writeback_wanted().
#include <cerrno>

#include "tmaster.h"

using namespace hypercache;

uint64_t hc_cache::dirty_seq() {
    std::lock_guard g(mu);
    return dirty_seq_;
}

int hc_cache::writeback_wanted(uint64_t now) {
    std::lock_guard g(mu);
    dirty.checkpoint(dirty_seq_, now);
    uint64_t idle = dirty_blocks.load() - wb_busy_blocks.load();
    if (idle == 0) {
        return -1;
    }
    if (dirty_blocks.load() * 100 >
        uint64_t(tbuf.nslots()) * cfg.dirty_high_pct) {
        return HC_WB_WATERMARK;
    }
    if (cfg.max_dirty_age_ns &&
        dirty.oldest_older_than(now, cfg.max_dirty_age_ns)) {
        return HC_WB_AGE;
    }
    return -1;
}

int hc_cache::writeback_next(hc_wb_reason why, uint64_t upto, uint64_t now,
                             hc_extent **out) {
    *out = nullptr;
    std::lock_guard g(mu);
    dirty.checkpoint(dirty_seq_, now);
    uint64_t limit;
    switch (why) {
        case HC_WB_FLUSH:
            limit = upto;
            break;
        case HC_WB_WATERMARK: {
            uint64_t idle = dirty_blocks.load() - wb_busy_blocks.load();
            if (idle * 100 <= uint64_t(tbuf.nslots()) * cfg.dirty_low_pct) {
                return 0;
            }
            limit = UINT64_MAX;
            break;
        }
        case HC_WB_AGE:
            if (!cfg.max_dirty_age_ns) {
                return 0;
            }
            limit = dirty.seq_older_than(now, cfg.max_dirty_age_ns);
            break;
        default:
            return -EINVAL;
    }

    // Every dirty block has a sequence number up to dirty_seq_.
    limit = std::min(limit, dirty_seq_);
    if (wb_none_valid && limit <= wb_none_upto) {
        return 0;  // nothing has become eligible since the last look
    }

    // Continue from where the last extent ended (an elevator sweep), so a
    // flush walks the disk once instead of rescanning written-out ranges.
    DirtyTracker::Map &map = dirty.blocks();
    auto eligible = [&](const DirtyTracker::Map::value_type &kv) {
        return kv.second.seq <= limit &&
               !(tindx.at(kv.second.entry).state & kBusy);
    };
    auto it = map.lower_bound(wb_cursor);
    while (it != map.end() && !eligible(*it)) {
        ++it;
    }
    if (it == map.end()) {
        it = map.begin();
        while (it != map.end() && it->first < wb_cursor && !eligible(*it)) {
            ++it;
        }
        if (it == map.end() || it->first >= wb_cursor) {
            wb_none_valid = true;
            wb_none_upto = limit;
            return 0;
        }
    }

    std::unique_ptr<hc_extent_impl> ext;
    if (!ext_free.empty()) {
        ext = std::move(ext_free.back());
        ext_free.pop_back();
        ext->iovs.clear();
        ext->entries.clear();
    } else {
        ext = std::make_unique<hc_extent_impl>();
    }
    // Neighbours join whatever their age: writing them now costs nothing
    // extra.  IOV_MAX (1024) bounds an extent even when slots are scattered.
    uint64_t max_blocks = std::min<uint64_t>(
        std::max<uint64_t>(max_merge.load() >> shift, 1), 1024);
    ext->iovs.reserve(max_blocks);
    ext->entries.reserve(max_blocks);
    uint64_t first = it->first;
    uint32_t n = 0;
    for (; it != map.end() && it->first == first + n && n < max_blocks; ++it) {
        uint32_t e = it->second.entry;
        Entry &en = tindx.at(e);
        if (en.state & kBusy) {
            break;
        }
        uint8_t *p;
        {
            // Busy and the slot's address in one step under the shard
            // lock: rewrite_dirty() copies into this slot under that lock
            // only while the block is not busy.
            std::lock_guard sg(tindx.shard_of(en.block).mu);
            en.state |= kWriteback;
            p = tbuf.ptr(en.slot);
        }
        if (!ext->iovs.empty() &&
            static_cast<uint8_t *>(ext->iovs.back().iov_base) +
                    ext->iovs.back().iov_len ==
                p) {
            ext->iovs.back().iov_len += block_size;
        } else {
            ext->iovs.push_back(iovec{p, block_size});
        }
        ext->entries.push_back(e);
        n++;
    }
    wb_busy_blocks.add(n);
    wb_cursor = first + n;
    ext->first_block = first;
    ext->nblocks = n;
    ext->offset = first << shift;
    ext->len = uint64_t(n) << shift;
    ext->iov = ext->iovs.data();
    ext->iovcnt = int(ext->iovs.size());
    *out = ext.release();
    return 1;
}

// The blocks of an extent are contiguous and were all dirty and busy since
// it was handed out (busy blocks refuse writes, invalidation and eviction),
// so they are settled with the entries kept in the extent and one walk of
// the dirty map, not a lookup per block.
void hc_cache::writeback_done(hc_extent *pub, int ret) {
    auto *ext = static_cast<hc_extent_impl *>(pub);
    uint64_t len = ext->len;  // once back in ext_free, it is not ours
    {
        std::lock_guard g(mu);
        if (ret >= 0) {
            for (uint32_t e : ext->entries) {
                set_state(e, 0, kDirty | kWriteback);
            }
            dirty.clear_run(ext->first_block, ext->nblocks);
            dirty_blocks.sub(ext->nblocks);
            clean_blocks.add(ext->nblocks);
        } else {
            for (uint32_t e : ext->entries) {
                set_state(e, 0, kWriteback);
            }
            wb_none_valid = false;  // dirty and idle again
        }
        wb_busy_blocks.sub(ext->nblocks);
        if (ext_free.size() < kKeepExtents) {
            ext_free.emplace_back(ext);
            ext = nullptr;
        }
    }
    if (ret >= 0) {
        st.add(kWritebackRequests);
        st.add(kWritebackBytes, len);
    } else {
        st.add(kWritebackErrors);
    }
    delete ext;
}

uint64_t hc_cache::dirty_pending(uint64_t upto) {
    std::lock_guard g(mu);
    return dirty.pending(upto);
}
