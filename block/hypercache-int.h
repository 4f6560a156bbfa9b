/*
 * hypercache: state shared by the filter driver and its QMP/HMP glue
 *
 * Copyright (c) 2026 The hypercache authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLOCK_HYPERCACHE_INT_H
#define BLOCK_HYPERCACHE_INT_H

#include "block/block_int.h"
#include "block/hypercache-core.h"
#include "qemu/coroutine.h"

typedef struct HypercacheHotset HypercacheHotset;
typedef struct HypercachePool HypercachePool;

typedef struct BDRVHypercacheState {
    hc_cache *cache;            /* the core's tmaster */
    hc_config cfg;              /* as configured (mode NONE while inactive) */
    hc_mode active_mode;        /* the mode to use while active */
    hc_config reopen_old;       /* restored by reopen_abort */
    bool inactive;              /* migrated away: cache nothing */
    bool exclusive;             /* no one else can write the child */
    QEMUBH *drop_write_bh;      /* write back after parents stop writing */

    /* Coroutines waiting for a busy block or for WB room (see _wait()). */
    CoMutex wait_lock;
    CoQueue wait_queue;
    uint64_t wake_gen;
    unsigned waiters;           /* coroutines in hypercache_wait() */

    bool opened;                /* open succeeded and close not begun */
    QEMUTimer *wb_timer;        /* background write-back tick */
    bool bg_running;            /* background writer coroutine exists */
    bool bg_all;                /* ... and writes back all, not to a mark */
    int quiesce;                /* drained sections in progress */
    HypercacheHotset *hotset;   /* hot sets (hypercache-hotset.c) */
    HypercachePool *pool;       /* the pool it is a member of, or NULL */
    hc_pool_member member;      /* its weight, reserve and limit there */
    hc_pool_member reopen_old_member; /* restored by reopen_abort */
} BDRVHypercacheState;

bool hypercache_is_node(BlockDriverState *bs);
int coroutine_fn GRAPH_RDLOCK hypercache_writeback_all(BlockDriverState *bs);

ImageInfoSpecific * GRAPH_RDLOCK
hypercache_get_specific_info(BlockDriverState *bs, Error **errp);
BlockStatsSpecific *hypercache_get_specific_stats(BlockDriverState *bs);
BlockDriverState *hypercache_find(const char *node_name, Error **errp);

/*
 * Hot sets (hypercache-hotset.c): a warm cache after restart and live
 * migration.  open takes the hotset-file and hotset-rate options out of
 * @options (after hc_create(); false with @errp set on a bad value) and
 * starts loading the file; close and inactivate save it; activate loads it;
 * remember, called before the cache is emptied because the node no longer
 * caches (its last writer left), keeps the hot set for close to save;
 * tick (from the write-back timer) resumes a load after a drain.
 */
bool hypercache_hotset_open(BlockDriverState *bs, QDict *options,
                            Error **errp);
void hypercache_hotset_close(BlockDriverState *bs);
void hypercache_hotset_remember(BlockDriverState *bs);
void GRAPH_RDLOCK hypercache_hotset_inactivate(BlockDriverState *bs);
void GRAPH_RDLOCK hypercache_hotset_activate(BlockDriverState *bs);
void hypercache_hotset_tick(BlockDriverState *bs);
const char *hypercache_hotset_file(BlockDriverState *bs);
void hypercache_hotset_fill_info(BlockDriverState *bs, HypercacheInfo *info);

/*
 * Cache pools (hypercache-pool.c).  find resolves the id given in option
 * @opt to a hypercache-pool object (NULL with an error naming @opt);
 * join adds the node's cache as a member and keeps a reference to the pool
 * until leave; update changes the member's weight, reserve and limit.
 * All run in the main loop.
 */
HypercachePool *hypercache_pool_find(const char *id, const char *opt,
                                     Error **errp);
const char *hypercache_pool_id(HypercachePool *p);
bool hypercache_pool_join(HypercachePool *p, BlockDriverState *bs,
                          hc_cache *c, const hc_pool_member *m, Error **errp);
bool hypercache_pool_update(HypercachePool *p, hc_cache *c,
                            const hc_pool_member *m, Error **errp);
void hypercache_pool_leave(HypercachePool *p, BlockDriverState *bs,
                           hc_cache *c);
/* In hypercache.c: write back a member that could not shrink yet. */
void hypercache_pool_writeback(BlockDriverState *bs);

#endif /* BLOCK_HYPERCACHE_INT_H */
