/*
 * hypercache: HMP "info hypercache"
 *
 * Copyright (c) 2026 The hypercache authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"

#include "block/block-hmp-cmds.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-block-core.h"
#include "qobject/qdict.h"

void hmp_info_hypercache(Monitor *mon, const QDict *qdict)
{
    const char *node = qdict_get_try_str(qdict, "node");
    HypercacheInfoList *list, *l;
    Error *err = NULL;

    list = qmp_x_hypercache_query(node, &err);
    if (hmp_handle_error(mon, err)) {
        return;
    }
    if (!list) {
        monitor_printf(mon, "No hypercache nodes\n");
        return;
    }
    for (l = list; l; l = l->next) {
        HypercacheConfig *c = l->value->config;
        HypercacheStats *st = l->value->stats;
        HypercacheMrcPointList *m;

        monitor_printf(mon, "%s: %s, %s, size %" PRIu64 " block-size %"
                       PRIu64 " admit-threshold %" PRIu32 "%s\n",
                       l->value->node_name, HypercacheMode_str(c->mode),
                       HypercachePolicy_str(c->policy), c->size,
                       c->block_size, c->admit_threshold,
                       c->active ? "" : " (inactive)");
        if (st->pool) {
            monitor_printf(mon, "  pool %s: share %" PRIu64 " bytes, weight %"
                           PRIu32 ", reserve %" PRIu64 "\n", st->pool,
                           st->capacity_bytes, st->weight, st->reserve);
        }
        monitor_printf(mon, "  reads %" PRIu64 " (full hits %" PRIu64
                       ", partial %" PRIu64 ", misses %" PRIu64
                       "), block hit ratio %.3f\n",
                       st->read_requests, st->full_hits, st->partial_hits,
                       st->misses, st->hit_ratio);
        monitor_printf(mon, "  single flight: %" PRIu64 " missed blocks "
                       "waited for another request's read\n", st->fill_waits);
        monitor_printf(mon, "  writes %" PRIu64 ", write-back requests %"
                       PRIu64 " (%" PRIu64 " bytes, %.1f blocks each)\n",
                       st->write_requests, st->writeback_requests,
                       st->writeback_bytes, st->merge_ratio);
        monitor_printf(mon, "  HB %" PRIu64 " bytes, WB %" PRIu64
                       " bytes dirty, admissions %" PRIu64 ", rejections %"
                       PRIu64 ", evictions %" PRIu64 "\n",
                       st->hb_bytes, st->wb_bytes, st->admissions,
                       st->rejections, st->evictions);
        monitor_printf(mon, "  errors: read %" PRIu64 ", write %" PRIu64
                       ", write-back %" PRIu64 "\n", st->read_errors,
                       st->write_errors, st->writeback_errors);
        for (m = st->mrc; m; m = m->next) {
            monitor_printf(mon, "  at %.2fx size: estimated hit ratio %.3f\n",
                           m->value->size_factor, m->value->hit_ratio);
        }
        if (l->value->hotset_load) {
            HypercacheHotsetLoad *h = l->value->hotset_load;

            monitor_printf(mon, "  hot set %s: %s, %" PRIu64 " of %" PRIu64
                           " blocks loaded, %" PRIu64 " skipped\n",
                           h->filename, HypercacheHotsetStatus_str(h->status),
                           h->loaded, h->wanted, h->skipped);
        }
    }
    qapi_free_HypercacheInfoList(list);
}
