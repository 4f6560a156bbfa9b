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
    int quiesce;                /* drained sections in progress */
} BDRVHypercacheState;

bool hypercache_is_node(BlockDriverState *bs);
int coroutine_fn GRAPH_RDLOCK hypercache_writeback_all(BlockDriverState *bs);

ImageInfoSpecific * GRAPH_RDLOCK
hypercache_get_specific_info(BlockDriverState *bs, Error **errp);
BlockStatsSpecific *hypercache_get_specific_stats(BlockDriverState *bs);

#endif /* BLOCK_HYPERCACHE_INT_H */
