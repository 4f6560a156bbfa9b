// SPDX-License-Identifier: GPL-2.0-or-later
//
// Microbenchmarks of the core: lookup (hit planning), hit copy, admission
// (miss + fill with eviction), absorbed writes and write-back planning, on
// 1 and 2 threads; miss + fill + eviction per missed block at several
// request sizes, and write-back planning with many extents in flight.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "block/hypercache-core.h"

namespace {

constexpr uint64_t kBS = 4096;
constexpr uint64_t kBlocks = 16384;  // 64 MiB cache

hc_cache *g_cache;

hc_cache *make(hc_policy pol, uint64_t blocks) {
    hc_config cfg;
    hc_config_default(&cfg);
    cfg.size = blocks * kBS;
    cfg.policy = pol;
    cfg.seq_cutoff = 0;
    char err[128];
    return hc_create(&cfg, err, sizeof(err));
}

void warm(hc_cache *c, uint64_t blocks) {
    static uint8_t buf[kBS];
    for (int r = 0; r < 3; r++) {
        for (uint64_t b = 0; b < blocks; b++) {
            hc_read_plan *p;
            hc_read_begin(c, b * kBS, kBS, &p);
            if (!hc_read_plan_seg(p, 0)->hit) {
                hc_read_fill(c, p, 0, buf);
            }
            hc_read_end(c, p);
        }
    }
}

void setup_hits(const benchmark::State &st) {
    g_cache = make(hc_policy(st.range(0)), kBlocks);
    warm(g_cache, kBlocks / 2);
}

void teardown(const benchmark::State &) {
    hc_destroy(g_cache);
}

// Plan + unpin of a 4 KiB read that hits: the lookup path.
void BM_Lookup(benchmark::State &st) {
    std::mt19937_64 rng(st.thread_index());
    for (auto _ : st) {
        hc_read_plan *p;
        hc_read_begin(g_cache, (rng() % (kBlocks / 2)) * kBS, kBS, &p);
        benchmark::DoNotOptimize(hc_read_plan_seg(p, 0)->hit);
        hc_read_end(g_cache, p);
    }
    st.SetItemsProcessed(st.iterations());
}

// A full 4 KiB hit, data copied out like the glue does.
void BM_HitCopy(benchmark::State &st) {
    std::mt19937_64 rng(st.thread_index());
    std::vector<uint8_t> out(kBS);
    for (auto _ : st) {
        hc_read_plan *p;
        hc_read_begin(g_cache, (rng() % (kBlocks / 2)) * kBS, kBS, &p);
        memcpy(out.data(), hc_read_plan_seg(p, 0)->hit, kBS);
        hc_read_end(g_cache, p);
        benchmark::ClobberMemory();
    }
    st.SetBytesProcessed(int64_t(st.iterations() * kBS));
}

// Misses over a working set 8x the cache: plan, fill (admission, eviction).
void BM_Admission(benchmark::State &st) {
    std::mt19937_64 rng(st.thread_index());
    static uint8_t buf[kBS];
    for (auto _ : st) {
        hc_read_plan *p;
        hc_read_begin(g_cache, (rng() % (8 * kBlocks)) * kBS, kBS, &p);
        if (!hc_read_plan_seg(p, 0)->hit) {
            hc_read_fill(g_cache, p, 0, buf);
        }
        hc_read_end(g_cache, p);
    }
    st.SetItemsProcessed(st.iterations());
}

// A cache of @blocks, full of blocks no request below asks for again.
hc_cache *make_full(uint64_t blocks, uint64_t *next_block) {
    hc_cache *c = make(HC_POLICY_FREQ, blocks);
    static uint8_t buf[kBS];
    for (uint64_t b = 0; b < blocks; b++) {
        hc_read_plan *p;
        hc_read_begin(c, b * kBS, kBS, &p);
        hc_read_fill(c, p, 0, buf);
        hc_read_end(c, p);
    }
    *next_block = blocks;
    return c;
}

// Core CPU per missed block, old path: plan a read of range(0) blocks that
// all miss (in a cache of range(1) blocks), offer the child's data (a bounce
// buffer the core copies into its slots), end.  The cache is full, so every
// admitted block evicts one. The child read itself is not part of it. Addresses
// only move forward (64x the cache before they wrap), so nothing is ever hit.
void BM_MissFillCopy(benchmark::State &st) {
    uint64_t n = uint64_t(st.range(0)), blocks = uint64_t(st.range(1)), next;
    hc_cache *c = make_full(blocks, &next);
    std::vector<uint8_t> child(n * kBS, 7);
    for (auto _ : st) {
        hc_read_plan *p;
        hc_read_begin(c, next * kBS, n * kBS, &p);
        for (size_t i = 0; i < hc_read_plan_count(p); i++) {
            const hc_read_seg *s = hc_read_plan_seg(p, i);
            hc_read_fill(c, p, i, child.data() + (s->offset - next * kBS));
        }
        hc_read_end(c, p);
        next = next + n < 64 * blocks ? next + n : blocks;
    }
    st.counters["ns_per_block"] = benchmark::Counter(
        double(st.iterations() * n),
        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    hc_stats s;
    hc_get_stats(c, &s);
    if (s.evictions < st.iterations() * n) {
        st.SkipWithError("a fill did not evict");
    }
    hc_destroy(c);
}

// The same, new path: the child's data goes straight into the slots the
// plan reserved (fill_iov); the core only publishes them.  What the
// caller copies out afterwards is the glue's copy, not the core's.
void BM_MissFillDirect(benchmark::State &st) {
    uint64_t n = uint64_t(st.range(0)), blocks = uint64_t(st.range(1)), next;
    hc_cache *c = make_full(blocks, &next);
    for (auto _ : st) {
        hc_read_plan *p;
        hc_read_begin(c, next * kBS, n * kBS, &p);
        for (size_t i = 0; i < hc_read_plan_count(p); i++) {
            const hc_read_seg *s = hc_read_plan_seg(p, i);
            benchmark::DoNotOptimize(s->fill_iov);
            hc_read_fill_done(c, p, i);
        }
        hc_read_end(c, p);
        next = next + n < 64 * blocks ? next + n : blocks;
    }
    st.counters["ns_per_block"] = benchmark::Counter(
        double(st.iterations() * n),
        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    hc_stats s;
    hc_get_stats(c, &s);
    if (s.evictions < st.iterations() * n) {
        st.SkipWithError("a fill did not evict");
    }
    hc_destroy(c);
}

// 4 KiB writes absorbed into WB, each thread in its own range (so they are
// rewrites of dirty blocks once warm): the write path's lock hold time.
void BM_WriteAbsorb(benchmark::State &st) {
    std::mt19937_64 rng(st.thread_index());
    std::vector<uint8_t> data(kBS, uint8_t(st.thread_index()));
    iovec iov{data.data(), kBS};
    uint64_t base = uint64_t(st.thread_index()) * (kBlocks / 8);
    for (auto _ : st) {
        uint64_t b = base + rng() % (kBlocks / 8);
        hc_write_ticket *t = nullptr;
        int r = hc_write_begin(g_cache, b * kBS, kBS, &iov, 1, 0, 0, &t);
        if (r != HC_WRITE_DONE) {
            st.SkipWithError("write not absorbed");
            break;
        }
    }
    st.SetItemsProcessed(st.iterations());
}

// Absorb 256 scattered 4 KiB writes, then plan their write-back (merged
// extents), complete it: time per block.
void BM_WritebackPlan(benchmark::State &st) {
    hc_cache *c = make(HC_POLICY_FREQ, kBlocks);
    std::vector<uint8_t> data(kBS, 1);
    iovec iov{data.data(), kBS};
    std::mt19937_64 rng(1);
    for (auto _ : st) {
        st.PauseTiming();
        for (int i = 0; i < 256; i++) {
            hc_write_ticket *t;
            hc_write_begin(c, (rng() % 1024) * kBS, kBS, &iov, 1, 0, 0, &t);
        }
        st.ResumeTiming();
        hc_extent *e;
        uint64_t seq = hc_dirty_seq(c);
        while (hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e) == 1) {
            hc_writeback_done(c, e, 0);
        }
    }
    hc_destroy(c);
}

// Write-back with 16 extents in flight, completed in random order, as the
// glue's flush and background writer do: hc_writeback_next + done per
// extent of 4 blocks.  1024 extents are dirtied untimed before each round.
void BM_WritebackInFlight(benchmark::State &st) {
    constexpr int kExtents = 1024, kDepth = 16, kLen = 4;
    hc_cache *c = make(HC_POLICY_FREQ, kBlocks);
    std::vector<uint8_t> data(kLen * kBS, 1);
    iovec iov{data.data(), data.size()};
    std::mt19937_64 rng(1);
    std::vector<hc_extent *> out;
    int64_t extents = 0;
    for (auto _ : st) {
        st.PauseTiming();
        for (int i = 0; i < kExtents; i++) {
            // Gaps of one block keep the extents apart.
            hc_write_ticket *t;
            hc_write_begin(c, uint64_t(i) * (kLen + 1) * kBS, kLen * kBS, &iov,
                           1, 0, 0, &t);
        }
        st.ResumeTiming();
        uint64_t seq = hc_dirty_seq(c);
        for (;;) {
            hc_extent *e;
            while (out.size() < kDepth &&
                   hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e) == 1) {
                out.push_back(e);
            }
            if (out.empty()) {
                break;
            }
            size_t k = rng() % out.size();
            hc_writeback_done(c, out[k], 0);
            out[k] = out.back();
            out.pop_back();
            extents++;
        }
        if (hc_dirty_pending(c, seq) != 0) {
            st.SkipWithError("flush left dirty blocks");
            break;
        }
    }
    st.counters["ns_per_extent"] =
        benchmark::Counter(double(extents), benchmark::Counter::kIsRate |
                                                benchmark::Counter::kInvert);
    hc_destroy(c);
}

// One cache shared by one thread, then by two.
void shared_cache(benchmark::internal::Benchmark *b) {
    b->Setup(setup_hits)
        ->Teardown(teardown)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
}

}  // namespace

BENCHMARK(BM_Lookup)
    ->Arg(HC_POLICY_FREQ)
    ->Arg(HC_POLICY_LRU)
    ->Apply(shared_cache);
BENCHMARK(BM_HitCopy)->Arg(HC_POLICY_FREQ)->Apply(shared_cache);
BENCHMARK(BM_Admission)
    ->Arg(HC_POLICY_FREQ)
    ->Arg(HC_POLICY_LRU)
    ->Apply(shared_cache);
BENCHMARK(BM_WriteAbsorb)->Arg(HC_POLICY_FREQ)->Apply(shared_cache);
BENCHMARK(BM_WritebackPlan);
// 64 MiB at 1, 16 and 256 blocks per request; 256 MiB, whose metadata no
// longer fits a 2 MiB L2 cache, at 16.
void miss_sizes(benchmark::internal::Benchmark *b) {
    b->Args({1, kBlocks})
        ->Args({16, kBlocks})
        ->Args({256, kBlocks})
        ->Args({16, 4 * kBlocks});
}
BENCHMARK(BM_MissFillCopy)->Apply(miss_sizes);
BENCHMARK(BM_MissFillDirect)->Apply(miss_sizes);
BENCHMARK(BM_WritebackInFlight);
BENCHMARK_MAIN();
