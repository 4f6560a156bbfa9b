/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Plumbing shared by the multiqueue stress test and benchmark.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "hypercache-mq.h"

BlockBackend *blk_for(BlockDriverState *bs, AioContext *ctx)
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
void worker_done(int *running)
{
    if (qatomic_fetch_dec(running) == 1) {
        aio_bh_schedule_oneshot(qemu_get_aio_context(), wake_main_bh, NULL);
    }
}

void wait_workers(int *running)
{
    while (qatomic_read(running) > 0) {
        aio_poll(qemu_get_aio_context(), true);
    }
}
