/*
 * hypercache: QMP commands, query-blockstats and image info
 *
 * Copyright (c) 2026 The hypercache authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Everything here runs in the main loop while iothreads keep submitting
 * I/O; the core's statistics are read atomically, so no drain is needed.
 */

#include "qemu/osdep.h"

#include "block/block-global-state.h"
#include "block/block-io.h"
#include "block/block_int.h"
#include "block/hypercache-core.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-block-core.h"

#include "hypercache-int.h"

/* Cache sizes, as multiples of the current one, the MRC is reported at. */
static const double hypercache_mrc_factors[] = { 0.25, 0.5, 2, 4 };

static HypercacheConfig *hypercache_config(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheConfig *c = g_new0(HypercacheConfig, 1);
    hc_config cfg;

    hc_get_config(s->cache, &cfg);
    *c = (HypercacheConfig) {
        .size = cfg.size,
        .block_size = cfg.block_size,
        .mode = (HypercacheMode)s->active_mode,
        .policy = (HypercachePolicy)cfg.policy,
        .admit_threshold = cfg.admit_threshold,
        .dirty_high = cfg.dirty_high_pct,
        .dirty_low = cfg.dirty_low_pct,
        .dirty_max = cfg.dirty_max_pct,
        .max_dirty_age = cfg.max_dirty_age_ns / SCALE_MS,
        .max_merge = cfg.max_merge,
        .seq_cutoff = cfg.seq_cutoff,
        .prealloc = cfg.prealloc,
        .active = !s->inactive,
        .hotset_file = g_strdup(hypercache_hotset_file(bs)),
    };
    return c;
}

static void hypercache_fill_stats(BlockDriverState *bs, HypercacheStats *out)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheMrcPointList **tail = &out->mrc;
    uint64_t blocks_read;
    hc_stats st;
    size_t i;

    hc_get_stats(s->cache, &st);
    blocks_read = st.hit_blocks + st.miss_blocks;
    *out = (HypercacheStats) {
        .read_requests = st.read_requests,
        .read_bytes = st.read_bytes,
        .write_requests = st.write_requests,
        .write_bytes = st.write_bytes,
        .full_hits = st.full_hits,
        .partial_hits = st.partial_hits,
        .misses = st.misses,
        .hit_blocks = st.hit_blocks,
        .miss_blocks = st.miss_blocks,
        .hit_ratio = blocks_read ? (double)st.hit_blocks / blocks_read : 0,
        .admissions = st.admissions,
        .rejections = st.rejections,
        .evictions = st.evictions,
        .bypassed = st.bypassed,
        .writeback_requests = st.writeback_requests,
        .writeback_bytes = st.writeback_bytes,
        /* From counters that a reset zeroes together. */
        .merge_ratio = st.writeback_requests ?
            (double)st.writeback_bytes / s->cfg.block_size /
            st.writeback_requests : 0,
        .dirty_bytes = st.dirty_bytes,
        .hb_bytes = st.hb_bytes,
        .wb_bytes = st.wb_bytes,
        .capacity_bytes = st.capacity_bytes,
        .pool = s->pool ? g_strdup(hypercache_pool_id(s->pool)) : NULL,
        .weight = s->pool ? (uint32_t)s->member.weight : 1,
        .reserve = s->pool ? s->member.reserve : 0,
        .metadata_bytes = st.metadata_bytes,
        .cached_blocks = st.cached_blocks,
        .fill_waits = st.fill_waits,
        .read_errors = st.read_errors,
        .write_errors = st.write_errors,
        .writeback_errors = st.writeback_errors,
    };
    tail = &out->mrc;
    for (i = 0; i < ARRAY_SIZE(hypercache_mrc_factors); i++) {
        double hr = hc_mrc_hit_ratio(s->cache, hypercache_mrc_factors[i]);
        HypercacheMrcPoint *p;

        if (hr < 0) {
            continue;
        }
        p = g_new(HypercacheMrcPoint, 1);
        p->size_factor = hypercache_mrc_factors[i];
        p->hit_ratio = hr;
        QAPI_LIST_APPEND(tail, p);
    }
    out->has_mrc = out->mrc != NULL;
}

ImageInfoSpecific *hypercache_get_specific_info(BlockDriverState *bs,
                                                Error **errp)
{
    ImageInfoSpecific *info = g_new0(ImageInfoSpecific, 1);

    info->type = IMAGE_INFO_SPECIFIC_KIND_HYPERCACHE;
    info->u.hypercache.data = hypercache_config(bs);
    return info;
}

BlockStatsSpecific *hypercache_get_specific_stats(BlockDriverState *bs)
{
    BlockStatsSpecific *stats = g_new0(BlockStatsSpecific, 1);

    stats->driver = BLOCKDEV_DRIVER_HYPERCACHE;
    hypercache_fill_stats(bs, &stats->u.hypercache);
    return stats;
}

/* The hypercache node called @node_name, or NULL with an error. */
BlockDriverState *hypercache_find(const char *node_name, Error **errp)
{
    BlockDriverState *bs = bdrv_find_node(node_name);

    if (!bs) {
        error_setg(errp, "Cannot find node '%s'", node_name);
        return NULL;
    }
    if (!hypercache_is_node(bs)) {
        error_setg(errp, "Node '%s' is not a hypercache node (driver '%s')",
                   node_name, bs->drv ? bs->drv->format_name : "none");
        return NULL;
    }
    return bs;
}

static HypercacheInfo *hypercache_info(BlockDriverState *bs)
{
    HypercacheInfo *info = g_new0(HypercacheInfo, 1);

    info->node_name = g_strdup(bdrv_get_node_name(bs));
    info->config = hypercache_config(bs);
    info->stats = g_new0(HypercacheStats, 1);
    hypercache_fill_stats(bs, info->stats);
    hypercache_hotset_fill_info(bs, info);
    return info;
}

HypercacheInfoList *qmp_x_hypercache_query(const char *node_name,
                                           Error **errp)
{
    HypercacheInfoList *list = NULL, **tail = &list;
    BlockDriverState *bs;

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    if (node_name) {
        bs = hypercache_find(node_name, errp);
        if (!bs) {
            return NULL;
        }
        QAPI_LIST_APPEND(tail, hypercache_info(bs));
        return list;
    }
    for (bs = bdrv_next_node(NULL); bs; bs = bdrv_next_node(bs)) {
        if (hypercache_is_node(bs)) {
            QAPI_LIST_APPEND(tail, hypercache_info(bs));
        }
    }
    return list;
}

void qmp_x_hypercache_flush(const char *node_name, Error **errp)
{
    BlockDriverState *bs;
    BDRVHypercacheState *s;
    int ret;

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    bs = hypercache_find(node_name, errp);
    if (!bs) {
        return;
    }
    s = bs->opaque;
    if (s->inactive || bdrv_is_inactive(bs)) {
        error_setg(errp, "Node '%s' is inactive (migrated away); its data "
                   "was written back when it was inactivated", node_name);
        return;
    }
    /* Writes back every dirty block, then flushes the child to disk. */
    ret = bdrv_flush(bs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Flush of hypercache node '%s' failed; "
                         "its dirty data is kept for a later flush",
                         node_name);
    }
}

void qmp_x_hypercache_reset_stats(const char *node_name, Error **errp)
{
    BlockDriverState *bs;

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    if (node_name) {
        bs = hypercache_find(node_name, errp);
        if (bs) {
            hc_reset_stats(((BDRVHypercacheState *)bs->opaque)->cache);
        }
        return;
    }
    for (bs = bdrv_next_node(NULL); bs; bs = bdrv_next_node(bs)) {
        if (hypercache_is_node(bs)) {
            hc_reset_stats(((BDRVHypercacheState *)bs->opaque)->cache);
        }
    }
}
