/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * What the multiqueue stress test (test-hypercache-mq.c) and benchmark
 * (hypercache-mq-bench.c) share: a BlockBackend used from several
 * iothreads, waiting for coroutines spread over them, and a small random
 * number generator.
 */

#ifndef TESTS_UNIT_HYPERCACHE_MQ_H
#define TESTS_UNIT_HYPERCACHE_MQ_H

#include "qemu/timer.h"
#include "system/block-backend.h"

#define MAX_THREADS     8
#define HC_NODE         "hc-mq"

static inline uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t rng_next(uint64_t *s)
{
    *s = mix64(*s);
    return *s;
}

static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return rng_next(s) % n;
}

static inline int64_t now_ns(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
}

/*
 * A BlockBackend that takes over the reference to @bs and lives in @ctx,
 * as virtio-blk's does: the node in the first vq's iothread, requests
 * from all of them.
 */
BlockBackend *blk_for(BlockDriverState *bs, AioContext *ctx);

/* Count a coroutine out; the main loop waits for them all. */
void worker_done(int *running);
void wait_workers(int *running);

/* test-hypercache-mq --bench [...]: returns the exit status. */
int hypercache_mq_bench(int argc, char **argv);

#endif
