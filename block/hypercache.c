/*
 * hypercache: an access-frequency aware block cache filter
 *
 * Copyright (c) 2026 The hypercache authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * After Kim, No, Piao and Yoo, "I/O access frequency-aware cache method on
 * KVM/QEMU", Cluster Computing 20(3), 2017.  Every caching decision and all
 * cache memory belong to the C++ core (block/hypercache/, API in
 * include/block/hypercache-core.h); this file turns the core's plans into
 * child I/O in coroutines, runs background write-back in the node's
 * AioContext, and connects the filter to QAPI.
 *
 * Safety contract: a flush that succeeds has put every block that was dirty
 * when it started on the child's stable storage; a write-back error fails the
 * flush and keeps the data dirty; reads always see the newest data.
 */

#include "qemu/osdep.h"

#include "block/block-io.h"
#include "block/block_int.h"
#include "block/hypercache-core.h"
#include "qapi/error.h"
#include "qapi/qapi-types-block-core.h"
#include "qemu/coroutine.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/memalign.h"
#include "qemu/module.h"
#include "qemu/option.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "trace.h"

#include "hypercache-int.h"

/* How often the background writer looks at watermarks and ages. */
#define HC_WB_TICK_NS (100 * SCALE_MS)

#define HC_OPT_SIZE             "size"
#define HC_OPT_BLOCK_SIZE       "block-size"
#define HC_OPT_MODE             "mode"
#define HC_OPT_POLICY           "policy"
#define HC_OPT_ADMIT_THRESHOLD  "admit-threshold"
#define HC_OPT_DIRTY_HIGH       "dirty-high"
#define HC_OPT_DIRTY_LOW        "dirty-low"
#define HC_OPT_DIRTY_MAX        "dirty-max"
#define HC_OPT_MAX_DIRTY_AGE    "max-dirty-age"
#define HC_OPT_MAX_MERGE        "max-merge"
#define HC_OPT_SEQ_CUTOFF       "seq-cutoff"
#define HC_OPT_PREALLOC         "prealloc"
#define HC_OPT_POOL             "pool"
#define HC_OPT_WEIGHT           "weight"
#define HC_OPT_RESERVE          "reserve"

static QemuOptsList hypercache_runtime_opts = {
    .name = "hypercache",
    .head = QTAILQ_HEAD_INITIALIZER(hypercache_runtime_opts.head),
    .desc = {
        { .name = HC_OPT_SIZE, .type = QEMU_OPT_SIZE,
          .help = "cache memory in bytes (default 256M)" },
        { .name = HC_OPT_BLOCK_SIZE, .type = QEMU_OPT_SIZE,
          .help = "cache block size, power of two 512..64K (default 4K)" },
        { .name = HC_OPT_MODE, .type = QEMU_OPT_STRING,
          .help = "writeback, writethrough, writearound or none" },
        { .name = HC_OPT_POLICY, .type = QEMU_OPT_STRING,
          .help = "freq, lru or s3fifo" },
        { .name = HC_OPT_ADMIT_THRESHOLD, .type = QEMU_OPT_NUMBER,
          .help = "accesses before a read miss is admitted, 1..15" },
        { .name = HC_OPT_DIRTY_HIGH, .type = QEMU_OPT_NUMBER,
          .help = "background write-back starts above this % of size" },
        { .name = HC_OPT_DIRTY_LOW, .type = QEMU_OPT_NUMBER,
          .help = "background write-back stops at this % of size" },
        { .name = HC_OPT_DIRTY_MAX, .type = QEMU_OPT_NUMBER,
          .help = "writes wait for write-back above this % of size" },
        { .name = HC_OPT_MAX_DIRTY_AGE, .type = QEMU_OPT_NUMBER,
          .help = "write back dirty data older than this (ms, 0 = never)" },
        { .name = HC_OPT_MAX_MERGE, .type = QEMU_OPT_SIZE,
          .help = "largest merged write-back request in bytes" },
        { .name = HC_OPT_SEQ_CUTOFF, .type = QEMU_OPT_SIZE,
          .help = "sequential streams longer than this bypass (0 = never)" },
        { .name = HC_OPT_PREALLOC, .type = QEMU_OPT_BOOL,
          .help = "fault in all cache memory at open (default off)" },
        { .name = HC_OPT_POOL, .type = QEMU_OPT_STRING,
          .help = "id of a hypercache-pool object to share memory with" },
        { .name = HC_OPT_WEIGHT, .type = QEMU_OPT_NUMBER,
          .help = "with pool: weight of this node's hits (default 1)" },
        { .name = HC_OPT_RESERVE, .type = QEMU_OPT_SIZE,
          .help = "with pool: bytes no other member can take (default 0)" },
        { /* end of list */ }
    },
};

static const char *const hypercache_mutable_opts[] = {
    HC_OPT_SIZE, HC_OPT_MODE, HC_OPT_POLICY, HC_OPT_ADMIT_THRESHOLD,
    HC_OPT_DIRTY_HIGH, HC_OPT_DIRTY_LOW, HC_OPT_DIRTY_MAX,
    HC_OPT_MAX_DIRTY_AGE, HC_OPT_MAX_MERGE, HC_OPT_SEQ_CUTOFF,
    HC_OPT_WEIGHT, HC_OPT_RESERVE,
    NULL
};

static bool hypercache_parse_enum(const char *opt, const char *value,
                                  const char *(*name)(int), int count,
                                  int *out, Error **errp)
{
    g_autoptr(GString) allowed = g_string_new(NULL);
    int i;

    for (i = 0; i < count; i++) {
        if (!strcmp(value, name(i))) {
            *out = i;
            return true;
        }
        g_string_append_printf(allowed, "%s%s", i ? ", " : "", name(i));
    }
    error_setg(errp, "Invalid value '%s' for option '%s' (allowed: %s)",
               value, opt, allowed->str);
    return false;
}

static const char *hypercache_mode_name(int i)
{
    return hc_mode_name(i);
}

static const char *hypercache_policy_name(int i)
{
    return hc_policy_name(i);
}

/* A QEMU_OPT_NUMBER option that must fit @max, named in the error. */
static bool hypercache_opt_u32(QemuOpts *opts, const char *name,
                               uint32_t *out, Error **errp)
{
    uint64_t v = qemu_opt_get_number(opts, name, *out);

    if (v > UINT32_MAX) {
        error_setg(errp, "Option '%s' must be a small non-negative number, "
                   "not %" PRIu64, name, v);
        return false;
    }
    *out = v;
    return true;
}

/* A byte count the host could never back is refused, naming @opt. */
static bool hypercache_fits_host(const char *opt, uint64_t bytes,
                                 Error **errp)
{
    if (bytes > qemu_get_host_physmem()) {
        error_setg(errp, "Option '%s' (%" PRIu64 " bytes) exceeds the "
                   "host's memory (%zu bytes)", opt, bytes,
                   qemu_get_host_physmem());
        return false;
    }
    return true;
}

/*
 * The pool options: @pool_id (NULL without a pool, else to be freed) and
 * the member's weight, reserve and limit (the size option, 0 if absent).
 * Without a pool, weight and reserve are refused.
 */
static bool hypercache_parse_pool_opts(QemuOpts *opts, char **pool_id,
                                       hc_pool_member *m, Error **errp)
{
    const char *id = qemu_opt_get(opts, HC_OPT_POOL);
    uint64_t weight;

    *m = (hc_pool_member) { .weight = 1 };
    *pool_id = NULL;
    if (!id) {
        if (qemu_opt_find(opts, HC_OPT_WEIGHT) ||
            qemu_opt_find(opts, HC_OPT_RESERVE)) {
            error_setg(errp, "Options '%s' and '%s' need option '%s' (the "
                       "id of a hypercache-pool object)", HC_OPT_WEIGHT,
                       HC_OPT_RESERVE, HC_OPT_POOL);
            return false;
        }
        return true;
    }
    if (!*id) {
        error_setg(errp, "Option '%s' must be the id of a hypercache-pool "
                   "object, not empty", HC_OPT_POOL);
        return false;
    }
    weight = qemu_opt_get_number(opts, HC_OPT_WEIGHT, 1);
    if (weight < 1 || weight > UINT32_MAX) {
        error_setg(errp, "Option '%s' must be a positive integer up to %"
                   PRIu32 ", not %" PRIu64, HC_OPT_WEIGHT, UINT32_MAX,
                   weight);
        return false;
    }
    m->weight = weight;
    m->reserve = qemu_opt_get_size(opts, HC_OPT_RESERVE, 0);
    if (qemu_opt_find(opts, HC_OPT_SIZE)) {
        m->limit = qemu_opt_get_size(opts, HC_OPT_SIZE, 0);
        if (m->reserve > m->limit) {
            error_setg(errp, "Option '%s' (%" PRIu64 " bytes) must not "
                       "exceed option '%s' (%" PRIu64 " bytes), the most "
                       "the node may get from its pool", HC_OPT_RESERVE,
                       m->reserve, HC_OPT_SIZE, m->limit);
            return false;
        }
    }
    if (!hypercache_fits_host(HC_OPT_RESERVE, m->reserve, errp)) {
        return false;
    }
    *pool_id = g_strdup(id);
    return true;
}

/*
 * Parse @options into @cfg, starting from the core's defaults, and the
 * pool options into @pool_id and @m (see hypercache_parse_pool_opts()).
 * Every error names the option and what it allows; nothing is
 * half-applied.  In a pool, the cache starts at its smallest size and the
 * pool gives it its share.
 */
static bool hypercache_parse_opts(QDict *options, hc_config *cfg,
                                  char **pool_id, hc_pool_member *m,
                                  Error **errp)
{
    QemuOpts *opts = qemu_opts_create(&hypercache_runtime_opts, NULL, 0,
                                      &error_abort);
    const char *str;
    char err[256];
    uint64_t size;
    int val;
    bool ok = false;

    hc_config_default(cfg);
    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        goto out;
    }

    cfg->size = qemu_opt_get_size(opts, HC_OPT_SIZE, cfg->size);
    size = qemu_opt_get_size(opts, HC_OPT_BLOCK_SIZE, cfg->block_size);
    if (size > 65536) {
        error_setg(errp, "Option '%s' must be a power of two from 512 to "
                   "65536, not %" PRIu64, HC_OPT_BLOCK_SIZE, size);
        goto out;
    }
    cfg->block_size = size;
    str = qemu_opt_get(opts, HC_OPT_MODE);
    if (str) {
        if (!hypercache_parse_enum(HC_OPT_MODE, str, hypercache_mode_name,
                                   HC_MODE__MAX, &val, errp)) {
            goto out;
        }
        cfg->mode = val;
    }
    str = qemu_opt_get(opts, HC_OPT_POLICY);
    if (str) {
        if (!hypercache_parse_enum(HC_OPT_POLICY, str, hypercache_policy_name,
                                   HC_POLICY__MAX, &val, errp)) {
            goto out;
        }
        cfg->policy = val;
    }
    if (!hypercache_opt_u32(opts, HC_OPT_ADMIT_THRESHOLD,
                            &cfg->admit_threshold, errp) ||
        !hypercache_opt_u32(opts, HC_OPT_DIRTY_HIGH,
                            &cfg->dirty_high_pct, errp) ||
        !hypercache_opt_u32(opts, HC_OPT_DIRTY_LOW,
                            &cfg->dirty_low_pct, errp) ||
        !hypercache_opt_u32(opts, HC_OPT_DIRTY_MAX,
                            &cfg->dirty_max_pct, errp)) {
        goto out;
    }
    cfg->max_dirty_age_ns =
        qemu_opt_get_number(opts, HC_OPT_MAX_DIRTY_AGE,
                            cfg->max_dirty_age_ns / SCALE_MS);
    if (cfg->max_dirty_age_ns > UINT64_MAX / SCALE_MS) {
        error_setg(errp, "Option '%s' is too large (at most %" PRIu64 " ms)",
                   HC_OPT_MAX_DIRTY_AGE, UINT64_MAX / SCALE_MS);
        goto out;
    }
    cfg->max_dirty_age_ns *= SCALE_MS;
    cfg->max_merge = qemu_opt_get_size(opts, HC_OPT_MAX_MERGE, cfg->max_merge);
    cfg->seq_cutoff = qemu_opt_get_size(opts, HC_OPT_SEQ_CUTOFF,
                                        cfg->seq_cutoff);
    cfg->prealloc = qemu_opt_get_bool(opts, HC_OPT_PREALLOC, cfg->prealloc);
    /* QMP turns a negative number into a huge one: refuse those. */
    if (cfg->seq_cutoff > INT64_MAX) {
        error_setg(errp, "Option '%s' must be a non-negative size below "
                   "2^63 (0 never bypasses), not %" PRIu64,
                   HC_OPT_SEQ_CUTOFF, cfg->seq_cutoff);
        goto out;
    }

    if (!hypercache_fits_host(HC_OPT_SIZE, cfg->size, errp)) {
        goto out;
    }
    if (!hypercache_parse_pool_opts(opts, pool_id, m, errp)) {
        goto out;
    }
    if (*pool_id && cfg->block_size) {
        cfg->size = 8ULL * cfg->block_size;
    }
    if (hc_config_validate(cfg, err, sizeof(err)) < 0) {
        error_setg(errp, "%s", err);
        goto out;
    }
    ok = true;
out:
    if (!ok) {
        g_free(*pool_id);
        *pool_id = NULL;
    }
    qemu_opts_del(opts);
    return ok;
}

/* ------------------------------------------------------------ waiting */

/*
 * The core never blocks: when a block is busy (being written back or
 * through) or WB is full it says -EAGAIN/-ENOSPC.  The coroutine then waits
 * here until some write-back or write completes.  wake_gen closes the race
 * between the core's answer and the wait.
 */
static uint64_t hypercache_wake_gen(BDRVHypercacheState *s)
{
    return qatomic_read(&s->wake_gen);
}

static void coroutine_fn hypercache_wait(BDRVHypercacheState *s, uint64_t gen)
{
    qemu_co_mutex_lock(&s->wait_lock);
    qatomic_inc(&s->waiters);
    smp_mb__after_rmw();
    while (qatomic_read(&s->wake_gen) == gen) {
        qemu_co_queue_wait(&s->wait_queue, &s->wait_lock);
    }
    qatomic_dec(&s->waiters);
    qemu_co_mutex_unlock(&s->wait_lock);
}

/*
 * Every completed write calls this, from every iothread: the wait lock is
 * taken only when someone waits, so that completions on several iothreads
 * do not hand a CoMutex back and forth.  A waiter counts itself before it
 * checks wake_gen and the waker bumps wake_gen before it checks the count,
 * so one of them sees the other.
 */
static void coroutine_fn hypercache_wake(BDRVHypercacheState *s)
{
    qatomic_inc(&s->wake_gen);
    smp_mb__after_rmw();
    if (!qatomic_read(&s->waiters)) {
        return;
    }
    qemu_co_mutex_lock(&s->wait_lock);
    qemu_co_queue_restart_all(&s->wait_queue);
    qemu_co_mutex_unlock(&s->wait_lock);
}

/* ---------------------------------------------------------- write-back */

/* Write-back needs WRITE on the child, whatever the parents hold now. */
static bool GRAPH_RDLOCK hypercache_child_writable(BlockDriverState *bs)
{
    return bs->file && (bs->file->perm & BLK_PERM_WRITE);
}

/*
 * Write one extent to the child.  The part past the child's end (the tail
 * of a last, partial cache block) is not written, so the image never grows.
 */
static int coroutine_fn GRAPH_RDLOCK
hypercache_write_extent(BlockDriverState *bs, hc_extent *ext, int why)
{
    BDRVHypercacheState *s = bs->opaque;
    int64_t end = bs->total_sectors * BDRV_SECTOR_SIZE;
    int64_t bytes = MIN((int64_t)ext->len, end - (int64_t)ext->offset);
    QEMUIOVector qiov;
    int ret = 0;

    trace_hypercache_writeback(bs, ext->offset, ext->len, why);
    if (bytes > 0) {
        qemu_iovec_init_external(&qiov, (struct iovec *)ext->iov,
                                 ext->iovcnt);
        /* blkdebug can inject write-back errors on this event. */
        BLKDBG_CO_EVENT(bs->file, BLKDBG_WRITE_AIO);
        ret = bdrv_co_pwritev(bs->file, ext->offset, bytes, &qiov, 0);
    }
    trace_hypercache_writeback_done(bs, ext->offset, ext->len, ret);
    if (ret < 0) {
        trace_hypercache_error(bs, "write-back", ret);
    }
    hc_writeback_done(s->cache, ext, ret);
    hypercache_wake(s);
    return ret;
}

/*
 * Write-back keeps up to HC_WB_QUEUE_DEPTH extents in flight, one coroutine
 * each, like the guest's own queue depth: one extent at a time left a fast
 * child idle between requests (64 KiB writes with a flush every 16 MiB ran
 * at a third of the bare child's speed).  Chosen by measurement, see
 * docs/BENCHMARKS.md (W8).
 */
#define HC_WB_QUEUE_DEPTH 16

typedef struct HypercacheWbBatch {
    BlockDriverState *bs;
    unsigned in_flight;         /* extents being written */
    int ret;                    /* first error, 0 if none */
    Coroutine *waiter;          /* the dispatcher, waiting for a slot */
} HypercacheWbBatch;

typedef struct HypercacheWbReq {
    HypercacheWbBatch *batch;
    hc_extent *ext;
    int why;
} HypercacheWbReq;

/*
 * One extent of a batch.  Entered directly by the dispatcher, so the
 * request on its stack is copied before the first yield; every coroutine
 * of a batch runs in the dispatcher's AioContext.
 */
static void coroutine_fn hypercache_wb_req_entry(void *opaque)
{
    HypercacheWbReq req = *(HypercacheWbReq *)opaque;
    HypercacheWbBatch *b = req.batch;
    int ret;

    bdrv_graph_co_rdlock();
    ret = hypercache_write_extent(b->bs, req.ext, req.why);
    bdrv_graph_co_rdunlock();

    if (ret < 0 && b->ret == 0) {
        b->ret = ret;
    }
    b->in_flight--;
    if (b->waiter) {
        Coroutine *co = b->waiter;

        b->waiter = NULL;
        aio_co_wake(co);
    }
}

/* Wait until at most @max extents of @b are in flight. */
static void coroutine_fn hypercache_wb_batch_wait(HypercacheWbBatch *b,
                                                  unsigned max)
{
    while (b->in_flight > max) {
        b->waiter = qemu_coroutine_self();
        qemu_coroutine_yield();
    }
}

/*
 * Write back, many extents at once: for a flush, everything dirtied up to
 * @upto; in the background, while the watermark or age rule asks for it.
 * Stops at the first error.  Returns when every extent it started has
 * completed: the first error, or 0.
 */
static int coroutine_fn GRAPH_RDLOCK
hypercache_writeback_batch(BlockDriverState *bs, bool flush, uint64_t upto)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheWbBatch b = { .bs = bs };
    int why = HC_WB_FLUSH;
    hc_extent *ext;

    while (b.ret == 0) {
        HypercacheWbReq req;

        if (!flush) {
            if (qatomic_read(&s->quiesce) || !hypercache_child_writable(bs)) {
                break;
            }
            why = hc_writeback_wanted(s->cache, get_clock());
            if (why < 0) {
                break;
            }
        }
        if (hc_writeback_next(s->cache, why, upto, get_clock(), &ext) != 1) {
            break;
        }
        req = (HypercacheWbReq) { .batch = &b, .ext = ext, .why = why };
        b.in_flight++;
        qemu_coroutine_enter(qemu_coroutine_create(hypercache_wb_req_entry,
                                                   &req));
        hypercache_wb_batch_wait(&b, HC_WB_QUEUE_DEPTH - 1);
    }
    hypercache_wb_batch_wait(&b, 0);
    return b.ret;
}

/*
 * Write back everything that was dirty when this was called, and wait for
 * write-backs of those blocks that others have in flight.  Fails with the
 * first error; the failed blocks stay dirty for a later try.
 */
int coroutine_fn GRAPH_RDLOCK hypercache_writeback_all(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    uint64_t upto = hc_dirty_seq(s->cache);
    int ret;

    for (;;) {
        uint64_t gen = hypercache_wake_gen(s);

        ret = hypercache_writeback_batch(bs, true, upto);
        if (ret < 0 || hc_dirty_pending(s->cache, upto) == 0) {
            break;
        }
        /* The rest is in flight elsewhere (the background writer). */
        hypercache_wait(s, gen);
    }
    trace_hypercache_flush(bs, upto, ret);
    return ret;
}

/*
 * Background write-back: runs while the watermark or age rule asks for it,
 * or, for a pool member that must shrink (bg_all), until everything dirty
 * at its start is written.  Counted in bs->in_flight so that drain waits
 * for it; stops when a drain begins.  An error keeps the data dirty; the
 * next tick or a flush retries.
 */
static void coroutine_fn hypercache_bg_writeback_entry(void *opaque)
{
    BlockDriverState *bs = opaque;
    BDRVHypercacheState *s = bs->opaque;

    bdrv_graph_co_rdlock();
    if (s->bg_all) {
        hypercache_writeback_all(bs);
    } else {
        hypercache_writeback_batch(bs, false, 0);
    }
    bdrv_graph_co_rdunlock();

    qatomic_set(&s->bg_running, false);
    bdrv_dec_in_flight(bs);
}

/*
 * Start the background writer unless it runs already or I/O is quiesced;
 * @all: write back everything dirty now, not just down to the watermark.
 */
static void hypercache_start_writer(BlockDriverState *bs, bool all)
{
    BDRVHypercacheState *s = bs->opaque;

    if (qatomic_read(&s->quiesce) || !hypercache_child_writable(bs) ||
        qatomic_xchg(&s->bg_running, true)) {
        return;
    }
    s->bg_all = all;
    bdrv_inc_in_flight(bs);
    aio_co_enter(bdrv_get_aio_context(bs),
                 qemu_coroutine_create(hypercache_bg_writeback_entry, bs));
}

/*
 * The pool could not shrink this member to its share because of dirty
 * data: write back what is dirty now, in the background writer's place,
 * so that the next rebalance can shrink it.  Without this, the watermark
 * rule stops at dirty-low of the old size and the age rule takes up to
 * max-dirty-age.  An error keeps the data dirty, as in the background.
 */
void hypercache_pool_writeback(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    hc_stats st;

    GLOBAL_STATE_CODE();
    GRAPH_RDLOCK_GUARD_MAINLOOP();

    if (!s->opened) {
        return;
    }
    hc_get_stats(s->cache, &st);
    if (st.dirty_bytes) {
        hypercache_start_writer(bs, true);
    }
}

static void hypercache_timer_cb(void *opaque)
{
    BlockDriverState *bs = opaque;
    BDRVHypercacheState *s = bs->opaque;

    if (hc_writeback_wanted(s->cache, get_clock()) >= 0) {
        hypercache_start_writer(bs, false);
    }
    hypercache_hotset_tick(bs);
    timer_mod(s->wb_timer, qemu_clock_get_ns(QEMU_CLOCK_REALTIME) +
              HC_WB_TICK_NS);
}

/*
 * The timer exists only between a successful open and close: drain and
 * AioContext callbacks also run while the child is being attached in
 * hypercache_open(), and a timer armed then would outlive a failed open and
 * fire on freed state.
 */
static void hypercache_timer_start(BlockDriverState *bs, AioContext *ctx)
{
    BDRVHypercacheState *s = bs->opaque;

    if (!s->opened) {
        return;
    }
    if (!s->wb_timer) {
        s->wb_timer = aio_timer_new(ctx, QEMU_CLOCK_REALTIME, SCALE_NS,
                                    hypercache_timer_cb, bs);
    }
    timer_mod(s->wb_timer, qemu_clock_get_ns(QEMU_CLOCK_REALTIME) +
              HC_WB_TICK_NS);
}

static void hypercache_timer_stop(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;

    if (s->wb_timer) {
        timer_free(s->wb_timer);
        s->wb_timer = NULL;
    }
}

static void hypercache_detach_aio_context(BlockDriverState *bs)
{
    hypercache_timer_stop(bs);
}

static void hypercache_attach_aio_context(BlockDriverState *bs,
                                          AioContext *new_context)
{
    BDRVHypercacheState *s = bs->opaque;

    if (!qatomic_read(&s->quiesce)) {
        hypercache_timer_start(bs, new_context);
    }
}

static void hypercache_drain_begin(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;

    if (qatomic_fetch_inc(&s->quiesce) == 0 && s->wb_timer) {
        timer_del(s->wb_timer);
    }
}

static void hypercache_drain_end(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;

    if (qatomic_fetch_dec(&s->quiesce) == 1) {
        hypercache_timer_start(bs, bdrv_get_aio_context(bs));
    }
}

/* --------------------------------------------------------- open/close */

static void hypercache_drop_write_bh(void *opaque);

static int hypercache_open(BlockDriverState *bs, QDict *options, int flags,
                           Error **errp)
{
    BDRVHypercacheState *s = bs->opaque;
    g_autofree char *pool_id = NULL;
    char err[256];
    int ret;

    GLOBAL_STATE_CODE();

    qemu_co_mutex_init(&s->wait_lock);
    qemu_co_queue_init(&s->wait_queue);

    ret = bdrv_open_file_child(NULL, options, "file", bs, errp);
    if (ret < 0) {
        return ret;
    }

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    if (!hypercache_parse_opts(options, &s->cfg, &pool_id, &s->member,
                               errp)) {
        return -EINVAL;
    }
    if (pool_id) {
        s->pool = hypercache_pool_find(pool_id, HC_OPT_POOL, errp);
        if (!s->pool) {
            return -EINVAL;
        }
    }
    s->cfg.buf_align = MAX(s->cfg.buf_align,
                           bdrv_opt_mem_align(bs->file->bs));
    s->active_mode = s->cfg.mode;
    s->inactive = flags & BDRV_O_INACTIVE;
    if (s->inactive) {
        /* Incoming migration: cache nothing until we are activated. */
        s->cfg.mode = HC_MODE_NONE;
    }
    s->cache = hc_create(&s->cfg, err, sizeof(err));
    if (!s->cache) {
        error_setg(errp, "hypercache: %s", err);
        return -ENOMEM;
    }
    if (s->pool &&
        !hypercache_pool_join(s->pool, bs, s->cache, &s->member, errp)) {
        s->pool = NULL;
        hc_destroy(s->cache);
        s->cache = NULL;
        return -EINVAL;
    }
    if (!hypercache_hotset_open(bs, options, errp)) {
        if (s->pool) {
            hypercache_pool_leave(s->pool, bs, s->cache);
            s->pool = NULL;
        }
        hc_destroy(s->cache);
        s->cache = NULL;
        return -EINVAL;
    }
    /* Nothing below fails: a failed open leaves no timer, BH or cache. */

    bs->supported_write_flags = BDRV_REQ_WRITE_UNCHANGED | BDRV_REQ_FUA;
    bs->supported_zero_flags = BDRV_REQ_WRITE_UNCHANGED |
        ((BDRV_REQ_FUA | BDRV_REQ_MAY_UNMAP | BDRV_REQ_NO_FALLBACK) &
         bs->file->bs->supported_zero_flags);

    s->drop_write_bh = qemu_bh_new(hypercache_drop_write_bh, bs);
    s->opened = true;
    if (!qatomic_read(&s->quiesce)) {
        hypercache_timer_start(bs, bdrv_get_aio_context(bs));
    }
    trace_hypercache_open(bs, s->cfg.size, s->cfg.block_size,
                          hc_mode_name(s->active_mode),
                          hc_policy_name(s->cfg.policy));
    return 0;
}

static void hypercache_close(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    hc_stats st;

    GLOBAL_STATE_CODE();
    GRAPH_RDLOCK_GUARD_MAINLOOP();

    s->opened = false;
    hypercache_timer_stop(bs);
    qemu_bh_delete(s->drop_write_bh);
    s->drop_write_bh = NULL;

    /*
     * bdrv_close() flushed already but ignores the result.  Try once more,
     * then say loudly what could not be written: never drop data silently.
     */
    hc_get_stats(s->cache, &st);
    if (st.dirty_bytes && hypercache_child_writable(bs)) {
        bdrv_flush(bs);
        hc_get_stats(s->cache, &st);
    }
    if (st.dirty_bytes) {
        error_report("hypercache: node '%s' closed with %" PRIu64 " bytes of "
                     "dirty data that could not be written back to '%s'; "
                     "that data is lost", bdrv_get_node_name(bs),
                     st.dirty_bytes, bs->file ? bs->file->bs->filename : "");
    }
    hypercache_hotset_close(bs);
    if (s->pool) {
        hypercache_pool_leave(s->pool, bs, s->cache);
        s->pool = NULL;
    }
    hc_destroy(s->cache);
    s->cache = NULL;
}

/* ---------------------------------------------------------- permissions */

static bool hypercache_has_dirty(BDRVHypercacheState *s)
{
    hc_stats st;

    if (!s->cache) {
        return false;
    }
    hc_get_stats(s->cache, &st);
    return st.dirty_bytes > 0;
}

/*
 * Whether we may cache: our parents write through us (so no one else can
 * write the child), or the node is read-only.
 */
static bool hypercache_exclusive(BlockDriverState *bs, uint64_t perm)
{
    return (perm & BLK_PERM_WRITE) || !(bdrv_get_flags(bs) & BDRV_O_RDWR);
}

static void hypercache_child_perm(BlockDriverState *bs, BdrvChild *c,
                                  BdrvChildRole role,
                                  BlockReopenQueue *reopen_queue,
                                  uint64_t perm, uint64_t shared,
                                  uint64_t *nperm, uint64_t *nshared)
{
    BDRVHypercacheState *s = bs->opaque;

    bdrv_default_perms(bs, c, role, reopen_queue, perm, shared, nperm,
                       nshared);

    if (bdrv_get_flags(bs) & BDRV_O_INACTIVE) {
        return;
    }
    /*
     * Dirty data must still reach the child after the last writer went
     * away (a parent detached, the filter was removed): keep WRITE until
     * hypercache_drop_write_bh() has written it back.
     */
    if (hypercache_has_dirty(s)) {
        *nperm |= BLK_PERM_WRITE;
    }
    /*
     * Cached blocks must not change under us: while we cache, nobody else
     * may write or resize the child.  A writable node without a writer
     * above it caches nothing (see hypercache_set_perm()), so that the
     * filter can be added beside a writer and then put in its place.
     */
    if (hypercache_exclusive(bs, perm) || (*nperm & BLK_PERM_WRITE)) {
        *nshared &= ~(BLK_PERM_WRITE | BLK_PERM_RESIZE);
    }
}

/* The parents no longer write: write back, then give up WRITE. */
static void hypercache_drop_write_bh(void *opaque)
{
    BlockDriverState *bs = opaque;
    BDRVHypercacheState *s = bs->opaque;

    GLOBAL_STATE_CODE();
    GRAPH_RDLOCK_GUARD_MAINLOOP();

    if (hypercache_child_writable(bs) && bdrv_flush(bs) < 0) {
        /* Keep WRITE and the data; a later flush or close retries. */
        return;
    }
    if (!qatomic_read(&s->exclusive)) {
        /* Others may write the child once we share WRITE: forget it all. */
        hypercache_hotset_remember(bs);
        hc_invalidate(s->cache, 0, UINT64_MAX, 0);
    }
    bdrv_child_refresh_perms(bs, bs->file, NULL);
}

static void GRAPH_RDLOCK
hypercache_set_perm(BlockDriverState *bs, uint64_t perm, uint64_t shared)
{
    BDRVHypercacheState *s = bs->opaque;

    bool exclusive = hypercache_exclusive(bs, perm);

    qatomic_set(&s->exclusive, exclusive);
    if (!s->opened) {
        return;     /* opening or closing: nothing to write back or drop */
    }
    if (!(perm & BLK_PERM_WRITE) && hypercache_has_dirty(s)) {
        qemu_bh_schedule(s->drop_write_bh);
    } else if (!exclusive) {
        hypercache_hotset_remember(bs);
        hc_invalidate(s->cache, 0, UINT64_MAX, 0);
    }
}

/* ------------------------------------------------------------- reopen */

static int hypercache_reopen_prepare(BDRVReopenState *state,
                                     BlockReopenQueue *queue, Error **errp)
{
    BlockDriverState *bs = state->bs;
    BDRVHypercacheState *s = bs->opaque;
    hc_config *cfg = g_new0(hc_config, 1);
    g_autofree char *pool_id = NULL;
    hc_pool_member member;
    hc_config cur;
    char err[256];
    int ret;

    GLOBAL_STATE_CODE();
    GRAPH_RDLOCK_GUARD_MAINLOOP();

    if (!hypercache_parse_opts(state->options, cfg, &pool_id, &member,
                               errp)) {
        g_free(cfg);
        return -EINVAL;
    }
    /* A node joins and leaves its pool only at open and close. */
    if (!!pool_id != !!s->pool ||
        (pool_id && strcmp(pool_id, hypercache_pool_id(s->pool)))) {
        error_setg(errp, "Option '%s' cannot be changed by reopen (%s%s%s)",
                   HC_OPT_POOL, s->pool ? "it is '" : "the node has none",
                   s->pool ? hypercache_pool_id(s->pool) : "",
                   s->pool ? "'" : "");
        g_free(cfg);
        return -EINVAL;
    }
    if (cfg->block_size != s->cfg.block_size) {
        error_setg(errp, "Option '%s' cannot be changed by reopen "
                   "(it is %" PRIu32 ")", HC_OPT_BLOCK_SIZE,
                   s->cfg.block_size);
        g_free(cfg);
        return -EINVAL;
    }
    if (cfg->prealloc != s->cfg.prealloc) {
        error_setg(errp, "Option '%s' cannot be changed by reopen "
                   "(it is %s)", HC_OPT_PREALLOC,
                   s->cfg.prealloc ? "on" : "off");
        g_free(cfg);
        return -EINVAL;
    }
    cfg->buf_align = s->cfg.buf_align;

    /*
     * Apply now, so that failures (dirty data that does not fit a smaller
     * cache) fail the reopen; abort restores the old settings.  Reopen has
     * flushed and drained the node already.
     */
    s->reopen_old = s->cfg;
    if (s->pool) {
        /* The pool sets the size; a new limit counts from the next tick. */
        hc_get_config(s->cache, &cur);
        cfg->size = cur.size;
        s->reopen_old.size = cur.size;
        s->reopen_old_member = s->member;
        if (!hypercache_pool_update(s->pool, s->cache, &member, errp)) {
            g_free(cfg);
            return -EINVAL;
        }
        s->member = member;
    }
    if (s->inactive) {
        cfg->mode = HC_MODE_NONE;
    }
    ret = hc_reconfigure(s->cache, cfg, err, sizeof(err));
    if (ret == -EBUSY) {
        bdrv_flush(bs);
        ret = hc_reconfigure(s->cache, cfg, err, sizeof(err));
    }
    if (ret < 0) {
        error_setg(errp, "hypercache: %s", err);
        if (s->pool) {
            s->member = s->reopen_old_member;
            hypercache_pool_update(s->pool, s->cache, &s->member,
                                   &error_warn);
        }
        g_free(cfg);
        return ret;
    }
    state->opaque = cfg;
    return 0;
}

static void hypercache_reopen_commit(BDRVReopenState *state)
{
    BDRVHypercacheState *s = state->bs->opaque;
    hc_config *cfg = state->opaque;

    s->active_mode = cfg->mode;
    s->cfg = *cfg;
    if (s->inactive) {
        s->cfg.mode = HC_MODE_NONE;
    }
    g_free(cfg);
    state->opaque = NULL;
}

static void hypercache_reopen_abort(BDRVReopenState *state)
{
    BDRVHypercacheState *s = state->bs->opaque;
    char err[256];

    if (state->opaque &&
        hc_reconfigure(s->cache, &s->reopen_old, err, sizeof(err)) < 0) {
        /* Only a shrink can fail, and we are growing back. */
        warn_report("hypercache: could not restore settings: %s", err);
    }
    if (state->opaque && s->pool) {
        /* The old settings fitted, unless the pool shrank meanwhile. */
        s->member = s->reopen_old_member;
        hypercache_pool_update(s->pool, s->cache, &s->member, &error_warn);
    }
    g_free(state->opaque);
    state->opaque = NULL;
}

/* ----------------------------------------------------------------- I/O */

/*
 * Copy [from, to) of a miss run read into the cache slots @iov (which start
 * at @seg_offset) to the caller's @qiov, whose byte @qiov_offset is the
 * request's @offset.
 */
static void hypercache_copy_out(QEMUIOVector *qiov, size_t qiov_offset,
                                int64_t offset, const struct iovec *iov,
                                int iovcnt, int64_t seg_offset, int64_t from,
                                int64_t to)
{
    int64_t pos = seg_offset;
    int i;

    for (i = 0; i < iovcnt && pos < to; i++) {
        int64_t lo = MAX(pos, from);
        int64_t hi = MIN(pos + (int64_t)iov[i].iov_len, to);

        if (lo < hi) {
            qemu_iovec_from_buf(qiov, qiov_offset + (lo - offset),
                                (const uint8_t *)iov[i].iov_base + (lo - pos),
                                hi - lo);
        }
        pos += iov[i].iov_len;
    }
}

/* One read request: its plan and what its miss runs need to know. */
typedef struct HypercacheRead {
    BlockDriverState *bs;
    hc_read_plan *plan;
    int64_t offset;             /* the request, not the plan's blocks */
    int64_t bytes;
    QEMUIOVector *qiov;
    size_t qiov_offset;
    BdrvRequestFlags flags;

    unsigned in_flight;         /* miss runs being read */
    int ret;                    /* first error */
    Coroutine *waiter;          /* the request, waiting for its runs */
} HypercacheRead;

static int coroutine_fn GRAPH_RDLOCK
hypercache_co_preadv_part(BlockDriverState *bs, int64_t offset, int64_t bytes,
                          QEMUIOVector *qiov, size_t qiov_offset,
                          BdrvRequestFlags flags);

/*
 * Single flight: another request is reading the blocks of run @i from the
 * child.  Wait for that fill without blocking the thread (the owner wakes
 * us after hc_read_fill_done() or hc_read_failed(), from whichever
 * iothread it runs in), then read [from, to) again: mostly hits now, or a
 * read of our own where the fill failed or a write overtook it.
 */
static int coroutine_fn GRAPH_RDLOCK
hypercache_read_wait(HypercacheRead *r, size_t i, int64_t from, int64_t to)
{
    BDRVHypercacheState *s = r->bs->opaque;

    trace_hypercache_read_wait(r->bs, from, to - from);
    for (;;) {
        uint64_t gen = hypercache_wake_gen(s);

        if (!hc_read_wait_pending(s->cache, r->plan, i)) {
            break;
        }
        hypercache_wait(s, gen);
    }
    return hypercache_co_preadv_part(r->bs, from, to - from, r->qiov,
                                     r->qiov_offset + (from - r->offset),
                                     r->flags);
}

/*
 * Read miss run @i of @r's plan.  A run the cache admits is read straight
 * into its reserved slots and copied once to the caller; any other run is
 * read straight into the caller's buffer, no copy at all.  The caller's
 * buffer is never the source of a fill: the guest may change it meanwhile,
 * and what enters the cache is served to every later reader.
 */
static int coroutine_fn GRAPH_RDLOCK
hypercache_read_miss(HypercacheRead *r, size_t i)
{
    BlockDriverState *bs = r->bs;
    BDRVHypercacheState *s = bs->opaque;
    const hc_read_seg *seg = hc_read_plan_seg(r->plan, i);
    int64_t end_of_child = bs->total_sectors * BDRV_SECTOR_SIZE;
    int64_t from = MAX((int64_t)seg->offset, r->offset);
    int64_t to = MIN((int64_t)(seg->offset + seg->len), r->offset + r->bytes);
    int64_t child_len;
    QEMUIOVector slots;
    int ret;

    if (seg->wait) {
        return hypercache_read_wait(r, i, from, to);
    }
    trace_hypercache_read_miss(bs, seg->offset, seg->len);
    BLKDBG_CO_EVENT(bs->file, BLKDBG_READ_AIO);
    if (!seg->fill_iov) {
        /* Not cached: only the bytes asked for, into the caller's buffer. */
        ret = bdrv_co_preadv_part(bs->file, from, to - from, r->qiov,
                                  r->qiov_offset + (from - r->offset),
                                  r->flags);
        if (ret < 0) {
            trace_hypercache_error(bs, "read", ret);
            hc_read_failed(s->cache, r->plan, i, ret);
        }
        return ret;
    }

    qemu_iovec_init_external(&slots, (struct iovec *)seg->fill_iov,
                             seg->fill_iovcnt);
    child_len = MIN((int64_t)seg->len, end_of_child - (int64_t)seg->offset);
    child_len = MAX(child_len, 0);
    if (child_len < (int64_t)seg->len) {
        /* The tail of a last, partial block reads as zeroes. */
        qemu_iovec_memset(&slots, child_len, 0, seg->len - child_len);
    }
    ret = child_len ? bdrv_co_preadv(bs->file, seg->offset, child_len, &slots,
                                     r->flags & ~BDRV_REQ_REGISTERED_BUF) : 0;
    if (ret < 0) {
        trace_hypercache_error(bs, "read", ret);
        hc_read_failed(s->cache, r->plan, i, ret);
        hypercache_wake(s);     /* waiters read for themselves now */
        return ret;
    }
    hc_read_fill_done(s->cache, r->plan, i);
    hypercache_wake(s);         /* waiters find the blocks cached */
    hypercache_copy_out(r->qiov, r->qiov_offset, r->offset, seg->fill_iov,
                        seg->fill_iovcnt, seg->offset, from, to);
    return 0;
}

typedef struct HypercacheReadRun {
    HypercacheRead *r;
    size_t i;
} HypercacheReadRun;

/* A miss run read beside others of its request (entered directly). */
static void coroutine_fn hypercache_read_run_entry(void *opaque)
{
    HypercacheReadRun run = *(HypercacheReadRun *)opaque;
    HypercacheRead *r = run.r;
    int ret;

    bdrv_graph_co_rdlock();
    ret = hypercache_read_miss(r, run.i);
    bdrv_graph_co_rdunlock();

    if (ret < 0 && r->ret == 0) {
        r->ret = ret;
    }
    if (--r->in_flight == 0 && r->waiter) {
        aio_co_wake(r->waiter);
    }
}

static int coroutine_fn GRAPH_RDLOCK
hypercache_co_preadv_part(BlockDriverState *bs, int64_t offset, int64_t bytes,
                          QEMUIOVector *qiov, size_t qiov_offset,
                          BdrvRequestFlags flags)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheRead r = {
        .bs = bs, .offset = offset, .bytes = bytes, .qiov = qiov,
        .qiov_offset = qiov_offset, .flags = flags,
    };
    size_t i, n, last_miss = SIZE_MAX;
    int hits = 0, misses = 0;
    int ret;

    if (!qatomic_read(&s->exclusive)) {
        /* Others may be writing the child: do not cache (set_perm). */
        return bdrv_co_preadv_part(bs->file, offset, bytes, qiov, qiov_offset,
                                   flags);
    }
    ret = hc_read_begin(s->cache, offset, bytes, &r.plan);
    if (ret < 0) {
        return ret;
    }
    n = hc_read_plan_count(r.plan);
    for (i = 0; i < n; i++) {
        const hc_read_seg *seg = hc_read_plan_seg(r.plan, i);
        int64_t from, to;

        if (!seg->hit) {
            misses++;
            last_miss = i;
            continue;
        }
        /* The plan covers whole blocks; the request may not. */
        from = MAX((int64_t)seg->offset, offset);
        to = MIN((int64_t)(seg->offset + seg->len), offset + bytes);
        hits++;
        trace_hypercache_read_hit(bs, from, to - from);
        qemu_iovec_from_buf(qiov, qiov_offset + (from - offset),
                            (const uint8_t *)seg->hit + (from - seg->offset),
                            to - from);
    }

    /*
     * All miss runs at once: each but the last in a coroutine of its own,
     * the last in this one, which then waits for the others.
     */
    for (i = 0; i < n && misses; i++) {
        HypercacheReadRun run = { .r = &r, .i = i };

        if (hc_read_plan_seg(r.plan, i)->hit) {
            continue;
        }
        if (i == last_miss) {
            ret = hypercache_read_miss(&r, i);
            if (ret < 0 && r.ret == 0) {
                r.ret = ret;
            }
            break;
        }
        r.in_flight++;
        qemu_coroutine_enter(qemu_coroutine_create(hypercache_read_run_entry,
                                                   &run));
    }
    while (r.in_flight) {
        r.waiter = qemu_coroutine_self();
        qemu_coroutine_yield();
    }
    trace_hypercache_read(bs, offset, bytes, hits, misses);
    hc_read_end(s->cache, r.plan);
    return r.ret;
}

/*
 * WB is full.  Write back ourselves rather than wait idle; wait if others
 * have write-back in flight.  Returns 1 if there is nothing to write back
 * (the write alone is larger than WB may hold, or the slots are pinned by
 * readers): the caller then writes through instead of waiting forever.
 */
static int coroutine_fn GRAPH_RDLOCK
hypercache_make_room(BlockDriverState *bs, uint64_t gen)
{
    BDRVHypercacheState *s = bs->opaque;
    uint64_t upto = hc_dirty_seq(s->cache);
    hc_extent *ext;

    if (hc_writeback_next(s->cache, HC_WB_FLUSH, upto, get_clock(),
                          &ext) == 1) {
        return hypercache_write_extent(bs, ext, HC_WB_WATERMARK);
    }
    if (hc_dirty_pending(s->cache, upto) > 0) {
        hypercache_wait(s, gen);
        return 0;
    }
    return 1;
}

static int coroutine_fn GRAPH_RDLOCK
hypercache_co_pwritev_part(BlockDriverState *bs, int64_t offset, int64_t bytes,
                           QEMUIOVector *qiov, size_t qiov_offset,
                           BdrvRequestFlags flags)
{
    BDRVHypercacheState *s = bs->opaque;
    hc_write_ticket *ticket = NULL;
    unsigned hc_flags = (flags & BDRV_REQ_FUA) ? HC_WRITE_FUA : 0;
    int ret;

    /*
     * A WRITE_UNCHANGED writer (copy-on-read, say) may hold no WRITE
     * permission that a later write-back could use: pass it through.
     */
    if (flags & BDRV_REQ_WRITE_UNCHANGED) {
        hc_flags |= HC_WRITE_THROUGH;
    }

    for (;;) {
        uint64_t gen = hypercache_wake_gen(s);

        ret = hc_write_begin(s->cache, offset, bytes, qiov->iov, qiov->niov,
                             qiov_offset, hc_flags, &ticket);
        if (ret == -EAGAIN) {
            trace_hypercache_write_wait(bs, offset, bytes, 0);
            hypercache_wait(s, gen);
        } else if (ret == -ENOSPC) {
            trace_hypercache_write_wait(bs, offset, bytes, 1);
            ret = hypercache_make_room(bs, gen);
            if (ret < 0) {
                return ret;
            }
            if (ret == 1) {
                hc_flags |= HC_WRITE_THROUGH;
            }
        } else {
            break;
        }
    }
    if (ret < 0) {
        /* The core may have claimed blocks for a moment: wake any waiters */
        hypercache_wake(s);
        return ret;
    }
    trace_hypercache_write(bs, offset, bytes, ret);
    if (ret == HC_WRITE_CHILD) {
        BLKDBG_CO_EVENT(bs->file, BLKDBG_WRITE_AIO);
        ret = bdrv_co_pwritev_part(bs->file, offset, bytes, qiov, qiov_offset,
                                   flags);
        if (ret < 0) {
            trace_hypercache_error(bs, "write", ret);
        }
        hc_write_end(s->cache, ticket, ret);
        hypercache_wake(s);
        return ret;
    }
    if (hc_writeback_wanted(s->cache, get_clock()) == HC_WB_WATERMARK) {
        hypercache_start_writer(bs, false);
    }
    return 0;
}

/*
 * Drop cached and dirty blocks of a range the child is about to change
 * behind the cache's back (zeroes, discard, truncate), waiting for blocks in
 * flight.
 */
static void coroutine_fn
hypercache_invalidate(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                      unsigned flags)
{
    BDRVHypercacheState *s = bs->opaque;

    trace_hypercache_invalidate(bs, offset, bytes);
    for (;;) {
        uint64_t gen = hypercache_wake_gen(s);

        if (hc_invalidate(s->cache, offset, bytes, flags) != -EAGAIN) {
            return;
        }
        hypercache_wait(s, gen);
    }
}

static int coroutine_fn GRAPH_RDLOCK
hypercache_co_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                            int64_t bytes, BdrvRequestFlags flags)
{
    int ret;

    /*
     * Before: so no dirty block is written back over the zeroes later.
     * After: so no read that raced with the child write keeps old data.
     */
    hypercache_invalidate(bs, offset, bytes, HC_INV_ZERO);
    ret = bdrv_co_pwrite_zeroes(bs->file, offset, bytes, flags);
    hypercache_invalidate(bs, offset, bytes, HC_INV_ZERO);
    return ret;
}

static int coroutine_fn GRAPH_RDLOCK
hypercache_co_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    int ret;

    hypercache_invalidate(bs, offset, bytes, 0);
    ret = bdrv_co_pdiscard(bs->file, offset, bytes);
    hypercache_invalidate(bs, offset, bytes, 0);
    return ret;
}

static int coroutine_fn GRAPH_RDLOCK
hypercache_co_truncate(BlockDriverState *bs, int64_t offset, bool exact,
                       PreallocMode prealloc, BdrvRequestFlags flags,
                       Error **errp)
{
    BDRVHypercacheState *s = bs->opaque;
    uint64_t bs_align = s->cfg.block_size;
    int ret;

    /*
     * The block holding the new end may be partial and dirty: its head
     * must survive.  Write back everything first (truncation is rare),
     * then drop what lies past the new end, and again after the child
     * changed, in case a read raced with it.
     */
    ret = hypercache_writeback_all(bs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "hypercache: write-back before "
                         "truncate failed");
        return ret;
    }
    hypercache_invalidate(bs, QEMU_ALIGN_DOWN(offset, bs_align), UINT64_MAX,
                          0);
    ret = bdrv_co_truncate(bs->file, offset, exact, prealloc, flags, errp);
    hypercache_invalidate(bs, QEMU_ALIGN_DOWN(offset, bs_align), UINT64_MAX,
                          0);
    return ret;
}

static int coroutine_fn GRAPH_RDLOCK
hypercache_co_flush_to_os(BlockDriverState *bs)
{
    /* The generic code flushes the child to disk after this. */
    return hypercache_writeback_all(bs);
}

static int coroutine_fn GRAPH_RDLOCK
hypercache_co_block_status(BlockDriverState *bs, bool want_zero,
                           int64_t offset, int64_t bytes, int64_t *pnum,
                           int64_t *map, BlockDriverState **file)
{
    BDRVHypercacheState *s = bs->opaque;
    uint64_t n = bytes;

    /*
     * Dirty data is only here, not in the child: never let the child's
     * view (perhaps a hole) stand for it.
     */
    if (hc_range_dirty(s->cache, offset, bytes, &n)) {
        *pnum = n;
        return BDRV_BLOCK_DATA;
    }
    *pnum = n;
    *map = offset;
    *file = bs->file->bs;
    return BDRV_BLOCK_RAW | BDRV_BLOCK_OFFSET_VALID;
}

static int64_t coroutine_fn GRAPH_RDLOCK
hypercache_co_getlength(BlockDriverState *bs)
{
    return bdrv_co_getlength(bs->file->bs);
}

static void GRAPH_RDLOCK
hypercache_refresh_limits(BlockDriverState *bs, Error **errp)
{
    /* Byte-granular would do; sectors keep partial-block logic simple. */
    bs->bl.request_alignment = BDRV_SECTOR_SIZE;
}

static void coroutine_fn GRAPH_RDLOCK
hypercache_co_eject(BlockDriverState *bs, bool eject_flag)
{
    bdrv_co_eject(bs->file->bs, eject_flag);
}

static void coroutine_fn GRAPH_RDLOCK
hypercache_co_lock_medium(BlockDriverState *bs, bool locked)
{
    bdrv_co_lock_medium(bs->file->bs, locked);
}

/* ------------------------------------------------------------ migration */

static int GRAPH_RDLOCK hypercache_inactivate(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    hc_config cfg;
    hc_stats st;
    char err[256];
    int ret;

    /* Migration flushed already; make sure, then stop caching. */
    hc_get_stats(s->cache, &st);
    if (st.dirty_bytes) {
        ret = bdrv_flush(bs);
        if (ret < 0) {
            error_report("hypercache: cannot inactivate node '%s': write-back "
                         "failed: %s", bdrv_get_node_name(bs), strerror(-ret));
            return ret;
        }
    }
    hypercache_hotset_inactivate(bs);
    hc_get_config(s->cache, &cfg);
    cfg.mode = HC_MODE_NONE;
    ret = hc_reconfigure(s->cache, &cfg, err, sizeof(err));
    if (ret < 0) {
        error_report("hypercache: cannot inactivate node '%s': %s",
                     bdrv_get_node_name(bs), err);
        return ret;
    }
    hc_invalidate(s->cache, 0, UINT64_MAX, 0);
    s->inactive = true;
    return 0;
}

static void coroutine_fn GRAPH_RDLOCK
hypercache_co_invalidate_cache(BlockDriverState *bs, Error **errp)
{
    BDRVHypercacheState *s = bs->opaque;
    hc_config cfg;
    char err[256];

    /* Another process may have written the image: forget everything. */
    hypercache_invalidate(bs, 0, UINT64_MAX, 0);
    if (!s->inactive) {
        return;
    }
    hc_get_config(s->cache, &cfg);
    cfg.mode = s->active_mode;
    if (hc_reconfigure(s->cache, &cfg, err, sizeof(err)) < 0) {
        error_setg(errp, "hypercache: cannot resume caching: %s", err);
        return;
    }
    s->cfg.mode = s->active_mode;
    s->inactive = false;
    hypercache_hotset_activate(bs);
}

static BlockDriver bdrv_hypercache = {
    .format_name                = "hypercache",
    .instance_size              = sizeof(BDRVHypercacheState),
    .is_filter                  = true,

    .bdrv_open                  = hypercache_open,
    .bdrv_close                 = hypercache_close,
    .bdrv_child_perm            = hypercache_child_perm,
    .bdrv_set_perm              = hypercache_set_perm,

    .bdrv_reopen_prepare        = hypercache_reopen_prepare,
    .bdrv_reopen_commit         = hypercache_reopen_commit,
    .bdrv_reopen_abort          = hypercache_reopen_abort,
    .mutable_opts               = hypercache_mutable_opts,

    .bdrv_co_preadv_part        = hypercache_co_preadv_part,
    .bdrv_co_pwritev_part       = hypercache_co_pwritev_part,
    .bdrv_co_pwrite_zeroes      = hypercache_co_pwrite_zeroes,
    .bdrv_co_pdiscard           = hypercache_co_pdiscard,
    .bdrv_co_truncate           = hypercache_co_truncate,
    .bdrv_co_flush_to_os        = hypercache_co_flush_to_os,
    .bdrv_co_block_status       = hypercache_co_block_status,
    .bdrv_co_getlength          = hypercache_co_getlength,
    .bdrv_refresh_limits        = hypercache_refresh_limits,
    .bdrv_co_eject              = hypercache_co_eject,
    .bdrv_co_lock_medium        = hypercache_co_lock_medium,

    .bdrv_inactivate            = hypercache_inactivate,
    .bdrv_co_invalidate_cache   = hypercache_co_invalidate_cache,

    .bdrv_detach_aio_context    = hypercache_detach_aio_context,
    .bdrv_attach_aio_context    = hypercache_attach_aio_context,
    .bdrv_drain_begin           = hypercache_drain_begin,
    .bdrv_drain_end             = hypercache_drain_end,

    .bdrv_get_specific_info     = hypercache_get_specific_info,
    .bdrv_get_specific_stats    = hypercache_get_specific_stats,
};

bool hypercache_is_node(BlockDriverState *bs)
{
    return bs->drv == &bdrv_hypercache;
}

static void bdrv_hypercache_init(void)
{
    bdrv_register(&bdrv_hypercache);
}

block_init(bdrv_hypercache_init);
