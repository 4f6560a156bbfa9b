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
 * With --bench it runs the benchmark instead (hypercache-mq-bench.c).
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
#include "qemu/units.h"
#include "iothread.h"
#include "hypercache-mq.h"

#define PIECE           4096
#define PIECE_MAGIC     0x51434d48u     /* "HMCQ" */
#define MAX_RUN         6               /* pieces per owned run */
#define MAX_READ        (64 * 1024)

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

/* --------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    int i;

    bdrv_init();
    qemu_init_main_loop(&error_abort);

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bench")) {
            return hypercache_mq_bench(argc, argv);
        }
    }

    g_test_init(&argc, &argv, NULL);
    for (i = 0; i < ARRAY_SIZE(stress_params); i++) {
        g_test_add_data_func(stress_params[i].name, &stress_params[i],
                             test_stress);
    }
    return g_test_run();
}
