/*
 * hypercache: a warm cache after restart and live migration
 *
 * Copyright (c) 2026 The hypercache authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * What was hot is remembered, never the data: a hot set is the list of the
 * node's cached block numbers, hottest first by its policy, saved in a
 * small checksummed file that names the image it belongs to (the format is
 * the core's, block/hypercache/hotset.h).  Loading one reads those blocks
 * from the child in the background into free cache memory, through the
 * same reserved-slot fill path as a guest's read miss, so that a block the
 * guest wrote meanwhile is never overwritten with older data.
 *
 * The loader is one coroutine in the node's AioContext, counted in
 * bs->in_flight so that drain waits for it.  It keeps a few merged reads in
 * flight (one while the guest has requests of its own), stops when the
 * node is drained, inactive or not cached exclusively, and is started
 * again by the write-back timer's tick once that is over.  With the
 * hotset-file option the hot set is saved at close and inactivation and
 * loaded at open and activation: on live migration over shared storage the
 * source saves it when it hands over and the destination loads it when it
 * takes over, with nothing to do for the management layer.
 */

#include "qemu/osdep.h"

#include "block/block-io.h"
#include "block/block_int.h"
#include "block/hypercache-core.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-block-core.h"
#include "qemu/coroutine.h"
#include "qemu/error-report.h"
#include "qemu/memalign.h"
#include "qemu/option.h"
#include "qemu/ratelimit.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "trace.h"

#include "hypercache-int.h"

#define HC_OPT_HOTSET_FILE      "hotset-file"
#define HC_OPT_HOTSET_RATE      "hotset-rate"

/* Merged reads in flight, but one while the load must yield (below). */
#define HC_HOTSET_DEPTH         4
/* The largest prefetch read, and the most blocks it may cover. */
#define HC_HOTSET_READ_BYTES    (256 * KiB)
#define HC_HOTSET_READ_BLOCKS   256
/*
 * Hot blocks this close are read with the gap between them, which is
 * dropped: one 36 KiB read costs a disk or a network about what one 4 KiB
 * read does, nine cost nine times as much.
 */
#define HC_HOTSET_GAP_BYTES     (32 * KiB)
/*
 * Blocks sorted and merged at a time.  The first batch is the hottest 1024
 * blocks, each next one eight times larger, up to the last size: hottest
 * first where it matters most, long merged reads for the bulk (a uniform
 * hot set is hardly ever contiguous within 1024 blocks).
 */
#define HC_HOTSET_BATCH_FIRST   1024
#define HC_HOTSET_BATCH_GROWTH  8
#define HC_HOTSET_BATCH_MAX     (256 * 1024)
/*
 * While the guest has requests of its own and the load does not help it (it
 * found none of the blocks it read cached by the guest in the last
 * HC_HOTSET_USEFUL_NS), the loader keeps one short read in flight and
 * waits HC_HOTSET_YIELD times as long as each took before the next: a tenth
 * of the disk's time at most, for a guest that reads elsewhere.  A guest that
 * reads its hot set, as after a restart, gets the load at full speed.
 */
#define HC_HOTSET_YIELD         9
/* ... in reads of at most this much, which a guest read waits less for. */
#define HC_HOTSET_YIELD_BYTES   (32 * KiB)
#define HC_HOTSET_USEFUL_NS     (1000 * SCALE_MS)
/* A guest that sent a request this recently counts as busy. */
#define HC_HOTSET_BUSY_NS       (20 * SCALE_MS)
/* The longest the loader sleeps for the rate limit before looking again. */
#define HC_HOTSET_NAP_NS        (10 * SCALE_MS)
/* Larger files are refused unread (a hot set of 2^26 blocks is ~256 MiB). */
#define HC_HOTSET_MAX_FILE      (1 * GiB)

struct HypercacheHotset {
    char *file;                 /* hotset-file, or NULL */
    uint64_t rate;              /* hotset-rate, bytes/s, 0 = no limit */

    /*
     * The load.  The set and its file are replaced only while the loader
     * does not run (drained, or inactive); the counters are read by the
     * main loop while it runs.
     */
    hc_hotset *set;
    char *source;
    int status;                 /* HypercacheHotsetStatus, -1: none yet */
    uint64_t wanted, loaded, skipped;
    uint64_t load_rate;         /* this load's: hotset-rate or QMP's rate */
    uint64_t pos;               /* next block of the set to batch */
    uint64_t batch_start;       /* first block of the current batch */
    hc_hotset_run *batch;       /* its runs, sorted */
    size_t batch_size;          /* blocks the next batch takes */
    size_t batch_n, batch_i;
    void *scratch;              /* where gaps and cached blocks are read */
    bool full;                  /* the cache had no free slot left */
    RateLimit limit;
    int64_t next_ns;            /* rate limit, yield: no read before this */
    int64_t useful_ns;          /* the guest read the hot set until then */
    uint64_t guest_ops;         /* its requests, when last looked at */
    int64_t busy_ns;            /* the guest counts as busy until then */

    /*
     * The hot set as it was when the node last stopped caching (its last
     * writer went away, as when QEMU quits: the cache is emptied before
     * the node is closed), for close to save.
     */
    hc_hotset *last;

    bool running;               /* the loader coroutine exists */
    unsigned in_flight;         /* its reads */
    Coroutine *waiter;          /* the loader, waiting for a read */
};

/*
 * One read: @n runs from @runs (in the batch, or @piece, a run's head) and
 * the gaps between them.
 */
typedef struct HypercacheHotsetReq {
    BlockDriverState *bs;
    const hc_hotset_run *runs;
    size_t n;
    hc_hotset_run piece;
    bool yield;                 /* leave the disk to the guest after it */
} HypercacheHotsetReq;

static QemuOptsList hypercache_hotset_opts = {
    .name = "hypercache-hotset",
    .head = QTAILQ_HEAD_INITIALIZER(hypercache_hotset_opts.head),
    .desc = {
        { .name = HC_OPT_HOTSET_FILE, .type = QEMU_OPT_STRING,
          .help = "hot-set file saved at close, loaded at open" },
        { .name = HC_OPT_HOTSET_RATE, .type = QEMU_OPT_SIZE,
          .help = "bytes per second a hot-set load reads at most" },
        { /* end of list */ }
    },
};

/* ------------------------------------------------------------- identity */

/*
 * What a hot set is saved for: the image's name, below any filters (a
 * throttle or blkdebug node in between does not make it another disk), and
 * the size the guest sees.
 */
static const char *GRAPH_RDLOCK
hypercache_hotset_identity(BlockDriverState *bs)
{
    BlockDriverState *image = bdrv_skip_filters(bs->file->bs);

    return image ? image->filename : bs->file->bs->filename;
}

static uint64_t GRAPH_RDLOCK hypercache_hotset_image_size(BlockDriverState *bs)
{
    return (uint64_t)bs->file->bs->total_sectors * BDRV_SECTOR_SIZE;
}

static uint64_t hypercache_hotset_capacity(BDRVHypercacheState *s)
{
    hc_stats st;

    hc_get_stats(s->cache, &st);
    return st.capacity_bytes / s->cfg.block_size;
}

/* ---------------------------------------------------------------- save */

/*
 * The node's hot set now: its cached blocks, then those of a load that has
 * not finished (so that saving again soon after a start forgets nothing).
 * NULL if memory ran out.
 */
static hc_hotset *GRAPH_RDLOCK hypercache_hotset_collect(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;
    const hc_hotset *rest = NULL;
    uint64_t rest_from = 0;

    if (h->set && qatomic_read(&h->status) != HYPERCACHE_HOTSET_STATUS_DONE) {
        rest = h->set;
        rest_from = qatomic_read(&h->batch_start);
    }
    return hc_hotset_collect(s->cache, hypercache_hotset_capacity(s), rest,
                             rest_from, hypercache_hotset_image_size(bs),
                             hypercache_hotset_identity(bs));
}

/* Write @hs to @filename, through a temporary file renamed into place. */
static bool hypercache_hotset_write(BlockDriverState *bs, const hc_hotset *hs,
                                    const char *filename, uint64_t *bytes,
                                    Error **errp)
{
    g_autoptr(GError) gerr = NULL;
    void *buf;
    size_t len;

    if (hc_hotset_encode(hs, &buf, &len) < 0) {
        error_setg(errp, "Cannot save the hot set of '%s': out of memory",
                   bdrv_get_node_name(bs));
        return false;
    }
    *bytes = len;
    if (!g_file_set_contents_full(filename, buf, len,
                                  G_FILE_SET_CONTENTS_CONSISTENT |
                                  G_FILE_SET_CONTENTS_DURABLE, 0600, &gerr)) {
        free(buf);
        error_setg(errp, "Cannot write hot-set file '%s': %s", filename,
                   gerr->message);
        trace_hypercache_hotset_save(bs, filename, hc_hotset_count(hs), -EIO);
        return false;
    }
    free(buf);
    trace_hypercache_hotset_save(bs, filename, hc_hotset_count(hs), 0);
    return true;
}

static bool GRAPH_RDLOCK
hypercache_hotset_save(BlockDriverState *bs, const char *filename,
                       uint64_t *blocks, uint64_t *bytes, Error **errp)
{
    hc_hotset *hs = hypercache_hotset_collect(bs);
    bool ok;

    if (!hs) {
        error_setg(errp, "Cannot save the hot set of '%s': out of memory",
                   bdrv_get_node_name(bs));
        return false;
    }
    *blocks = hc_hotset_count(hs);
    ok = hypercache_hotset_write(bs, hs, filename, bytes, errp);
    hc_hotset_free(hs);
    return ok;
}

/* ---------------------------------------------------------------- read */

/* The bytes of a hot-set file; a missing file is -ENOENT. */
static int hypercache_hotset_slurp(const char *filename, uint8_t **out,
                                   size_t *outlen, Error **errp)
{
    g_autofree uint8_t *buf = NULL;
    struct stat st;
    size_t done = 0;
    int fd;

    if (stat(filename, &st) < 0) {
        int err = errno;

        error_setg_errno(errp, err, "Cannot open hot-set file '%s'",
                         filename);
        return -err;
    }
    fd = qemu_open(filename, O_RDONLY | O_NONBLOCK, errp);
    if (fd < 0) {
        return -EIO;
    }
    if (fstat(fd, &st) < 0) {
        error_setg_errno(errp, errno, "Cannot read hot-set file '%s'",
                         filename);
        qemu_close(fd);
        return -EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        error_setg(errp, "Hot-set file '%s' is not a regular file", filename);
        qemu_close(fd);
        return -EINVAL;
    }
    if (st.st_size > HC_HOTSET_MAX_FILE) {
        error_setg(errp, "Hot-set file '%s' refused: %" PRId64 " bytes is "
                   "more than any hot set takes (at most %" PRIu64 ")",
                   filename, (int64_t)st.st_size, (uint64_t)HC_HOTSET_MAX_FILE);
        qemu_close(fd);
        return -EINVAL;
    }
    buf = g_malloc(MAX(st.st_size, 1));
    while (done < st.st_size) {
        ssize_t n = read(fd, buf + done, st.st_size - done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            error_setg_errno(errp, n < 0 ? errno : EIO,
                             "Cannot read hot-set file '%s'", filename);
            qemu_close(fd);
            return -EIO;
        }
        done += n;
    }
    qemu_close(fd);
    *out = g_steal_pointer(&buf);
    *outlen = done;
    return 0;
}

/*
 * Read and check @filename for this node: its format, version and
 * checksum, then its block size and disk.  Every error names the check.
 */
static int GRAPH_RDLOCK
hypercache_hotset_read_file(BlockDriverState *bs, const char *filename,
                            hc_hotset **out, Error **errp)
{
    BDRVHypercacheState *s = bs->opaque;
    g_autofree uint8_t *buf = NULL;
    hc_hotset *hs;
    char err[512];
    size_t len;
    int ret;

    ret = hypercache_hotset_slurp(filename, &buf, &len, errp);
    if (ret < 0) {
        return ret;
    }
    ret = hc_hotset_parse(buf, len, hypercache_hotset_capacity(s), &hs, err,
                          sizeof(err));
    if (ret == 0) {
        ret = hc_hotset_check(hs, s->cfg.block_size,
                              hypercache_hotset_image_size(bs),
                              hypercache_hotset_identity(bs), err,
                              sizeof(err));
        if (ret < 0) {
            hc_hotset_free(hs);
        }
    }
    if (ret < 0) {
        error_setg(errp, "Hot-set file '%s' refused: %s", filename, err);
        trace_hypercache_hotset_refused(bs, filename, err);
        return ret;
    }
    *out = hs;
    return 0;
}

/* ---------------------------------------------------------------- load */

static bool hypercache_hotset_may_run(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;

    /* Acquire: what hypercache_hotset_start() set up before. */
    return qatomic_load_acquire(&h->status) ==
           HYPERCACHE_HOTSET_STATUS_RUNNING &&
           s->opened && !s->inactive && !qatomic_read(&s->quiesce) &&
           qatomic_read(&s->exclusive);
}

/*
 * Whether the guest is busy: it has requests on the node (bs->in_flight
 * counts them and, besides, the loader itself and the background writer),
 * or sent one in the last HC_HOTSET_BUSY_NS (a guest at a queue depth of
 * 16 still has none now and then, between its completions and its next
 * submissions).  Loader only.
 */
static bool hypercache_hotset_guest_busy(BlockDriverState *bs, int64_t now)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;
    unsigned own = 1 + qatomic_read(&s->bg_running);
    hc_stats st;

    hc_get_stats(s->cache, &st);
    if (st.read_requests + st.write_requests != h->guest_ops) {
        h->guest_ops = st.read_requests + st.write_requests;
        h->busy_ns = now + HC_HOTSET_BUSY_NS;
    }
    return qatomic_read(&bs->in_flight) > own || now < h->busy_ns;
}

/*
 * Prefetch @n runs from @runs with one read of the child:
 * a plan per run (the miss path's fill, for the background), and one
 * vector of their reserved slots, with the scratch buffer for the gaps
 * between the runs and for blocks that are cached already or got no slot.
 */
static void coroutine_fn GRAPH_RDLOCK
hypercache_hotset_fetch(BlockDriverState *bs, const hc_hotset_run *runs,
                        size_t n)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;
    int64_t end_of_child = bs->total_sectors * BDRV_SECTOR_SIZE;
    uint64_t bsz = s->cfg.block_size;
    uint64_t start = runs[0].offset;
    uint64_t len = runs[n - 1].offset + runs[n - 1].len - start;
    uint64_t pos = start, loaded = 0, skipped = 0, reserved = 0;
    g_autofree hc_read_plan **plans = g_new0(hc_read_plan *, n);
    QEMUIOVector qiov;
    int64_t child_len;
    size_t i, k;
    int ret = 0;

    qemu_iovec_init(&qiov, 2 * n + 1);
    for (i = 0; i < n; i++) {
        hc_prefetch_info info;

        if (runs[i].offset > pos) {
            qemu_iovec_add(&qiov, h->scratch, runs[i].offset - pos);
        }
        pos = runs[i].offset + runs[i].len;
        if (hc_prefetch_begin(s->cache, runs[i].offset, runs[i].len,
                              &plans[i], &info) < 0) {
            plans[i] = NULL;
            skipped += runs[i].len / bsz;
            qemu_iovec_add(&qiov, h->scratch, runs[i].len);
            continue;
        }
        skipped += info.cached + info.refused;
        reserved += info.reserved;
        if (info.cached) {
            /* The guest read these first: it reads the hot set. */
            h->useful_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) +
                           HC_HOTSET_USEFUL_NS;
        }
        if (info.full) {
            h->full = true;
        }
        for (k = 0; k < hc_read_plan_count(plans[i]); k++) {
            const hc_read_seg *seg = hc_read_plan_seg(plans[i], k);
            int j;

            if (!seg->fill_iov) {
                qemu_iovec_add(&qiov, h->scratch, seg->len);
                continue;
            }
            for (j = 0; j < seg->fill_iovcnt; j++) {
                qemu_iovec_add(&qiov, seg->fill_iov[j].iov_base,
                               seg->fill_iov[j].iov_len);
            }
        }
    }

    if (reserved) {
        child_len = MIN((int64_t)len, end_of_child - (int64_t)start);
        child_len = MAX(child_len, 0);
        if (child_len < (int64_t)len) {
            /* The tail of a last, partial block reads as zeroes. */
            qemu_iovec_memset(&qiov, child_len, 0, len - child_len);
        }
        /* blkdebug can suspend or fail prefetch reads on this event. */
        BLKDBG_CO_EVENT(bs->file, BLKDBG_READ_AIO);
        ret = child_len ? bdrv_co_preadv(bs->file, start, child_len, &qiov,
                                         0) : 0;
        trace_hypercache_hotset_read(bs, start, len, ret);
    }
    for (i = 0; i < n; i++) {
        if (!plans[i]) {
            continue;
        }
        for (k = 0; k < hc_read_plan_count(plans[i]); k++) {
            const hc_read_seg *seg = hc_read_plan_seg(plans[i], k);
            uint64_t got;

            if (!seg->fill_iov) {
                continue;
            }
            if (ret < 0) {
                hc_read_failed(s->cache, plans[i], k, ret);
                skipped += seg->len / bsz;
                continue;
            }
            got = hc_prefetch_fill_done(s->cache, plans[i], k);
            loaded += got;
            skipped += seg->len / bsz - got;
        }
        hc_read_end(s->cache, plans[i]);
    }
    qemu_iovec_destroy(&qiov);
    qatomic_add(&h->loaded, loaded);
    qatomic_add(&h->skipped, skipped);
}

/* One read beside the loader (entered directly, same AioContext). */
static void coroutine_fn hypercache_hotset_req_entry(void *opaque)
{
    HypercacheHotsetReq req = *(HypercacheHotsetReq *)opaque;
    BDRVHypercacheState *s = req.bs->opaque;
    HypercacheHotset *h = s->hotset;
    int64_t t0 = qemu_clock_get_ns(QEMU_CLOCK_REALTIME), t1;

    if (req.n == 1 && req.yield) {
        req.runs = &req.piece;  /* the copy on this stack */
    }
    bdrv_graph_co_rdlock();
    hypercache_hotset_fetch(req.bs, req.runs, req.n);
    bdrv_graph_co_rdunlock();
    t1 = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    if (req.yield) {
        h->next_ns = MAX(h->next_ns, t1 + HC_HOTSET_YIELD * (t1 - t0));
    }

    h->in_flight--;
    if (h->waiter) {
        Coroutine *co = h->waiter;

        h->waiter = NULL;
        aio_co_wake(co);
    }
}

static void coroutine_fn hypercache_hotset_wait(HypercacheHotset *h,
                                                unsigned max)
{
    while (h->in_flight > max) {
        h->waiter = qemu_coroutine_self();
        qemu_coroutine_yield();
    }
}

/*
 * How many runs from @first on one read takes: neighbours at most
 * HC_HOTSET_GAP_BYTES apart while the gaps read in vain stay below twice
 * the blocks wanted (a dense hot set becomes long reads, a sparse one is
 * not read in bulk), up to HC_HOTSET_READ_BYTES and _BLOCKS.
 */
static size_t hypercache_hotset_group(HypercacheHotset *h, size_t first,
                                      uint64_t bsz)
{
    const hc_hotset_run *r = h->batch;
    uint64_t start = r[first].offset;
    uint64_t wanted = r[first].len, gaps = 0;
    size_t i = first + 1;

    while (i < h->batch_n) {
        uint64_t gap = r[i].offset - (r[i - 1].offset + r[i - 1].len);
        uint64_t span = r[i].offset + r[i].len - start;

        if (gap > HC_HOTSET_GAP_BYTES || gaps + gap > 2 * (wanted + r[i].len) ||
            span > HC_HOTSET_READ_BYTES || span / bsz > HC_HOTSET_READ_BLOCKS) {
            break;
        }
        gaps += gap;
        wanted += r[i].len;
        i++;
    }
    return i - first;
}

/*
 * The loader: hands the next batch's merged reads to coroutines of their
 * own, hottest batch first, until the set is done or the cache full, or
 * until it must stop for now (drain, inactivation, lost exclusivity).
 */
static void coroutine_fn hypercache_hotset_loader(void *opaque)
{
    BlockDriverState *bs = opaque;
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;
    uint64_t bsz = s->cfg.block_size;
    uint32_t max_run = MIN(HC_HOTSET_READ_BYTES / bsz, HC_HOTSET_READ_BLOCKS);
    bool finished = false;

    bdrv_graph_co_rdlock();
    if (!h->scratch) {
        h->scratch = qemu_blockalign(bs->file->bs, HC_HOTSET_READ_BYTES);
    }
    while (hypercache_hotset_may_run(bs)) {
        int64_t now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
        /* Whether to leave the disk to the guest. */
        bool yield = hypercache_hotset_guest_busy(bs, now) &&
                     now >= h->useful_ns;
        unsigned depth = yield ? 1 : HC_HOTSET_DEPTH;
        HypercacheHotsetReq req;
        uint64_t bytes;

        if (h->full) {
            finished = true;
            break;
        }
        if (h->in_flight >= depth) {
            hypercache_hotset_wait(h, depth - 1);
            continue;   /* look at drain and the guest again */
        }
        if (now < h->next_ns) {
            qemu_co_sleep_ns(QEMU_CLOCK_REALTIME,
                             MIN(h->next_ns - now, HC_HOTSET_NAP_NS));
            continue;
        }
        if (h->batch_i == h->batch_n) {
            /* The reads of the last batch must not see its runs change. */
            hypercache_hotset_wait(h, 0);
            qatomic_set(&h->batch_start, h->pos);
            h->batch_n = hc_hotset_next_batch(h->set, &h->pos, h->batch_size,
                                              MAX(max_run, 1), h->batch);
            h->batch_i = 0;
            h->batch_size = MIN(h->batch_size * HC_HOTSET_BATCH_GROWTH,
                                HC_HOTSET_BATCH_MAX);
            if (!h->batch_n) {
                finished = true;
                break;
            }
            continue;
        }
        req = (HypercacheHotsetReq) { .bs = bs, .yield = yield };
        if (yield) {
            /* The head of the next run; its tail stays for later. */
            hc_hotset_run *run = &h->batch[h->batch_i];

            req.piece = (hc_hotset_run) {
                .offset = run->offset,
                .len = MIN(run->len, MAX(HC_HOTSET_YIELD_BYTES, bsz)),
            };
            req.runs = &req.piece;
            req.n = 1;
            run->offset += req.piece.len;
            run->len -= req.piece.len;
            if (!run->len) {
                h->batch_i++;
            }
            bytes = req.piece.len;
        } else {
            req.runs = h->batch + h->batch_i;
            req.n = hypercache_hotset_group(h, h->batch_i, bsz);
            h->batch_i += req.n;
            bytes = req.runs[req.n - 1].offset + req.runs[req.n - 1].len -
                    req.runs[0].offset;
        }
        if (h->load_rate) {
            h->next_ns = now + ratelimit_calculate_delay(&h->limit, bytes);
        }
        h->in_flight++;
        qemu_coroutine_enter(qemu_coroutine_create(hypercache_hotset_req_entry,
                                                   &req));
    }
    hypercache_hotset_wait(h, 0);
    /*
     * Only what this loader saw itself ends the load: a load started by
     * QMP while it was on its way out has a status of RUNNING again, and
     * must not be marked done for the old load's full cache (a cache that
     * filled up during the last reads is seen by the next loader).
     */
    if (finished &&
        qatomic_read(&h->status) == HYPERCACHE_HOTSET_STATUS_RUNNING) {
        /* What was not loaded by now never will be: skipped. */
        qatomic_set(&h->skipped, h->wanted - qatomic_read(&h->loaded));
        qatomic_set(&h->status, HYPERCACHE_HOTSET_STATUS_DONE);
    }
    trace_hypercache_hotset_pause(bs, qatomic_read(&h->loaded),
                                  qatomic_read(&h->skipped), finished);
    bdrv_graph_co_rdunlock();

    qatomic_set(&h->running, false);
    bdrv_dec_in_flight(bs);
}

/* Start the loader unless it runs already or may not run now. */
static void hypercache_hotset_kick(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;
    Coroutine *co;

    if (!h || !hypercache_hotset_may_run(bs) ||
        qatomic_xchg(&h->running, true)) {
        return;
    }
    bdrv_inc_in_flight(bs);
    co = qemu_coroutine_create(hypercache_hotset_loader, bs);
    aio_co_enter(bdrv_get_aio_context(bs), co);
}

/*
 * Stop a load for good and wait until the loader has returned (main loop).
 * Guest I/O goes on: this waits only for the loader's own reads.  A tick
 * may still start a loader afterwards, which returns at once, touching
 * nothing, as long as the status is not running.
 */
static void hypercache_hotset_halt(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;

    GLOBAL_STATE_CODE();
    if (qatomic_read(&h->status) == HYPERCACHE_HOTSET_STATUS_RUNNING) {
        qatomic_set(&h->status, HYPERCACHE_HOTSET_STATUS_STOPPED);
    }
    /* bdrv_dec_in_flight() after the flag drops kicks this wait. */
    AIO_WAIT_WHILE_UNLOCKED(NULL, qatomic_read(&h->running));
}

/*
 * Make @hs (checked for this node) the load, replacing any other, which
 * the caller has halted (or the node is being opened or activated, when
 * no load runs).  Takes ownership of @hs.
 */
static void hypercache_hotset_start(BlockDriverState *bs, hc_hotset *hs,
                                    const char *filename, uint64_t rate)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;
    hc_stats st;

    hc_hotset_free(h->set);
    g_free(h->source);
    g_free(h->batch);
    h->set = hs;
    h->batch = g_new(hc_hotset_run, MAX(MIN(hc_hotset_count(hs),
                                            HC_HOTSET_BATCH_MAX), 1));
    h->batch_size = HC_HOTSET_BATCH_FIRST;
    h->source = g_strdup(filename);
    h->wanted = hc_hotset_count(hs);
    qatomic_set(&h->loaded, 0);
    qatomic_set(&h->skipped, 0);
    h->pos = 0;
    qatomic_set(&h->batch_start, 0);
    h->batch_n = h->batch_i = 0;
    h->full = false;
    h->load_rate = rate;
    h->next_ns = 0;
    h->useful_ns = 0;
    /* Requests before the load are no sign of a busy guest. */
    hc_get_stats(s->cache, &st);
    h->guest_ops = st.read_requests + st.write_requests;
    h->busy_ns = 0;
    ratelimit_set_speed(&h->limit, rate, 100 * SCALE_MS);
    trace_hypercache_hotset_load(bs, filename, h->wanted);
    /* Last, with release: a loader may start from now on. */
    qatomic_store_release(&h->status, HYPERCACHE_HOTSET_STATUS_RUNNING);
}

/* The hotset-file at open or activation: warn about a bad one, only. */
static void GRAPH_RDLOCK hypercache_hotset_load_option(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;
    Error *local_err = NULL;
    hc_hotset *hs;
    int ret;

    ret = hypercache_hotset_read_file(bs, h->file, &hs, &local_err);
    if (ret == -ENOENT) {
        /* The first start: nothing saved yet. */
        error_free(local_err);
        return;
    }
    if (ret < 0) {
        warn_reportf_err(local_err, "hypercache: node '%s' starts cold: ",
                         bdrv_get_node_name(bs));
        return;
    }
    hypercache_hotset_start(bs, hs, h->file, h->rate);
}

static HypercacheHotsetLoad *hypercache_hotset_progress(HypercacheHotset *h,
                                                        BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotsetLoad *p = g_new0(HypercacheHotsetLoad, 1);
    int status = qatomic_read(&h->status);

    if (status == HYPERCACHE_HOTSET_STATUS_RUNNING &&
        !qatomic_read(&h->running) &&
        (qatomic_read(&s->quiesce) || s->inactive ||
         !qatomic_read(&s->exclusive))) {
        status = HYPERCACHE_HOTSET_STATUS_PAUSED;
    }
    p->filename = g_strdup(h->source);
    p->status = status;
    p->wanted = h->wanted;
    p->loaded = qatomic_read(&h->loaded);
    p->skipped = qatomic_read(&h->skipped);
    return p;
}

/* --------------------------------------------------------------- hooks */

bool hypercache_hotset_open(BlockDriverState *bs, QDict *options,
                            Error **errp)
{
    BDRVHypercacheState *s = bs->opaque;
    QemuOpts *opts = qemu_opts_create(&hypercache_hotset_opts, NULL, 0,
                                      &error_abort);
    HypercacheHotset *h;
    const char *file;
    bool ok = false;

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        goto out;
    }
    file = qemu_opt_get(opts, HC_OPT_HOTSET_FILE);
    if (file && !*file) {
        error_setg(errp, "Option '%s' must name a file", HC_OPT_HOTSET_FILE);
        goto out;
    }
    h = g_new0(HypercacheHotset, 1);
    h->file = g_strdup(file);
    h->rate = qemu_opt_get_size(opts, HC_OPT_HOTSET_RATE, 0);
    h->status = -1;
    ratelimit_init(&h->limit);
    s->hotset = h;
    if (h->file && !s->inactive) {
        hypercache_hotset_load_option(bs);
    }
    ok = true;
out:
    qemu_opts_del(opts);
    return ok;
}

void hypercache_hotset_close(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;
    Error *local_err = NULL;
    hc_hotset *hs = NULL;
    uint64_t bytes;

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    if (!h) {
        return;
    }
    /* bdrv_close() drained the node: the loader is not running. */
    assert(!qatomic_read(&h->running));
    /*
     * What the node holds now, or else what it held when it last stopped
     * caching.  An inactive node has nothing to save (its hot set was
     * saved when it was inactivated), and an empty set must not overwrite
     * one saved before.
     */
    if (h->file && !s->inactive) {
        hs = hypercache_hotset_collect(bs);
        if (hs && hc_hotset_count(hs) == 0 && h->last) {
            hc_hotset_free(hs);
            hs = g_steal_pointer(&h->last);
        }
    }
    if (hs && hc_hotset_count(hs) > 0 &&
        !hypercache_hotset_write(bs, hs, h->file, &bytes, &local_err)) {
        warn_reportf_err(local_err, "hypercache: node '%s': ",
                         bdrv_get_node_name(bs));
    }
    hc_hotset_free(hs);
    hc_hotset_free(h->last);
    hc_hotset_free(h->set);
    g_free(h->source);
    g_free(h->batch);
    qemu_vfree(h->scratch);
    g_free(h->file);
    ratelimit_destroy(&h->limit);
    g_free(h);
    s->hotset = NULL;
}

void hypercache_hotset_remember(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;
    hc_hotset *hs;

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    if (!h || !h->file || s->inactive) {
        return;
    }
    hs = hypercache_hotset_collect(bs);
    if (hs && hc_hotset_count(hs) > 0) {
        hc_hotset_free(h->last);
        h->last = hs;
    } else {
        hc_hotset_free(hs);
    }
}

void hypercache_hotset_inactivate(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;
    Error *local_err = NULL;
    uint64_t blocks, bytes;

    if (!h) {
        return;
    }
    hypercache_hotset_halt(bs);
    if (h->file &&
        !hypercache_hotset_save(bs, h->file, &blocks, &bytes, &local_err)) {
        /* The destination starts cold; the migration goes on. */
        warn_reportf_err(local_err, "hypercache: node '%s': ",
                         bdrv_get_node_name(bs));
    }
}

void hypercache_hotset_activate(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;

    if (h && h->file) {
        hypercache_hotset_load_option(bs);
    }
}

void hypercache_hotset_tick(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;

    if (h && qatomic_read(&h->status) == HYPERCACHE_HOTSET_STATUS_RUNNING &&
        !qatomic_read(&h->running)) {
        hypercache_hotset_kick(bs);
    }
}

const char *hypercache_hotset_file(BlockDriverState *bs)
{
    BDRVHypercacheState *s = bs->opaque;

    return s->hotset ? s->hotset->file : NULL;
}

void hypercache_hotset_fill_info(BlockDriverState *bs, HypercacheInfo *info)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;

    if (h && qatomic_read(&h->status) >= 0) {
        info->hotset_load = hypercache_hotset_progress(h, bs);
    }
}

/* ----------------------------------------------------------------- QMP */

HypercacheHotsetSaved *qmp_x_hypercache_save_hotset(const char *node_name,
                                                    const char *filename,
                                                    Error **errp)
{
    HypercacheHotsetSaved *ret;
    BlockDriverState *bs;
    BDRVHypercacheState *s;
    uint64_t blocks, bytes;

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    bs = hypercache_find(node_name, errp);
    if (!bs) {
        return NULL;
    }
    s = bs->opaque;
    if (s->inactive || bdrv_is_inactive(bs)) {
        error_setg(errp, "Node '%s' is inactive (migrated away): it caches "
                   "nothing; its hot set was saved when it was inactivated, "
                   "if it has a hotset-file", node_name);
        return NULL;
    }
    if (!hypercache_hotset_save(bs, filename, &blocks, &bytes, errp)) {
        return NULL;
    }
    ret = g_new0(HypercacheHotsetSaved, 1);
    ret->blocks = blocks;
    ret->bytes = bytes;
    return ret;
}

static HypercacheHotsetLoad * GRAPH_RDLOCK
hypercache_hotset_qmp_load(BlockDriverState *bs, const char *filename,
                           bool has_rate, uint64_t rate, Error **errp)
{
    BDRVHypercacheState *s = bs->opaque;
    HypercacheHotset *h = s->hotset;
    hc_hotset *hs;

    if (s->inactive || bdrv_is_inactive(bs)) {
        error_setg(errp, "Node '%s' is inactive (migrated away): it caches "
                   "nothing", bdrv_get_node_name(bs));
        return NULL;
    }
    if (hypercache_hotset_read_file(bs, filename, &hs, errp) < 0) {
        return NULL;
    }
    /* This one replaces a load that has not finished. */
    hypercache_hotset_halt(bs);
    hypercache_hotset_start(bs, hs, filename, has_rate ? rate : h->rate);
    return hypercache_hotset_progress(h, bs);
}

HypercacheHotsetLoad *qmp_x_hypercache_load_hotset(const char *node_name,
                                                   const char *filename,
                                                   bool has_rate,
                                                   uint64_t rate,
                                                   Error **errp)
{
    HypercacheHotsetLoad *ret;
    BlockDriverState *bs;

    bdrv_graph_rdlock_main_loop();
    bs = hypercache_find(node_name, errp);
    ret = bs ? hypercache_hotset_qmp_load(bs, filename, has_rate, rate,
                                          errp) : NULL;
    bdrv_graph_rdunlock_main_loop();
    if (ret) {
        hypercache_hotset_kick(bs);
    }
    return ret;
}
