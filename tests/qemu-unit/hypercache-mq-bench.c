/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * test-hypercache-mq --bench: IOPS of 1 and N iothreads (QD per iothread)
 * over null-co, through hypercache and without it, medians of several
 * runs; tests/bench/mq.sh turns the JSON into docs/bench/mq-scaling.*.
 *
 *   test-hypercache-mq --bench [--secs S] [--reps N] [--threads N]
 *                      [--qd N] [--workload NAME] [--json FILE]
 *
 * With --file PATH it runs the file workloads instead (W2 and W3 without
 * NBD in between, tests/bench/w2mq.sh): 4 KiB random reads, zipf or
 * uniform, from one iothread over an O_DIRECT file, hypercache over the
 * file against the file alone and against null-co, in turns.
 *
 *   test-hypercache-mq --bench --file PATH [--cache-size SIZE]
 *                      [--footprint SIZE] [--theta T] [--warm S]
 *                      [--aio MODE] [--secs S] [--reps N] [--qd N]
 *                      [--workload zipf-read|uniform-read] [--json FILE]
 *
 * --rbd CONF:POOL/IMAGE takes a Ceph RBD image (librbd's cache off) as the
 * child instead of a file, with --footprint as the bytes to read; the
 * "file" rows are then the bare rbd image.
 */

#include "qemu/osdep.h"
#include <math.h>
#include <sys/resource.h>
#include "block/block.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-block-core.h"
#include "qobject/qdict.h"
#include "qemu/cutils.h"
#include "qemu/main-loop.h"
#include "qemu/memalign.h"
#include "iothread.h"
#include "hypercache-mq.h"

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
    /* File workloads */
    const char *file;       /* NULL: the null-co workloads above */
    const char *cache_size;
    uint64_t footprint;     /* 0: the whole file */
    double theta;
    double warm;
    const char *aio;
    /* --rbd CONF:POOL/IMAGE: the child is an rbd image, not o->file */
    char *rbd_conf;
    char *rbd_pool;
    char *rbd_image;
} BenchOpts;

/*
 * 32 MiB hot set, cached in 128 MiB: reads hit, writes stay below WB's
 * watermarks.
 */
#define BENCH_HOT       (32 * 1024 * 1024)
#define BENCH_BS        4096

typedef struct Zipf Zipf;
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
    /* Blocks to pick from: 0 is the hot set; zipf-distributed if set */
    uint64_t nblocks;
    const Zipf *zipf;
    int64_t deadline;
    int running;
    int errors;
};

static uint64_t zipf_block(const Zipf *z, uint64_t *rng);

static void coroutine_fn bench_job(void *opaque)
{
    BenchJob *j = opaque;
    BenchRun *r = j->run;
    uint64_t nblocks = r->nblocks ?: BENCH_HOT / BENCH_BS;
    int ret;

    while (now_ns() < r->deadline) {
        int64_t off = BENCH_BS * (r->zipf ? zipf_block(r->zipf, &j->rng) :
                                  rng_below(&j->rng, nblocks));
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

/* User + system time of the whole process, iothreads included. */
static double cpu_secs(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
        (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * Runs @r (blk, wl and the block choice filled in) for @secs with o->qd
 * coroutines per iothread; returns IOPS, and the process's CPU time per
 * request in *cpu_us if that is not NULL.
 */
static double bench_run_for(const BenchOpts *o, BenchRun *r, double secs,
                            AioContext **ctx, int nthreads, double *cpu_us)
{
    int njobs = nthreads * o->qd;
    BenchJob *jobs = g_new0(BenchJob, njobs);
    int64_t start, end;
    double cpu0;
    uint64_t ops = 0;
    int i;

    r->running = njobs;
    r->errors = 0;
    for (i = 0; i < njobs; i++) {
        jobs[i].run = r;
        jobs[i].rng = mix64(now_ns() ^ i);
        jobs[i].buf = blk_blockalign(r->blk, BENCH_BS);
        memset(jobs[i].buf, 0x5a, BENCH_BS);
    }
    cpu0 = cpu_secs();
    start = now_ns();
    r->deadline = start + (int64_t)(secs * NANOSECONDS_PER_SECOND);
    for (i = 0; i < njobs; i++) {
        aio_co_enter(ctx[i % nthreads],
                     qemu_coroutine_create(bench_job, &jobs[i]));
    }
    wait_workers(&r->running);
    end = now_ns();
    if (r->errors) {
        fprintf(stderr, "bench: %d I/O errors\n", r->errors);
        exit(1);
    }
    for (i = 0; i < njobs; i++) {
        ops += jobs[i].ops;
        qemu_vfree(jobs[i].buf);
    }
    g_free(jobs);
    if (cpu_us) {
        *cpu_us = ops ? (cpu_secs() - cpu0) / ops * 1e6 : 0;
    }
    return ops / ((double)(end - start) / NANOSECONDS_PER_SECOND);
}

static double bench_run(const BenchOpts *o, BlockBackend *blk, Workload wl,
                        AioContext **ctx, int nthreads)
{
    BenchRun r = { .blk = blk, .wl = wl };

    return bench_run_for(o, &r, o->secs, ctx, nthreads, NULL);
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

/* ------------------------------------------- file workloads (W2, W3) */

typedef enum {
    FWL_ZIPF, FWL_UNIFORM, FWL__MAX,
} FileWorkload;

static const char *const fwl_names[] = { "zipf-read", "uniform-read" };

typedef enum {
    FB_HC, FB_FILE, FB_NULL, FB__MAX,
} FileBackend;

static const char *const fb_names[] = { "hypercache", "file", "null-co" };

/*
 * Zipf(theta) over @n blocks by inverse transform: rank k (0 the hottest)
 * has weight 1 / (k + 1)^theta; cdf[k] is the probability of a rank <= k.
 * Ranks are spread over the blocks by multiplying with a constant prime to
 * @n, so that the hot blocks are not neighbours.
 */
struct Zipf {
    double *cdf;
    uint64_t n;
    uint64_t spread;
};

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;

        a = b;
        b = t;
    }
    return a;
}

static void zipf_init(Zipf *z, uint64_t n, double theta)
{
    double sum = 0;
    uint64_t k;

    z->cdf = g_new(double, n);
    z->n = n;
    for (k = 0; k < n; k++) {
        sum += pow(k + 1, -theta);
        z->cdf[k] = sum;
    }
    for (k = 0; k < n; k++) {
        z->cdf[k] /= sum;
    }
    z->spread = 0x9e3779b9u % n;
    while (z->spread < 2 || gcd64(z->spread, n) != 1) {
        z->spread++;
    }
}

/* The hit ratio of a cache that kept exactly the @blocks hottest blocks. */
static double zipf_ideal(const Zipf *z, uint64_t blocks)
{
    return blocks >= z->n ? 1.0 : z->cdf[blocks - 1];
}

static uint64_t zipf_block(const Zipf *z, uint64_t *rng)
{
    double u = (rng_next(rng) >> 11) / (double)(1ull << 53);
    uint64_t lo = 0, hi = z->n - 1;

    /* The first rank whose cdf is above u */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;

        if (z->cdf[mid] > u) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return (uint64_t)(((unsigned __int128)lo * z->spread) % z->n);
}

static BlockDriverState *file_open_bs(const BenchOpts *o, FileBackend be,
                                      const char *aio, uint64_t size,
                                      Error **errp)
{
    QDict *opts = qdict_new();
    const char *pfx = be == FB_HC ? "file." : "";
    char key[32];

    if (be == FB_NULL) {
        qdict_put_str(opts, "driver", "null-co");
        qdict_put_int(opts, "size", size);
        qdict_put_str(opts, "read-zeroes", "off");
        return bdrv_open(NULL, NULL, opts, BDRV_O_RDWR, errp);
    }
    if (be == FB_HC) {
        qdict_put_str(opts, "driver", "hypercache");
        qdict_put_str(opts, "node-name", HC_NODE);
        qdict_put_str(opts, "size", o->cache_size);
    }
    if (o->rbd_image) {
        snprintf(key, sizeof(key), "%sdriver", pfx);
        qdict_put_str(opts, key, "rbd");
        snprintf(key, sizeof(key), "%sconf", pfx);
        qdict_put_str(opts, key, o->rbd_conf);
        snprintf(key, sizeof(key), "%spool", pfx);
        qdict_put_str(opts, key, o->rbd_pool);
        snprintf(key, sizeof(key), "%simage", pfx);
        qdict_put_str(opts, key, o->rbd_image);
        /* QEMU turns librbd's cache off for cache.direct=on. */
        snprintf(key, sizeof(key), "%scache.direct", pfx);
        qdict_put_str(opts, key, "on");
        return bdrv_open(NULL, NULL, opts, BDRV_O_RDWR, errp);
    }
    snprintf(key, sizeof(key), "%sdriver", pfx);
    qdict_put_str(opts, key, "file");
    snprintf(key, sizeof(key), "%sfilename", pfx);
    qdict_put_str(opts, key, o->file);
    snprintf(key, sizeof(key), "%scache.direct", pfx);
    qdict_put_str(opts, key, "on");
    snprintf(key, sizeof(key), "%saio", pfx);
    qdict_put_str(opts, key, aio);
    /* The bare file and hypercache's child are the same file, both open. */
    snprintf(key, sizeof(key), "%slocking", pfx);
    qdict_put_str(opts, key, "off");
    return bdrv_open(NULL, NULL, opts, BDRV_O_RDWR, errp);
}

/* o->aio if this kernel takes it, else native, else threads. */
static BlockBackend *file_open(const BenchOpts *o, FileBackend be,
                               uint64_t size, AioContext *ctx,
                               const char **aio)
{
    const char *modes[] = { *aio, "native", "threads" };
    BlockDriverState *bs = NULL;
    int i;

    for (i = 0; i < ARRAY_SIZE(modes) && !bs; i++) {
        Error *err = NULL;

        bs = file_open_bs(o, be, modes[i], size, &err);
        if (!bs) {
            fprintf(stderr, "bench: %s with aio=%s: %s\n", fb_names[be],
                    modes[i], error_get_pretty(err));
            error_free(err);
        } else {
            *aio = modes[i];
        }
    }
    if (!bs) {
        exit(1);
    }
    return blk_for(bs, ctx);
}

typedef struct FileResult {
    bool done;
    double *iops[FB__MAX];
    double *cpu_us[FB__MAX];
    double *hit_ratio;
    double *child_reads;    /* missed blocks per second through hypercache */
} FileResult;

static void hc_stats(double *hit_ratio, uint64_t *miss_blocks)
{
    HypercacheInfoList *info = qmp_x_hypercache_query(HC_NODE,
                                                      &error_abort);

    *hit_ratio = info->value->stats->hit_ratio;
    *miss_blocks = info->value->stats->miss_blocks;
    qapi_free_HypercacheInfoList(info);
}

static void file_print(const BenchOpts *o, const FileResult *res,
                       const Zipf *z, uint64_t cache_bytes)
{
    int wl, be;

    printf("\nfile workloads: 4 KiB random reads, 1 iothread, QD %d, %.1f s "
           "per run, median of %d runs, %d CPUs, footprint %" PRIu64
           " MiB, cache %s\n", o->qd, o->secs, o->reps,
           (int)sysconf(_SC_NPROCESSORS_ONLN), o->footprint >> 20,
           o->cache_size);
    printf("zipf(%.2f): a cache holding exactly the hottest blocks would "
           "hit %.3f\n\n", o->theta, zipf_ideal(z, cache_bytes / BENCH_BS));
    printf("%-13s %-11s %12s %9s %9s %8s\n", "workload", "backend", "IOPS",
           "CPU us/IO", "hit", "/file");
    for (wl = 0; wl < FWL__MAX; wl++) {
        double file_iops;

        if (!res[wl].done) {
            continue;
        }
        file_iops = median(res[wl].iops[FB_FILE], o->reps);
        for (be = 0; be < FB__MAX; be++) {
            double m = median(res[wl].iops[be], o->reps);

            printf("%-13s %-11s %12.0f %9.2f ", fwl_names[wl], fb_names[be],
                   m, median(res[wl].cpu_us[be], o->reps));
            if (be == FB_HC) {
                printf("%9.3f", median(res[wl].hit_ratio, o->reps));
            } else {
                printf("%9s", "-");
            }
            printf(" %7.2fx\n", m / file_iops);
        }
    }
}

static void json_array(FILE *f, const char *name, const double *v, int n)
{
    int i;

    fprintf(f, ", \"%s\": [", name);
    for (i = 0; i < n; i++) {
        fprintf(f, "%s%.4f", i ? ", " : "", v[i]);
    }
    fprintf(f, "]");
}

static void file_json(const BenchOpts *o, const FileResult *res,
                      const Zipf *z, uint64_t cache_bytes, const char *aio)
{
    FILE *f = fopen(o->json, "w");
    const char *sep = "";
    int wl, be;

    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", o->json, strerror(errno));
        exit(1);
    }
    fprintf(f, "{\n  \"mode\": \"file\", \"secs\": %g, \"reps\": %d, "
            "\"qd\": %d, \"iothreads\": 1,\n  \"cpus\": %d, "
            "\"block_size\": %d, \"file\": \"%s\", \"aio\": \"%s\",\n"
            "  \"footprint_bytes\": %" PRIu64 ", \"cache_size\": \"%s\", "
            "\"cache_bytes\": %" PRIu64 ",\n  \"theta\": %g, "
            "\"warm_secs\": %g, \"zipf_ideal_hit_ratio\": %.4f,\n"
            "  \"results\": [\n", o->secs, o->reps, o->qd,
            (int)sysconf(_SC_NPROCESSORS_ONLN), BENCH_BS, o->file, aio,
            o->footprint, o->cache_size, cache_bytes, o->theta, o->warm,
            zipf_ideal(z, cache_bytes / BENCH_BS));
    for (wl = 0; wl < FWL__MAX; wl++) {
        if (!res[wl].done) {
            continue;
        }
        for (be = 0; be < FB__MAX; be++) {
            fprintf(f, "%s    {\"workload\": \"%s\", \"backend\": \"%s\", "
                    "\"median\": %.0f", sep, fwl_names[wl], fb_names[be],
                    median(res[wl].iops[be], o->reps));
            sep = ",\n";
            json_array(f, "iops", res[wl].iops[be], o->reps);
            json_array(f, "cpu_us_per_io", res[wl].cpu_us[be], o->reps);
            if (be == FB_HC) {
                json_array(f, "hit_ratio", res[wl].hit_ratio, o->reps);
                json_array(f, "child_reads_per_s", res[wl].child_reads,
                           o->reps);
            }
            fprintf(f, "}");
        }
    }
    fprintf(f, "\n  ]\n}\n");
    fclose(f);
}

static int bench_file_main(BenchOpts *o)
{
    IOThread *iothread = iothread_new();
    AioContext *ctx = iothread_get_aio_context(iothread);
    FileResult res[FWL__MAX] = { 0 };
    const char *aio = o->aio;
    uint64_t cache_bytes;
    struct stat st;
    Zipf zipf;
    int wl, be, rep;

    if (o->rbd_image) {
        st.st_size = o->footprint;
    } else if (stat(o->file, &st) < 0) {
        fprintf(stderr, "bench: %s: %s\n", o->file, strerror(errno));
        return 1;
    }
    if (!o->footprint || o->footprint > st.st_size) {
        o->footprint = st.st_size;
    }
    if (o->footprint < 16 * BENCH_BS ||
        qemu_strtosz(o->cache_size, NULL, &cache_bytes) < 0) {
        fprintf(stderr, "bench: footprint or cache size too small\n");
        return 2;
    }
    zipf_init(&zipf, o->footprint / BENCH_BS, o->theta);

    for (wl = 0; wl < FWL__MAX; wl++) {
        BenchRun run = { .wl = WL_READ, .nblocks = o->footprint / BENCH_BS,
                         .zipf = wl == FWL_ZIPF ? &zipf : NULL };
        BlockBackend *blk[FB__MAX];

        if (o->workload && strcmp(o->workload, fwl_names[wl])) {
            continue;
        }
        for (be = 0; be < FB__MAX; be++) {
            blk[be] = file_open(o, be, o->footprint, ctx, &aio);
            res[wl].iops[be] = g_new0(double, o->reps);
            res[wl].cpu_us[be] = g_new0(double, o->reps);
        }
        res[wl].hit_ratio = g_new0(double, o->reps);
        res[wl].child_reads = g_new0(double, o->reps);

        /* Warm: the cache reaches its steady state before it is timed. */
        run.blk = blk[FB_HC];
        bench_run_for(o, &run, o->warm, &ctx, 1, NULL);

        for (rep = 0; rep < o->reps; rep++) {
            for (be = 0; be < FB__MAX; be++) {
                double iops, hit = 0;
                uint64_t missed = 0;
                char note[32] = "";

                if (be == FB_HC) {
                    qmp_x_hypercache_reset_stats(HC_NODE, &error_abort);
                }
                run.blk = blk[be];
                iops = bench_run_for(o, &run, o->secs, &ctx, 1,
                                     &res[wl].cpu_us[be][rep]);
                res[wl].iops[be][rep] = iops;
                if (be == FB_HC) {
                    hc_stats(&hit, &missed);
                    res[wl].hit_ratio[rep] = hit;
                    res[wl].child_reads[rep] = missed / o->secs;
                    snprintf(note, sizeof(note), " hit %.3f", hit);
                }
                fprintf(stderr, "%-13s %-11s rep %d: %10.0f IOPS %6.2f us "
                        "CPU/IO%s\n", fwl_names[wl], fb_names[be], rep + 1,
                        iops, res[wl].cpu_us[be][rep], note);
            }
        }
        res[wl].done = true;
        for (be = 0; be < FB__MAX; be++) {
            blk_set_aio_context(blk[be], qemu_get_aio_context(),
                                &error_abort);
            blk_unref(blk[be]);
        }
    }
    iothread_join(iothread);

    file_print(o, res, &zipf, cache_bytes);
    if (o->json) {
        file_json(o, res, &zipf, cache_bytes, aio);
    }
    return 0;
}

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
        } else if (!strcmp(a, "--file")) {
            o->file = v;
        } else if (!strcmp(a, "--cache-size")) {
            o->cache_size = v;
        } else if (!strcmp(a, "--footprint")) {
            if (qemu_strtosz(v, NULL, &o->footprint) < 0) {
                return false;
            }
        } else if (!strcmp(a, "--theta")) {
            o->theta = g_ascii_strtod(v, NULL);
        } else if (!strcmp(a, "--warm")) {
            o->warm = g_ascii_strtod(v, NULL);
        } else if (!strcmp(a, "--aio")) {
            o->aio = v;
        } else if (!strcmp(a, "--rbd")) {
            const char *colon = strchr(v, ':');
            const char *slash = colon ? strchr(colon, '/') : NULL;

            if (!slash || colon == v || slash == colon + 1 || !slash[1]) {
                fprintf(stderr, "--rbd takes CONF:POOL/IMAGE, not '%s'\n",
                        v);
                return false;
            }
            o->rbd_conf = g_strndup(v, colon - v);
            o->rbd_pool = g_strndup(colon + 1, slash - colon - 1);
            o->rbd_image = g_strdup(slash + 1);
            o->file = v;
        } else {
            return false;
        }
        i++;
    }
    if (!o->qd) {
        /* W7: 16 per iothread; W2 through NBD had 4 jobs x QD 8 */
        o->qd = o->file ? 32 : 16;
    }
    if (o->workload && o->file) {
        for (i = 0; i < FWL__MAX; i++) {
            if (!strcmp(o->workload, fwl_names[i])) {
                break;
            }
        }
        if (i == FWL__MAX) {
            fprintf(stderr, "--workload with --file must be zipf-read or "
                    "uniform-read, not '%s'\n", o->workload);
            return false;
        }
    } else if (o->workload) {
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
    if (o->rbd_image && !o->footprint) {
        fprintf(stderr, "--rbd needs --footprint (the bytes to read)\n");
        return false;
    }
    if (o->file) {
        return o->secs > 0 && o->reps > 0 && o->qd > 0 && o->theta > 0 &&
            o->warm >= 0;
    }
    return o->secs > 0 && o->reps > 0 && o->qd > 0 &&
        o->threads >= 2 && o->threads <= MAX_THREADS;
}

int hypercache_mq_bench(int argc, char **argv)
{
    BenchOpts bo = { .secs = 2, .reps = 5, .threads = 2, .qd = 0,
                     .cache_size = "5M", .theta = 1.2, .warm = 2,
                     .aio = "io_uring" };

    if (!parse_bench(argc, argv, &bo)) {
        fprintf(stderr, "usage: %s --bench [--secs S] [--reps N] "
                "[--threads N] [--qd N] [--workload NAME] "
                "[--json FILE]\n"
                "       %s --bench --file PATH [--cache-size SIZE] "
                "[--footprint SIZE] [--theta T] [--warm S] [--aio MODE] "
                "[--secs S] [--reps N] [--qd N] [--workload NAME] "
                "[--json FILE]\n"
                "       %s --bench --rbd CONF:POOL/IMAGE --footprint SIZE "
                "[the --file options]\n", argv[0], argv[0], argv[0]);
        return 2;
    }
    return bo.file ? bench_file_main(&bo) : bench_main(&bo);
}
