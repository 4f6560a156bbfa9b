/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * test-hypercache-mq --bench: IOPS of 1 and N iothreads (QD per iothread)
 * over null-co, through hypercache and without it, medians of several
 * runs; tests/bench/mq.sh turns the JSON into docs/bench/mq-scaling.*.
 *
 *   test-hypercache-mq --bench [--secs S] [--reps N] [--threads N]
 *                      [--qd N] [--workload NAME] [--json FILE]
 */

#include "qemu/osdep.h"
#include "block/block.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-block-core.h"
#include "qobject/qdict.h"
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

int hypercache_mq_bench(int argc, char **argv)
{
    BenchOpts bo = { .secs = 2, .reps = 5, .threads = 2, .qd = 16 };

    if (!parse_bench(argc, argv, &bo)) {
        fprintf(stderr, "usage: %s --bench [--secs S] [--reps N] "
                "[--threads N] [--qd N] [--workload NAME] "
                "[--json FILE]\n", argv[0]);
        return 2;
    }
    return bench_main(&bo);
}
