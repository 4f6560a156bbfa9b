/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * hypercache with several iothreads submitting to one node, the way
 * virtio-blk's iothread-vq-mapping does: one BlockBackend whose node lives
 * in the first iothread's AioContext, and requests issued from coroutines
 * running in every iothread.
 *
 * Default: a g_test stress test with an exact reference.  The region is
 * split into 4 KiB pieces; each piece is owned by one worker coroutine,
 * which alone writes it, always whole, with a header (magic, piece number,
 * version, owner) and a fill derived from piece and version.  Every worker
 * also reads random, sometimes unaligned ranges anywhere, and checks each
 * piece it sees: the right piece, a payload that matches the header, and a
 * version at least the one its owner had completed before the read began
 * and at most the one it had started when the read ended.  At the end the
 * node is flushed and dropped and the file is read back directly.
 *
 *   test-hypercache-mq [g_test options]
 *
 * With --bench: IOPS of 1 and N iothreads (QD per iothread) over null-co,
 * through hypercache and without it, medians of several runs.
 *
 *   test-hypercache-mq --bench [--secs S] [--reps N] [--threads N]
 *                      [--qd N] [--workload NAME] [--json FILE]
 */

#include "qemu/osdep.h"
#include "block/block.h"
#include "block/block_int-global-state.h"
#include "system/block-backend.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-block-core.h"
#include "qobject/qdict.h"
#include "qemu/main-loop.h"
#include "qemu/memalign.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "iothread.h"

#define PIECE           4096
#define PIECE_MAGIC     0x51434d48u     /* "HMCQ" */
#define MAX_RUN         6               /* pieces per owned run */
#define MAX_READ        (64 * 1024)
#define MAX_THREADS     8
#define HC_NODE         "hc-mq"

/* ------------------------------------------------------------ helpers */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t rng_next(uint64_t *s)
{
    *s = mix64(*s);
    return *s;
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return rng_next(s) % n;
}

static int64_t now_ns(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
}

/*
 * A BlockBackend that takes over the reference to @bs and lives in @ctx,
 * as virtio-blk's does: the node in the first vq's iothread, requests
 * from all of them.
 */
static BlockBackend *blk_for(BlockDriverState *bs, AioContext *ctx)
{
    BlockBackend *blk = blk_new(qemu_get_aio_context(),
                                BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE,
                                BLK_PERM_ALL);

    blk_insert_bs(blk, bs, &error_abort);
    bdrv_unref(bs);
    blk_set_aio_context(blk, ctx, &error_abort);
    return blk;
}

static void wake_main_bh(void *opaque)
{
}

/*
 * The main loop waits for the workers by polling its own context, not as
 * an AIO_WAIT_WHILE() waiter: while there is one, every request completion
 * in every iothread kicks the main loop (aio_wait_kick() from
 * bdrv_dec_in_flight()), which costs a CPU and is not what virtio-blk's
 * iothreads see.  The last worker out wakes it.
 */
static void worker_done(int *running)
{
    if (qatomic_fetch_dec(running) == 1) {
        aio_bh_schedule_oneshot(qemu_get_aio_context(), wake_main_bh, NULL);
    }
}

static void wait_workers(int *running)
{
    while (qatomic_read(running) > 0) {
        aio_poll(qemu_get_aio_context(), true);
    }
}

/* --------------------------------------------------------- the pieces */

typedef struct PieceHeader {
    uint32_t magic;
    uint32_t piece;
    uint64_t version;
    uint32_t owner;
    uint32_t pad;
} PieceHeader;

static void piece_fill(uint8_t *buf, uint32_t piece, uint64_t version,
                       uint32_t owner)
{
    PieceHeader *h = (PieceHeader *)buf;
    uint64_t *w = (uint64_t *)(buf + sizeof(*h));
    uint64_t seed = mix64(((uint64_t)piece << 32) ^ version);
    size_t i;

    h->magic = PIECE_MAGIC;
    h->piece = piece;
    h->version = version;
    h->owner = owner;
    h->pad = 0;
    for (i = 0; i < (PIECE - sizeof(*h)) / sizeof(*w); i++) {
        w[i] = mix64(seed + i);
    }
}

/*
 * Check bytes [ps, pe) of piece @p, found in @data, against the versions
 * lo..hi.  With the header in view, the header names the version; without
 * it, some version in the range must match.  Returns NULL or what is wrong.
 */
static const char *piece_check(uint8_t *scratch, uint32_t p, uint32_t ps,
                               uint32_t pe, const uint8_t *data,
                               uint64_t lo, uint64_t hi, uint64_t *got)
{
    PieceHeader h;
    uint64_t v;

    *got = UINT64_MAX;
    if (ps == 0 && pe >= sizeof(h)) {
        memcpy(&h, data, sizeof(h));
        if (h.magic != PIECE_MAGIC) {
            return "no piece header (garbage or zeroes)";
        }
        *got = h.version;
        if (h.piece != p) {
            return "header of another piece (misplaced data)";
        }
        if (h.version < lo) {
            return "stale version (older than a completed write)";
        }
        if (h.version > hi) {
            return "version from the future (never started)";
        }
        piece_fill(scratch, p, h.version, h.owner);
        if (memcmp(data + sizeof(h), scratch + sizeof(h),
                   pe - sizeof(h)) != 0) {
            return "payload does not match the header (torn piece)";
        }
        return NULL;
    }
    /*
     * Headerless fragment: it must be some version in lo..hi.  Reads are
     * sector-aligned, so a fragment never holds part of the header (whose
     * owner field the fill below does not know).
     */
    for (v = hi; v + 1 > lo && hi - v < 256; v--) {
        piece_fill(scratch, p, v, 0);
        if (memcmp(data, scratch + ps, pe - ps) == 0) {
            *got = v;
            return NULL;
        }
    }
    return "fragment matches no version in range";
}

/* ------------------------------------------------------ the stress test */

typedef enum {
    OP_IDLE, OP_READ, OP_WRITE, OP_FLUSH, OP_DONE,
} OpKind;

static const char *const op_names[] = {
    "idle", "read", "write", "flush", "done",
};

typedef struct Stress Stress;

typedef struct Worker {
    Stress *st;
    uint32_t id;
    int thread;
    uint64_t rng;
    uint32_t *runs;             /* indices into st->run_start/run_len */
    int nruns;
    uint8_t *buf;
    uint8_t *scratch;
    uint64_t lo[MAX_READ / PIECE + 2];
    /* What it is doing, for the watchdog. */
    int op;
    int64_t op_offset, op_bytes;
    uint64_t reads, writes, flushes;
} Worker;

struct Stress {
    BlockBackend *blk;
    const char *mode;
    int nthreads;
    int nworkers;
    uint32_t npieces;
    uint32_t nruns;
    uint32_t *run_start, *run_len;
    uint64_t *ver;              /* owner only */
    uint64_t *started;          /* atomic: newest version submitted */
    uint64_t *completed;        /* atomic: newest version completed */
    int64_t deadline;
    int running;
    int errors;
    Worker *workers;
};

static void stress_fail(Worker *w, const char *what, uint32_t p,
                        int64_t off, int64_t bytes, uint64_t got,
                        uint64_t lo, uint64_t hi)
{
    if (qatomic_fetch_inc(&w->st->errors) < 20) {
        fprintf(stderr, "MISMATCH worker %u (iothread %d) %s at %" PRId64
                "+%" PRId64 ": piece %u: %s (got version %" PRId64
                ", expected %" PRIu64 "..%" PRIu64 ")\n",
                w->id, w->thread, op_names[w->op], off, bytes, p, what,
                got == UINT64_MAX ? (int64_t)-1 : (int64_t)got, lo, hi);
    }
}

static void coroutine_fn stress_write(Worker *w)
{
    Stress *st = w->st;
    uint32_t r = w->runs[rng_below(&w->rng, w->nruns)];
    uint32_t a = st->run_start[r] + rng_below(&w->rng, st->run_len[r]);
    uint32_t end = st->run_start[r] + st->run_len[r];
    uint32_t b = a + 1 + rng_below(&w->rng, end - a);
    BdrvRequestFlags flags = rng_below(&w->rng, 20) == 0 ? BDRV_REQ_FUA : 0;
    uint32_t p;
    int ret;

    for (p = a; p < b; p++) {
        uint64_t v = ++st->ver[p];

        piece_fill(w->buf + (size_t)(p - a) * PIECE, p, v, w->id);
        qatomic_store_release(&st->started[p], v);
    }
    smp_mb(); /* started[] is visible before any of the data can be */
    w->op_offset = (int64_t)a * PIECE;
    w->op_bytes = (int64_t)(b - a) * PIECE;
    ret = blk_co_pwrite(st->blk, w->op_offset, w->op_bytes, w->buf, flags);
    if (ret < 0) {
        stress_fail(w, strerror(-ret), a, w->op_offset, w->op_bytes,
                    UINT64_MAX, 0, 0);
    }
    for (p = a; p < b; p++) {
        qatomic_store_release(&st->completed[p], st->ver[p]);
    }
    w->writes++;
}

static void coroutine_fn stress_read(Worker *w)
{
    Stress *st = w->st;
    int64_t size = (int64_t)st->npieces * PIECE;
    int64_t off, bytes, pos;
    uint32_t first, last, p;
    int ret;

    if (rng_below(&w->rng, 2)) {
        /* Whole pieces, 4 KiB to 64 KiB. */
        first = rng_below(&w->rng, st->npieces);
        off = (int64_t)first * PIECE;
        bytes = PIECE * (1 + rng_below(&w->rng, MAX_READ / PIECE));
    } else {
        /* Sector granularity: pieces cut at both ends. */
        off = 512 * rng_below(&w->rng, size / 512);
        bytes = 512 * (1 + rng_below(&w->rng, MAX_READ / 512));
    }
    bytes = MIN(bytes, size - off);
    first = off / PIECE;
    last = (off + bytes - 1) / PIECE;

    for (p = first; p <= last; p++) {
        w->lo[p - first] = qatomic_load_acquire(&st->completed[p]);
    }
    smp_mb(); /* the lower bounds are taken before the read begins */
    w->op_offset = off;
    w->op_bytes = bytes;
    ret = blk_co_pread(st->blk, off, bytes, w->buf, 0);
    smp_mb(); /* the upper bounds (started[]) after it ended */
    if (ret < 0) {
        stress_fail(w, strerror(-ret), first, off, bytes, UINT64_MAX, 0, 0);
        return;
    }
    for (p = first, pos = off; p <= last; p++) {
        int64_t pend = MIN((int64_t)(p + 1) * PIECE, off + bytes);
        uint32_t ps = pos - (int64_t)p * PIECE;
        uint32_t pe = pend - (int64_t)p * PIECE;
        uint64_t hi = qatomic_load_acquire(&st->started[p]);
        uint64_t got;
        const char *bad = piece_check(w->scratch, p, ps, pe,
                                      w->buf + (pos - off),
                                      w->lo[p - first], hi, &got);

        if (bad) {
            stress_fail(w, bad, p, off, bytes, got, w->lo[p - first], hi);
        }
        pos = pend;
    }
    w->reads++;
}

static void coroutine_fn stress_worker(void *opaque)
{
    Worker *w = opaque;
    Stress *st = w->st;

    while (now_ns() < st->deadline && !qatomic_read(&st->errors)) {
        uint64_t r = rng_below(&w->rng, 100);

        if (r < 2) {
            int ret;

            w->op = OP_FLUSH;
            ret = blk_co_flush(st->blk);
            if (ret < 0) {
                stress_fail(w, strerror(-ret), 0, 0, 0, UINT64_MAX, 0, 0);
            }
            w->flushes++;
        } else if (r < 50) {
            w->op = OP_WRITE;
            stress_write(w);
        } else {
            w->op = OP_READ;
            stress_read(w);
        }
        w->op = OP_IDLE;
    }
    w->op = OP_DONE;
    worker_done(&st->running);
}

/* Nothing must take this long: report what every worker is doing. */
static void watchdog_cb(void *opaque)
{
    Stress *st = opaque;
    int i;

    fprintf(stderr, "HANG: %d workers still running 30 s past the end\n",
            qatomic_read(&st->running));
    for (i = 0; i < st->nworkers; i++) {
        Worker *w = &st->workers[i];

        fprintf(stderr, "  worker %d (iothread %d): %s %" PRId64 "+%" PRId64
                " after %" PRIu64 " reads, %" PRIu64 " writes\n", i,
                w->thread, op_names[w->op], w->op_offset, w->op_bytes,
                w->reads, w->writes);
    }
    abort();
}

typedef struct StressParams {
    const char *name;
    const char *mode;
    int nthreads;
    int workers_per_thread;
    uint32_t npieces;
    uint64_t cache_bytes;
    const char *aio;
    const char *block_size;
} StressParams;

static void stress_assign_runs(Stress *st, uint64_t *rng)
{
    uint32_t p = 0, r = 0;
    int i;

    st->run_start = g_new(uint32_t, st->npieces);
    st->run_len = g_new(uint32_t, st->npieces);
    while (p < st->npieces) {
        st->run_start[r] = p;
        st->run_len[r] = MIN(1 + rng_below(rng, MAX_RUN), st->npieces - p);
        p += st->run_len[r++];
    }
    st->nruns = r;
    g_assert_cmpint(st->nruns, >=, st->nworkers);
    for (i = 0; i < st->nworkers; i++) {
        st->workers[i].runs = g_new(uint32_t, st->nruns);
    }
    /* Every worker owns at least one run; the rest at random. */
    for (r = 0; r < st->nruns; r++) {
        Worker *w = &st->workers[r < st->nworkers ? r :
                                 rng_below(rng, st->nworkers)];
        w->runs[w->nruns++] = r;
    }
}

static char *stress_make_file(uint32_t npieces)
{
    char *path = g_strdup("/var/tmp/test-hypercache-mq-XXXXXX");
    uint8_t *buf = g_malloc(PIECE);
    uint32_t p;
    int fd = mkstemp(path);

    g_assert_cmpint(fd, >=, 0);
    for (p = 0; p < npieces; p++) {
        piece_fill(buf, p, 0, 0);
        g_assert_cmpint(pwrite(fd, buf, PIECE, (off_t)p * PIECE), ==, PIECE);
    }
    g_assert_cmpint(fsync(fd), ==, 0);
    close(fd);
    g_free(buf);
    return path;
}

static BlockDriverState *stress_open_bs(const StressParams *sp,
                                        const char *path, const char *aio,
                                        Error **errp)
{
    g_autofree char *size = g_strdup_printf("%" PRIu64, sp->cache_bytes);
    QDict *opts = qdict_new();

    qdict_put_str(opts, "driver", "hypercache");
    qdict_put_str(opts, "node-name", HC_NODE);
    qdict_put_str(opts, "mode", sp->mode);
    qdict_put_str(opts, "size", size);
    qdict_put_str(opts, "block-size", sp->block_size);
    qdict_put_str(opts, "max-dirty-age", "20");
    qdict_put_str(opts, "cache.direct", "on");
    qdict_put_str(opts, "file.driver", "file");
    qdict_put_str(opts, "file.filename", path);
    qdict_put_str(opts, "file.aio", aio);
    return bdrv_open(NULL, NULL, opts, BDRV_O_RDWR, errp);
}

static BlockBackend *stress_open(const StressParams *sp, const char *path,
                                 AioContext *ctx)
{
    BlockDriverState *bs;
    Error *err = NULL;

    bs = stress_open_bs(sp, path, sp->aio, &err);
    if (!bs) {
        /* io_uring or linux-aio may be refused by this kernel. */
        g_test_message("aio=%s: %s; using aio=threads", sp->aio,
                       error_get_pretty(err));
        error_free(err);
        bs = stress_open_bs(sp, path, "threads", &error_abort);
    }
    return blk_for(bs, ctx);
}

static HypercacheStats *stress_stats(HypercacheInfoList **list)
{
    *list = qmp_x_hypercache_query(HC_NODE, &error_abort);
    g_assert(*list && !(*list)->next);
    return (*list)->value->stats;
}

static void stress_verify_file(Stress *st, const char *path)
{
    size_t size = (size_t)st->npieces * PIECE;
    uint8_t *data = g_malloc(size);
    uint8_t *scratch = g_malloc(PIECE);
    int fd = open(path, O_RDONLY);
    uint32_t p;
    int bad = 0;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, data, size, 0), ==, size);
    close(fd);
    for (p = 0; p < st->npieces; p++) {
        uint64_t got;
        const char *why = piece_check(scratch, p, 0, PIECE,
                                      data + (size_t)p * PIECE,
                                      st->ver[p], st->ver[p], &got);

        if (why && bad++ < 20) {
            fprintf(stderr, "FILE piece %u: %s (got version %" PRId64
                    ", last written %" PRIu64 ")\n", p, why,
                    got == UINT64_MAX ? (int64_t)-1 : (int64_t)got,
                    st->ver[p]);
        }
    }
    g_free(scratch);
    g_free(data);
    g_assert_cmpint(bad, ==, 0);
}

static double stress_secs(void)
{
    const char *e = g_getenv("HC_MQ_SECS");

    if (e) {
        return g_ascii_strtod(e, NULL);
    }
    return g_test_slow() ? 20 : 3;
}

static void test_stress(const void *opaque)
{
    const StressParams *sp = opaque;
    IOThread *iothreads[MAX_THREADS];
    AioContext *ctx[MAX_THREADS];
    HypercacheInfoList *info;
    HypercacheStats *hs;
    uint64_t seed = (uint32_t)g_test_rand_int();
    uint64_t rng = seed;
    uint64_t reads = 0, writes = 0, flushes = 0;
    QEMUTimer *watchdog;
    Stress st = {
        .mode = sp->mode,
        .nthreads = sp->nthreads,
        .nworkers = sp->nthreads * sp->workers_per_thread,
        .npieces = sp->npieces,
    };
    char *path;
    int i;

    g_assert_cmpint(sp->nthreads, <=, MAX_THREADS);
    st.workers = g_new0(Worker, st.nworkers);
    st.ver = g_new0(uint64_t, st.npieces);
    st.started = g_new0(uint64_t, st.npieces);
    st.completed = g_new0(uint64_t, st.npieces);
    stress_assign_runs(&st, &rng);

    path = stress_make_file(st.npieces);
    for (i = 0; i < sp->nthreads; i++) {
        iothreads[i] = iothread_new();
        ctx[i] = iothread_get_aio_context(iothreads[i]);
    }
    st.blk = stress_open(sp, path, ctx[0]);

    for (i = 0; i < st.nworkers; i++) {
        Worker *w = &st.workers[i];

        w->st = &st;
        w->id = i;
        w->thread = i % sp->nthreads;
        w->rng = mix64(seed ^ (0x1000ull + i));
        w->buf = blk_blockalign(st.blk, MAX(MAX_READ, MAX_RUN * PIECE));
        w->scratch = g_malloc(PIECE);
    }

    st.deadline = now_ns() + (int64_t)(stress_secs() * NANOSECONDS_PER_SECOND);
    watchdog = aio_timer_new(qemu_get_aio_context(), QEMU_CLOCK_REALTIME,
                             SCALE_NS, watchdog_cb, &st);
    timer_mod(watchdog, st.deadline + 30 * NANOSECONDS_PER_SECOND);
    st.running = st.nworkers;
    for (i = 0; i < st.nworkers; i++) {
        Worker *w = &st.workers[i];

        aio_co_enter(ctx[w->thread],
                     qemu_coroutine_create(stress_worker, w));
    }
    wait_workers(&st.running);
    timer_free(watchdog);

    for (i = 0; i < st.nworkers; i++) {
        reads += st.workers[i].reads;
        writes += st.workers[i].writes;
        flushes += st.workers[i].flushes;
    }
    hs = stress_stats(&info);
    g_test_message("%s: seed %" PRIu64 ", aio=%s, %d iothreads, %d workers: "
                   "%" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64
                   " flushes; cache: %" PRIu64 " hit blocks, %" PRIu64
                   " miss blocks, %" PRIu64 " evictions, %" PRIu64
                   " write-backs", sp->name, seed, sp->aio, sp->nthreads,
                   st.nworkers, reads, writes, flushes, hs->hit_blocks,
                   hs->miss_blocks, hs->evictions, hs->writeback_requests);
    g_assert_cmpint(qatomic_read(&st.errors), ==, 0);
    /* The run must have exercised what it is meant to. */
    g_assert_cmpuint(reads, >, 100);
    g_assert_cmpuint(writes, >, 100);
    g_assert_cmpuint(hs->hit_blocks, >, 0);
    if ((uint64_t)st.npieces * PIECE > sp->cache_bytes) {
        g_assert_cmpuint(hs->evictions, >, 0);
    }
    if (!strcmp(sp->mode, "writeback")) {
        g_assert_cmpuint(hs->writeback_requests, >, 0);
    }
    qapi_free_HypercacheInfoList(info);

    g_assert_cmpint(blk_flush(st.blk), ==, 0);
    blk_set_aio_context(st.blk, qemu_get_aio_context(), &error_abort);
    blk_unref(st.blk);
    for (i = 0; i < sp->nthreads; i++) {
        iothread_join(iothreads[i]);
    }

    stress_verify_file(&st, path);

    unlink(path);
    g_free(path);
    for (i = 0; i < st.nworkers; i++) {
        qemu_vfree(st.workers[i].buf);
        g_free(st.workers[i].scratch);
        g_free(st.workers[i].runs);
    }
    g_free(st.workers);
    g_free(st.ver);
    g_free(st.started);
    g_free(st.completed);
    g_free(st.run_start);
    g_free(st.run_len);
}

/*
 * 512 pieces (2 MiB) against a 1 MiB cache: the cache is always evicting.
 * The small region (384 KiB) fits: nearly every read hits, and the owners
 * of one block race on it all the time.  With 16 KiB cache blocks every
 * block is shared by several owners and most writes are partial updates;
 * with 4 KiB blocks every write is whole blocks, which takes the core's
 * unlocked paths (dirty blocks rewritten in place, absorbs copied outside
 * the tmaster mutex).  In writethrough mode the small region keeps blocks
 * cached and clean, so writes (and FUA writes in writeback mode) take the
 * write-through path without the tmaster mutex.
 */
static const StressParams stress_params[] = {
    { "/hypercache-mq/writeback/2-iothreads", "writeback", 2, 6, 512,
      1 * MiB, "threads", "16k" },
    { "/hypercache-mq/writeback/4-iothreads", "writeback", 4, 4, 512,
      1 * MiB, "io_uring", "16k" },
    { "/hypercache-mq/writeback/2-iothreads-small-region", "writeback", 2, 6,
      96, 1 * MiB, "threads", "16k" },
    { "/hypercache-mq/writeback/2-iothreads-4k-blocks", "writeback", 2, 6,
      512, 1 * MiB, "threads", "4k" },
    { "/hypercache-mq/writeback/2-iothreads-4k-blocks-small-region",
      "writeback", 2, 6, 96, 1 * MiB, "threads", "4k" },
    { "/hypercache-mq/writethrough/2-iothreads", "writethrough", 2, 6, 512,
      1 * MiB, "native", "16k" },
    { "/hypercache-mq/writethrough/2-iothreads-small-region", "writethrough",
      2, 6, 96, 1 * MiB, "threads", "16k" },
    { "/hypercache-mq/writethrough/2-iothreads-4k-blocks-small-region",
      "writethrough", 2, 6, 96, 1 * MiB, "threads", "4k" },
};

/* ---------------------------------------------------------- benchmark */

typedef enum {
    WL_READ, WL_WRITE, WL_MIX, WL_WRITE_WT, WL__MAX,
} Workload;

static const char *const wl_names[] = { "randread-hit", "randwrite-wb",
                                        "randrw-70-30", "randwrite-wt" };

typedef struct BenchOpts {
    double secs;
    int reps;
    int threads;
    int qd;
    const char *workload;   /* NULL: all of them */
    const char *json;
} BenchOpts;

/*
 * 32 MiB hot set, cached in 128 MiB: reads hit, writes stay below WB's
 * watermarks.
 */
#define BENCH_HOT       (32 * 1024 * 1024)
#define BENCH_BS        4096

typedef struct BenchRun BenchRun;

typedef struct BenchJob {
    BenchRun *run;
    uint64_t rng;
    uint64_t ops;
    uint8_t *buf;
} BenchJob;

struct BenchRun {
    BlockBackend *blk;
    Workload wl;
    int64_t deadline;
    int running;
    int errors;
};

static void coroutine_fn bench_job(void *opaque)
{
    BenchJob *j = opaque;
    BenchRun *r = j->run;
    int ret;

    while (now_ns() < r->deadline) {
        int64_t off = BENCH_BS * rng_below(&j->rng, BENCH_HOT / BENCH_BS);
        bool write = r->wl == WL_WRITE || r->wl == WL_WRITE_WT ||
            (r->wl == WL_MIX && rng_below(&j->rng, 10) < 3);

        if (write) {
            ret = blk_co_pwrite(r->blk, off, BENCH_BS, j->buf, 0);
        } else {
            ret = blk_co_pread(r->blk, off, BENCH_BS, j->buf, 0);
        }
        if (ret < 0) {
            qatomic_inc(&r->errors);
            break;
        }
        j->ops++;
    }
    worker_done(&r->running);
}

static double bench_run(const BenchOpts *o, BlockBackend *blk, Workload wl,
                        AioContext **ctx, int nthreads)
{
    int njobs = nthreads * o->qd;
    BenchJob *jobs = g_new0(BenchJob, njobs);
    BenchRun r = { .blk = blk, .wl = wl, .running = njobs };
    int64_t start, end;
    uint64_t ops = 0;
    int i;

    for (i = 0; i < njobs; i++) {
        jobs[i].run = &r;
        jobs[i].rng = mix64(now_ns() ^ i);
        jobs[i].buf = blk_blockalign(blk, BENCH_BS);
        memset(jobs[i].buf, 0x5a, BENCH_BS);
    }
    start = now_ns();
    r.deadline = start + (int64_t)(o->secs * NANOSECONDS_PER_SECOND);
    for (i = 0; i < njobs; i++) {
        aio_co_enter(ctx[i % nthreads],
                     qemu_coroutine_create(bench_job, &jobs[i]));
    }
    wait_workers(&r.running);
    end = now_ns();
    if (r.errors) {
        fprintf(stderr, "bench: %d I/O errors\n", r.errors);
        exit(1);
    }
    for (i = 0; i < njobs; i++) {
        ops += jobs[i].ops;
        qemu_vfree(jobs[i].buf);
    }
    g_free(jobs);
    return ops / ((double)(end - start) / NANOSECONDS_PER_SECOND);
}

/* randwrite-wt: every write goes to the child and completes a ticket. */
static BlockBackend *bench_open(bool hc, Workload wl, AioContext *ctx)
{
    QDict *opts = qdict_new();
    const char *pfx = hc ? "file." : "";
    BlockDriverState *bs;
    char key[32];

    if (hc) {
        qdict_put_str(opts, "driver", "hypercache");
        qdict_put_str(opts, "node-name", HC_NODE);
        qdict_put_str(opts, "size", "128M");
        qdict_put_str(opts, "max-dirty-age", "0");
        qdict_put_str(opts, "mode",
                      wl == WL_WRITE_WT ? "writethrough" : "writeback");
    }
    snprintf(key, sizeof(key), "%sdriver", pfx);
    qdict_put_str(opts, key, "null-co");
    snprintf(key, sizeof(key), "%ssize", pfx);
    qdict_put_str(opts, key, "1G");
    snprintf(key, sizeof(key), "%sread-zeroes", pfx);
    qdict_put_str(opts, key, "off");
    bs = bdrv_open(NULL, NULL, opts, BDRV_O_RDWR, &error_abort);
    return blk_for(bs, ctx);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double *s = g_memdup2(v, n * sizeof(*v));
    double m;

    qsort(s, n, sizeof(*s), cmp_double);
    m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    g_free(s);
    return m;
}

/* iops[workload][backend: 0 hypercache, 1 baseline][0: 1 thread, 1: N] */
typedef struct BenchResult {
    double *iops[WL__MAX][2][2];
    double hit_ratio[WL__MAX];
    uint64_t writebacks[WL__MAX];
} BenchResult;

static const char *const backend_names[] = { "hypercache", "null-co" };

static void bench_print(const BenchOpts *o, BenchResult *res)
{
    g_autofree char *nt = g_strdup_printf("%dT IOPS", o->threads);
    int wl, be;

    printf("\nmulti-iothread scaling, %d coroutines (QD) per iothread, "
           "%.1f s per run, median of %d runs, %d CPUs\n\n", o->qd, o->secs,
           o->reps, (int)sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-14s %-11s %12s %12s %8s\n", "workload", "backend",
           "1T IOPS", nt, "scaling");
    for (wl = 0; wl < WL__MAX; wl++) {
        for (be = 0; be < 2 && res->iops[wl][0][0]; be++) {
            double m1 = median(res->iops[wl][be][0], o->reps);
            double mn = median(res->iops[wl][be][1], o->reps);

            printf("%-14s %-11s %12.0f %12.0f %7.2fx\n", wl_names[wl],
                   backend_names[be], m1, mn, mn / m1);
        }
    }
    for (wl = 0; wl < WL__MAX; wl++) {
        if (!res->iops[wl][0][0]) {
            continue;
        }
        printf("%s through hypercache: hit ratio %.3f, %" PRIu64
               " write-back requests during the timed runs\n", wl_names[wl],
               res->hit_ratio[wl], res->writebacks[wl]);
    }
}

static void bench_json(const BenchOpts *o, BenchResult *res)
{
    FILE *f = fopen(o->json, "w");
    const char *sep = "";
    int wl, be, t, i;

    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", o->json, strerror(errno));
        exit(1);
    }
    fprintf(f, "{\n  \"secs\": %g, \"reps\": %d, \"qd_per_thread\": %d,\n"
            "  \"threads\": [1, %d], \"cpus\": %d, \"block_size\": %d,\n"
            "  \"hot_set_bytes\": %d,\n  \"results\": [\n", o->secs, o->reps,
            o->qd, o->threads, (int)sysconf(_SC_NPROCESSORS_ONLN), BENCH_BS,
            BENCH_HOT);
    for (wl = 0; wl < WL__MAX; wl++) {
        for (be = 0; be < 2 && res->iops[wl][0][0]; be++) {
            double m1 = median(res->iops[wl][be][0], o->reps);
            double mn = median(res->iops[wl][be][1], o->reps);

            fprintf(f, "%s    {\"workload\": \"%s\", \"backend\": \"%s\"",
                    sep, wl_names[wl], backend_names[be]);
            sep = ",\n";
            for (t = 0; t < 2; t++) {
                fprintf(f, ", \"iops_%dt\": [", t ? o->threads : 1);
                for (i = 0; i < o->reps; i++) {
                    fprintf(f, "%s%.0f", i ? ", " : "",
                            res->iops[wl][be][t][i]);
                }
                fprintf(f, "]");
            }
            fprintf(f, ", \"median_1t\": %.0f, \"median_%dt\": %.0f, "
                    "\"scaling\": %.3f", m1, o->threads, mn, mn / m1);
            if (be == 0) {
                fprintf(f, ", \"hit_ratio\": %.4f, \"writebacks\": %" PRIu64,
                        res->hit_ratio[wl], res->writebacks[wl]);
            }
            fprintf(f, "}");
        }
    }
    fprintf(f, "\n  ]\n}\n");
    fclose(f);
}

static int bench_main(const BenchOpts *o)
{
    IOThread *iothreads[MAX_THREADS];
    AioContext *ctx[MAX_THREADS];
    BenchResult res = { 0 };
    uint8_t *buf;
    int wl, be, t, rep, i;
    int64_t off;

    for (i = 0; i < o->threads; i++) {
        iothreads[i] = iothread_new();
        ctx[i] = iothread_get_aio_context(iothreads[i]);
    }
    for (wl = 0; wl < WL__MAX; wl++) {
        BlockBackend *blk[2];
        HypercacheInfoList *info;
        HypercacheStats *hs;

        if (o->workload && strcmp(o->workload, wl_names[wl])) {
            continue;
        }
        for (be = 0; be < 2; be++) {
            blk[be] = bench_open(be == 0, wl, ctx[0]);
            for (t = 0; t < 2; t++) {
                res.iops[wl][be][t] = g_new0(double, o->reps);
            }
        }
        /* Warm: two passes over the hot set, so that every block is in. */
        buf = blk_blockalign(blk[0], 1024 * 1024);
        for (i = 0; i < 2; i++) {
            for (off = 0; off < BENCH_HOT; off += 1024 * 1024) {
                g_assert_cmpint(blk_pread(blk[0], off, 1024 * 1024, buf, 0),
                                ==, 0);
            }
        }
        qemu_vfree(buf);
        qmp_x_hypercache_reset_stats(HC_NODE, &error_abort);

        for (rep = 0; rep < o->reps; rep++) {
            for (t = 0; t < 2; t++) {
                for (be = 0; be < 2; be++) {
                    double iops = bench_run(o, blk[be], wl, ctx,
                                            t ? o->threads : 1);

                    res.iops[wl][be][t][rep] = iops;
                    fprintf(stderr, "%-14s %-11s %dT rep %d: %10.0f IOPS\n",
                            wl_names[wl], backend_names[be],
                            t ? o->threads : 1, rep + 1, iops);
                }
            }
        }
        info = qmp_x_hypercache_query(HC_NODE, &error_abort);
        hs = info->value->stats;
        res.hit_ratio[wl] = hs->hit_ratio;
        res.writebacks[wl] = hs->writeback_requests;
        qapi_free_HypercacheInfoList(info);

        for (be = 0; be < 2; be++) {
            blk_set_aio_context(blk[be], qemu_get_aio_context(),
                                &error_abort);
            blk_unref(blk[be]);
        }
    }
    for (i = 0; i < o->threads; i++) {
        iothread_join(iothreads[i]);
    }

    bench_print(o, &res);
    if (o->json) {
        bench_json(o, &res);
    }
    return 0;
}

/* --------------------------------------------------------------- main */

static bool parse_bench(int argc, char **argv, BenchOpts *o)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--bench")) {
            continue;
        }
        if (!v) {
            return false;
        }
        if (!strcmp(a, "--secs")) {
            o->secs = g_ascii_strtod(v, NULL);
        } else if (!strcmp(a, "--reps")) {
            o->reps = atoi(v);
        } else if (!strcmp(a, "--threads")) {
            o->threads = atoi(v);
        } else if (!strcmp(a, "--qd")) {
            o->qd = atoi(v);
        } else if (!strcmp(a, "--workload")) {
            o->workload = v;
        } else if (!strcmp(a, "--json")) {
            o->json = v;
        } else {
            return false;
        }
        i++;
    }
    if (o->workload) {
        for (i = 0; i < WL__MAX; i++) {
            if (!strcmp(o->workload, wl_names[i])) {
                break;
            }
        }
        if (i == WL__MAX) {
            fprintf(stderr, "--workload must be randread-hit, randwrite-wb, "
                    "randrw-70-30 or randwrite-wt, not '%s'\n", o->workload);
            return false;
        }
    }
    return o->secs > 0 && o->reps > 0 && o->qd > 0 &&
        o->threads >= 2 && o->threads <= MAX_THREADS;
}

int main(int argc, char **argv)
{
    BenchOpts bo = { .secs = 2, .reps = 5, .threads = 2, .qd = 16 };
    int i;

    bdrv_init();
    qemu_init_main_loop(&error_abort);

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bench")) {
            if (!parse_bench(argc, argv, &bo)) {
                fprintf(stderr, "usage: %s --bench [--secs S] [--reps N] "
                        "[--threads N] [--qd N] [--workload NAME] "
                        "[--json FILE]\n", argv[0]);
                return 2;
            }
            return bench_main(&bo);
        }
    }

    g_test_init(&argc, &argv, NULL);
    for (i = 0; i < ARRAY_SIZE(stress_params); i++) {
        g_test_add_data_func(stress_params[i].name, &stress_params[i],
                             test_stress);
    }
    return g_test_run();
}
