/*
 * hypercache core: the C API of the QEMU-independent caching library
 *
 * Copyright (c) 2026 The hypercache authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The core makes every caching decision and owns all cache memory; it does
 * no I/O itself.  Callers (QEMU's block/hypercache.c, hypercache-sim, the
 * unit tests and fuzzers) ask it for plans, perform the I/O, and report back.
 *
 * Names follow Kim et al., "I/O access frequency-aware cache method on
 * KVM/QEMU" (Cluster Computing 20(3), 2017): one tmaster (master table) per
 * cache points at tindx (block index) and tbuf (the HB and WB buffers).
 *
 * Rules of this API:
 *  - Plain C, <stdint.h> types, opaque handles, no exception ever crosses it.
 *  - Functions returning int return 0 (or a documented positive value) on
 *    success and a negative errno on failure.
 *  - All functions are thread safe: several iothreads may call into one
 *    cache at once.  No function blocks for long or waits for I/O; where the
 *    caller must wait (a block is being written back), -EAGAIN is returned
 *    and the caller retries after the next hc_writeback_done() or
 *    hc_write_end().
 *  - Offsets and lengths are bytes.  Plans only ever contain whole blocks;
 *    hc_write_begin() and hc_invalidate() accept partial blocks.
 */
#ifndef HYPERCACHE_CORE_H
#define HYPERCACHE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hc_cache hc_cache;           /* the tmaster */
typedef struct hc_read_plan hc_read_plan;
typedef struct hc_write_ticket hc_write_ticket;
typedef struct hc_extent hc_extent;

typedef enum hc_mode {
    HC_MODE_WRITEBACK = 0,    /* writes absorbed by WB, written back later */
    HC_MODE_WRITETHROUGH,     /* writes go to the child and update the cache */
    HC_MODE_WRITEAROUND,      /* writes go to the child and invalidate */
    HC_MODE_NONE,             /* pass-through: nothing is cached */
    HC_MODE__MAX,
} hc_mode;

typedef enum hc_policy {
    HC_POLICY_FREQ = 0,       /* default: frequency-aware admission+eviction */
    HC_POLICY_LRU,
    HC_POLICY_S3FIFO,
    HC_POLICY__MAX,
} hc_policy;

typedef struct hc_config {
    uint64_t size;              /* cache memory, bytes (HB + WB together);
                                 * metadata comes on top (hc_stats) */
    uint32_t block_size;        /* power of two, 512 .. 65536 */
    uint32_t buf_align;         /* buffer alignment, power of two >= 512 */
    hc_mode mode;
    hc_policy policy;
    uint32_t admit_threshold;   /* accesses before a read miss enters HB; 1 =
                                 * admit always (1 .. 15).  Applies to
                                 * HC_POLICY_FREQ; LRU and S3FIFO are kept
                                 * textbook and admit every miss */
    uint32_t dirty_high_pct;    /* background write-back starts above this
                                 * share of size, 1 .. 100 */
    uint32_t dirty_low_pct;     /* ... and stops below this, < high */
    uint32_t dirty_max_pct;     /* writes wait (-ENOSPC) above this, >= high */
    uint64_t max_dirty_age_ns;  /* write back dirty data older than this;
                                 * 0 = no age limit */
    uint64_t max_merge;         /* largest merged write-back extent, bytes */
    uint64_t seq_cutoff;        /* sequential streams longer than this bypass
                                 * the cache; 0 = never bypass */
    uint32_t shards;            /* tindx shards, power of two; 0 = automatic */
    bool prealloc;              /* fault in all cache memory at hc_create()
                                 * and when size grows, so that no fill pays
                                 * for a first touch (and a host short of
                                 * memory fails then, not later) */
} hc_config;

/* The defaults, chosen by measurement (docs/design). */
void hc_config_default(hc_config *cfg);

/*
 * Check @cfg.  On error returns -EINVAL and writes a message naming the
 * option (by its QAPI name, e.g. "block-size") and the allowed values.
 */
int hc_config_validate(const hc_config *cfg, char *err, size_t errlen);

/* NULL on error, with a message in @err. Allocates all cache memory. */
hc_cache *hc_create(const hc_config *cfg, char *err, size_t errlen);

/* Frees everything.  Dirty data still present is lost: check hc_stats(). */
void hc_destroy(hc_cache *c);

void hc_get_config(hc_cache *c, hc_config *cfg);

/*
 * Change the mutable options at run time (size, mode, policy thresholds,
 * watermarks, ages, merge and cutoff; not block_size or buf_align).
 * Shrinking evicts clean blocks first; returns -EBUSY with nothing changed
 * if dirty or pinned data (hits and fill_iov slots of reads in flight) does
 * not fit the new size (write back, or let the reads end, then retry).
 */
int hc_reconfigure(hc_cache *c, const hc_config *cfg, char *err,
                   size_t errlen);

/* ---------------------------------------------------------------- reads */

typedef struct hc_read_seg {
    uint64_t offset;
    uint64_t len;
    const void *hit;      /* cached bytes (pinned until hc_read_end), or NULL
                           * for a miss run to read from the child */
    const struct iovec *fill_iov;  /* miss runs the cache admits: private
                           * cache slots to read the child into, aligned to
                           * buf_align or block_size, whichever is smaller;
                           * one iovec per block or fewer where slots are
                           * adjacent (at most 1024), covering [offset,
                           * offset + len) in order; valid until
                           * hc_read_end.  NULL for hits and for miss runs
                           * that are not cached */
    int fill_iovcnt;      /* entries of fill_iov, 0 when NULL */
    bool wait;            /* a miss run that another request is reading
                           * from the child right now (single flight):
                           * do not read it; wait until
                           * hc_read_wait_pending() says false, then read
                           * the range again with a new plan.  Never set
                           * with hit or fill_iov */
} hc_read_seg;

/*
 * Plan a read of [offset, offset + len), expanded to whole blocks.  The plan
 * lists segments in offset order: hits (pinned pointers into HB/WB) and
 * miss runs (contiguous misses merged, at most max_merge bytes and 1024
 * blocks each).
 *
 * For every missed block the cache admits, private slots are reserved now
 * (evicting clean blocks as needed; one tmaster lock hold for the whole
 * request), and a run is either reserved whole (fill_iov set) or not at
 * all: runs are split where reservation stops or starts (a block not
 * admitted, changed since it was looked up, or no evictable slot left).
 * Nothing is reserved for a stream past seq_cutoff, in mode none, or when
 * admission refuses.  A request that hits everywhere takes only its
 * blocks' shard locks, as before.
 *
 * One-copy read of a miss run with fill_iov (the glue's fast path):
 *   1. read the child into fill_iov, every byte of it: zero what lies past
 *      the child's end (a slot holds whatever it held before, possibly
 *      another block's data, until it is written);
 *   2. hc_read_fill_done(), or hc_read_failed() if the read failed;
 *   3. on success copy from fill_iov to the caller's buffer: the slots keep
 *      their bytes until hc_read_end() whatever happens to the blocks
 *      meanwhile.  On failure copy nothing from them;
 *   4. hc_read_end() once every segment is done.
 * Several runs of one plan may be in flight at once and finish in any
 * order; calls on one plan must not overlap (one thread, or a lock).
 * Never read the child into the caller's buffer and copy from there into
 * the cache: the caller may change its buffer meanwhile, and whatever
 * enters the cache is served to every later reader.  A miss run without
 * fill_iov is read from the child as before (into the caller's buffer is
 * fine); nothing of it is cached.
 */
int hc_read_begin(hc_cache *c, uint64_t offset, uint64_t len,
                  hc_read_plan **plan);
size_t hc_read_plan_count(const hc_read_plan *plan);
const hc_read_seg *hc_read_plan_seg(const hc_read_plan *plan, size_t i);

/*
 * Single flight.  A missed block whose child read another plan has out
 * (reserved, neither hc_read_fill_done() nor hc_read_failed() nor
 * hc_read_end() yet), or that entered the cache since this plan looked it
 * up, is neither read nor reserved again: it forms a miss run with @wait
 * set (and neither hit nor fill_iov).  The caller waits, without blocking
 * a thread, until hc_read_wait_pending() returns false (re-check after each
 * hc_read_fill_done(), hc_read_failed() or hc_read_end() of any plan: a
 * caller that waits calls those on the owner's side and then wakes
 * waiters), then reads the run's bytes through a new plan: they are cached
 * now, or (the fill failed, was refused because a write overtook it, or
 * was evicted again) read as any miss, so a waiter sees the newest data
 * and a failed fill's error comes from its own child read, never stale
 * slot bytes.  A plan's own runs never wait for each other, and fills
 * never wait for anything, so reading one's own runs before or while
 * waiting cannot deadlock.  Callers that ignore @wait and read the child
 * into their own buffer stay correct, just without single flight.
 */
bool hc_read_wait_pending(hc_cache *c, const hc_read_plan *plan, size_t i);

/*
 * The child read of miss run @i into its fill_iov succeeded.  Its blocks
 * enter the cache in one lock hold, each unless it was written,
 * invalidated or written through, or cached by someone else, since
 * hc_read_begin() (generation check: data the child returned before a
 * newer write landed must never be served later).  Either way fill_iov
 * keeps the bytes read, pinned, until hc_read_end(): they are what the
 * disk held when it was read, right for this read even where a write
 * overtook it.  Does nothing for a run without fill_iov, or a second time.
 */
void hc_read_fill_done(hc_cache *c, hc_read_plan *plan, size_t i);

/*
 * The older two-copy path: data for miss run @i read from the child into
 * the caller's own bounce buffer @buf (seg->len bytes).  The core copies it
 * into the run's fill_iov and then acts as hc_read_fill_done().  A run
 * without fill_iov is not cached.  Kept until the glue reads into fill_iov.
 */
void hc_read_fill(hc_cache *c, hc_read_plan *plan, size_t i, const void *buf);

/* The child read of miss run @i failed with @ret: nothing of it enters the
 * cache, its reserved slots are released (by hc_read_end at the latest),
 * the error is counted. */
void hc_read_failed(hc_cache *c, hc_read_plan *plan, size_t i, int ret);

/* Unpin the hits and the filled slots, release reservations that were not
 * published, and free the plan: no pointer from it may be used after. */
void hc_read_end(hc_cache *c, hc_read_plan *plan);

/* --------------------------------------------------------------- writes */

#define HC_WRITE_FUA 0x1u     /* write through to stable storage */
#define HC_WRITE_THROUGH 0x2u /* do not absorb into WB: write to the child
                               * (used when WB cannot make room) */

typedef enum hc_write_action {
    HC_WRITE_DONE = 0,        /* absorbed into WB: acknowledge the guest */
    HC_WRITE_CHILD = 1,       /* write the data to the child, then
                               * hc_write_end() with the result */
} hc_write_action;

/*
 * Begin a guest write of [offset, offset + len) with data in @iov (after
 * skipping @skip bytes).  Returns an hc_write_action (>= 0), or:
 *   -EAGAIN  a block in the range is being written back or written through:
 *            wait for hc_writeback_done()/hc_write_end(), then retry;
 *   -ENOSPC  writeback mode and WB is at dirty_max_pct (or no slot can be
 *            freed): write back, retry.  Part of the range may already
 *            hold the new data then; the write is not acknowledged and the
 *            caller retries it whole.
 * For HC_WRITE_CHILD a ticket is returned and the range stays busy until
 * hc_write_end().  Partial-block writes of blocks not cached, FUA writes,
 * and streams past seq_cutoff take HC_WRITE_CHILD even in writeback mode.
 */
int hc_write_begin(hc_cache *c, uint64_t offset, uint64_t len,
                   const struct iovec *iov, int iovcnt, size_t skip,
                   unsigned flags, hc_write_ticket **ticket);

/* @ret is the child write's result; on failure the cached copy is dropped. */
void hc_write_end(hc_cache *c, hc_write_ticket *ticket, int ret);

/* ----------------------------------------------------------- write-back */

struct hc_extent {
    uint64_t offset;          /* contiguous, block aligned */
    uint64_t len;
    const struct iovec *iov;  /* points into WB: no copy */
    int iovcnt;
};

typedef enum hc_wb_reason {
    HC_WB_FLUSH = 0,          /* everything dirty up to a sequence number */
    HC_WB_WATERMARK,          /* dirty above high watermark, down to low */
    HC_WB_AGE,                /* dirty data older than max_dirty_age */
} hc_wb_reason;

/* The current dirty sequence number: a flush writes back everything
 * dirtied up to it. */
uint64_t hc_dirty_seq(hc_cache *c);

/*
 * Why background write-back should run now at time @now_ns
 * (CLOCK_MONOTONIC), or -1 if it need not.
 */
int hc_writeback_wanted(hc_cache *c, uint64_t now_ns);

/*
 * Hand out the next dirty extent, in offset order, merged up to max_merge.
 * For HC_WB_FLUSH only blocks dirtied at or before @upto_seq are chosen.
 * Returns 1 with *ext set, 0 if nothing (more) is to be written.  The
 * blocks stay busy until hc_writeback_done().
 */
int hc_writeback_next(hc_cache *c, hc_wb_reason why, uint64_t upto_seq,
                      uint64_t now_ns, hc_extent **ext);

/* @ret < 0: the blocks stay dirty and the error is counted. */
void hc_writeback_done(hc_cache *c, hc_extent *ext, int ret);

/* Blocks dirtied at or before @upto_seq that are dirty or being written
 * back: a flush is complete when this reaches 0. */
uint64_t hc_dirty_pending(hc_cache *c, uint64_t upto_seq);

/* ---------------------------------------------------------- invalidation */

#define HC_INV_ZERO 0x1u      /* the range now reads as zeroes: partial
                               * blocks are zeroed in place, not dropped */

/*
 * Drop every block in [offset, offset + len), clean and dirty alike
 * (discard, write-zeroes, truncate).  -EAGAIN if a block in the range is
 * busy.  len == UINT64_MAX means to the end.  Partial blocks: with
 * HC_INV_ZERO zeroed in place; without, dropped if clean and kept if dirty
 * (their other bytes still have to reach the child).
 * Call it before the child operation (so no dirty data of the range can be
 * written back over it) and again after the child operation completed (so a
 * read that raced with it cannot leave a stale copy).
 */
int hc_invalidate(hc_cache *c, uint64_t offset, uint64_t len,
                  unsigned flags);

/* Whether [offset, offset + *pnum) is dirty; *pnum is clamped to where the
 * answer changes (block_status). */
bool hc_range_dirty(hc_cache *c, uint64_t offset, uint64_t len,
                    uint64_t *pnum);

/* ------------------------------------------------------------ statistics */

typedef struct hc_stats {
    uint64_t read_requests, read_bytes;
    uint64_t write_requests, write_bytes;
    uint64_t full_hits, partial_hits, misses;   /* per read request */
    uint64_t hit_blocks, miss_blocks;           /* per block */
    uint64_t admissions, rejections, evictions;
    uint64_t bypassed;                          /* sequential cutoff */
    uint64_t writeback_requests, writeback_bytes;
    uint64_t writeback_blocks_written;          /* guest blocks absorbed */
    uint64_t writeback_errors, write_errors, read_errors;
    uint64_t dirty_bytes;
    uint64_t hb_bytes, wb_bytes;                /* occupancy */
    uint64_t capacity_bytes;
    uint64_t metadata_bytes;                    /* tindx + policy state */
    uint64_t cached_blocks;
    uint64_t fill_waits;        /* missed blocks that waited for another
                                 * request's fill instead of reading */
} hc_stats;

/* A consistent-enough snapshot, taken without stopping I/O. */
void hc_get_stats(hc_cache *c, hc_stats *st);
void hc_reset_stats(hc_cache *c);

/* Miss-ratio-curve estimate (SHARDS): predicted hit ratio at @factor times
 * the current size, or a negative value if not enough data yet. */
double hc_mrc_hit_ratio(hc_cache *c, double factor);

/* Names for modes and policies, as QAPI spells them. */
const char *hc_mode_name(hc_mode m);
const char *hc_policy_name(hc_policy p);


/* ------------------------------------------------------------- hot sets */

/*
 * A warm cache after a restart or a migration (block/hypercache/hotset.h):
 * what was hot is saved as a list of block numbers, hottest first, never
 * the data, in a small versioned, checksummed file that names the image it
 * belongs to; a load prefetches those blocks from the child in the
 * background.  A hot set applied to the wrong disk only costs reads: the
 * data always comes from the child, through the fill generation check.
 */
typedef struct hc_hotset hc_hotset;

typedef struct hc_hotset_run {
    uint64_t offset;          /* bytes, block aligned */
    uint64_t len;
} hc_hotset_run;

/*
 * The cached blocks, most valuable first by the policy's own ranking (lru:
 * most recently used first; s3fifo and freq: the main queue before
 * probation, each by its CLOCK counter and, for freq, the access
 * frequency), at most @max of them (0: all), for an image of @image_size
 * bytes named @identity.  Blocks of @rest from index @rest_from on (a load
 * that has not finished yet; may be NULL) follow, those not listed
 * already, up to @max.  NULL if memory ran out.
 */
hc_hotset *hc_hotset_collect(hc_cache *c, uint64_t max, const hc_hotset *rest,
                             uint64_t rest_from, uint64_t image_size,
                             const char *identity);

/* An empty hot set, for callers that build their own (tests, simulators). */
hc_hotset *hc_hotset_new(uint32_t block_size, uint64_t image_size,
                         const char *identity);
int hc_hotset_add(hc_hotset *hs, uint64_t block);   /* appends, coldest */
void hc_hotset_free(hc_hotset *hs);
uint64_t hc_hotset_count(const hc_hotset *hs);
/* Block @i of the list (0 is the hottest), UINT64_MAX past its end. */
uint64_t hc_hotset_block(const hc_hotset *hs, uint64_t i);
uint32_t hc_hotset_block_size(const hc_hotset *hs);

/* The file's bytes in *@buf (from malloc(); free() them), or -ENOMEM. */
int hc_hotset_encode(const hc_hotset *hs, void **buf, size_t *len);

/*
 * Parse a file's bytes, keeping at most @max_blocks of the hottest blocks;
 * everything is checked all the same.  Bound @max_blocks (by the cache's
 * capacity, say): a valid file of a few bytes may list 2^32 blocks.  -EINVAL with a
 * message naming the failed check: "not a hot-set file", "truncated",
 * "unsupported version", "checksum mismatch", "corrupt header",
 * "corrupt body"; -ENOMEM.
 */
int hc_hotset_parse(const void *buf, size_t len, uint64_t max_blocks,
                    hc_hotset **out, char *err, size_t errlen);

/*
 * Whether @hs belongs to a node with @block_size over an image of
 * @image_size bytes named @identity: -EINVAL with "wrong block size" or
 * "other disk" (identity or image size) in @err.
 */
int hc_hotset_check(const hc_hotset *hs, uint32_t block_size,
                    uint64_t image_size, const char *identity, char *err,
                    size_t errlen);

/*
 * Load order: the next @max_blocks blocks of the list from *@pos (hottest
 * first), sorted, without duplicates and merged into runs of contiguous
 * blocks of at most @max_run_blocks, written to @runs (room for
 * @max_blocks); *@pos advances.  Returns the number of runs, 0 at the end.
 */
size_t hc_hotset_next_batch(const hc_hotset *hs, uint64_t *pos,
                            uint32_t max_blocks, uint32_t max_run_blocks,
                            hc_hotset_run *runs);

typedef struct hc_prefetch_info {
    uint64_t cached;          /* blocks cached already: nothing to read */
    uint64_t reserved;        /* blocks given a free slot: read them */
    uint64_t refused;         /* no free slot, being written, or mode none */
    bool full;                /* the cache had no free slot left */
} hc_prefetch_info;

/*
 * Plan a prefetch of [offset, offset + len), at most 1024 blocks: a read
 * plan as hc_read_begin() makes one, for the background.  Blocks without a
 * cached copy get a free slot (never by eviction) and form miss runs with
 * fill_iov; cached blocks and those without a slot form miss runs without
 * fill_iov, which the caller skips.  No statistics, no policy hit, no
 * frequency count.  Read each run with fill_iov from the child, then
 * hc_prefetch_fill_done() (or hc_read_failed()), and hc_read_end() at the
 * end, as for a read.
 */
int hc_prefetch_begin(hc_cache *c, uint64_t offset, uint64_t len,
                      hc_read_plan **plan, hc_prefetch_info *info);

/*
 * Run @i was read: publish its blocks as hc_read_fill_done() does (each
 * unless written, invalidated, written through or cached by someone else
 * since the plan), kept by the policy behind the blocks already cached.
 * Returns how many entered the cache.
 */
uint64_t hc_prefetch_fill_done(hc_cache *c, hc_read_plan *plan, size_t i);

/* ---------------------------------------------------------------- pools */

/*
 * A pool divides one memory budget among several caches (members), to
 * maximise weighted hits: each rebalance reads every member's
 * miss-ratio curve (hc_mrc_hit_ratio) and its block accesses since the
 * last rebalance, and moves memory to where it gains the most weighted
 * hits (lookahead greedy over the curves, block/hypercache/partition.h).
 * Members keep their own index and policy; the pool only sets their size
 * through hc_reconfigure().  The pool does not own its members: remove a
 * cache before destroying it.  Calls on one pool are serialised by the
 * pool; call them from one control thread (they resize caches).
 */
typedef struct hc_pool hc_pool;

typedef struct hc_pool_member {
    double weight;            /* hits of this member count this much (> 0) */
    uint64_t reserve;         /* bytes no other member can take away */
    uint64_t limit;           /* bytes it may hold at most; 0 = no limit */
} hc_pool_member;

/* NULL with a message in @err if @size is unusable. */
hc_pool *hc_pool_create(uint64_t size, char *err, size_t errlen);
void hc_pool_destroy(hc_pool *p);

/*
 * Add @c and split the pool equally again (within reserves and limits).
 * -EINVAL with a message naming the value if the weight is not positive,
 * the limit is below the reserve, @c is a member already, or the reserves
 * (at least 8 blocks each) no longer fit the pool's size.
 */
int hc_pool_add(hc_pool *p, hc_cache *c, const hc_pool_member *m, char *err,
                size_t errlen);
int hc_pool_remove(hc_pool *p, hc_cache *c);   /* -ENOENT if not a member */
/* New weight, reserve and limit for member @c; effective at the next
 * rebalance.  Errors as hc_pool_add(). */
int hc_pool_set_member(hc_pool *p, hc_cache *c, const hc_pool_member *m,
                       char *err, size_t errlen);
/* New pool size, effective at the next rebalance; -EINVAL if the reserves
 * do not fit it. */
int hc_pool_set_size(hc_pool *p, uint64_t size, char *err, size_t errlen);

/*
 * Divide the pool anew and resize the members: shrinks first, then grows
 * within what they freed, so the members never hold more than the pool's
 * size together (unless a shrink is pending).  Returns the number of
 * members that could not shrink yet because their dirty or in-use data
 * does not fit their new share (write back, then rebalance again: dirty
 * data is never dropped; it shrinks as far as its dirty data allows
 * meanwhile), or -ENOMEM.  A member without enough accesses for a curve
 * keeps its share; one without any access since the last rebalance gains
 * nothing from memory and falls to its reserve.
 */
int hc_pool_rebalance(hc_pool *p);

#ifdef __cplusplus
}
#endif

#endif /* HYPERCACHE_CORE_H */
