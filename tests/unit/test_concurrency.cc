// SPDX-License-Identifier: GPL-2.0-or-later
//
// Several threads hammer overlapping ranges: readers (filling the cache
// through a bounce buffer, or straight into the slots their plans
// reserved), writers (absorbed, FUA or in writethrough mode), a write-back
// thread, hot-set prefetches, zeroing invalidations and resizes.  Every block
// carries (block, version) and a body derived from them, so a reader can tell a
// torn or foreign block from a valid one; each writer also checks it reads back
// its own latest write to the blocks only it writes.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "helpers.h"

namespace {

constexpr uint64_t kBS = 4096;
constexpr uint64_t kBlocks = 128;  // shared blocks; each writer owns 8 more

struct Disk {
    std::mutex mu;
    std::vector<uint8_t> bytes = std::vector<uint8_t>((kBlocks + 64) * kBS, 0);
};

void fill_block(uint8_t *p, uint64_t block, uint64_t version) {
    memcpy(p, &block, 8);
    memcpy(p + 8, &version, 8);
    uint64_t x = block * 0x9e3779b97f4a7c15ULL ^ version;
    for (uint64_t i = 16; i < kBS; i += 8) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        memcpy(p + i, &x, 8);
    }
}

// A valid block is all zeroes (never written / zeroed) or a whole version.
bool valid_block(const uint8_t *p, uint64_t block, uint64_t *version) {
    uint64_t b, v;
    memcpy(&b, p, 8);
    memcpy(&v, p + 8, 8);
    static thread_local std::vector<uint8_t> want(kBS);
    if (b == 0 && v == 0) {
        *version = 0;
        for (uint64_t i = 0; i < kBS; i++) {
            if (p[i]) {
                return false;
            }
        }
        return true;
    }
    fill_block(want.data(), block, v);
    *version = v;
    return b == block && memcmp(want.data(), p, kBS) == 0;
}

// The "child" read of miss run @s into the slots its plan reserved.
void read_child(Disk &d, const hc_read_seg *s) {
    std::lock_guard g(d.mu);
    uint64_t pos = s->offset;
    for (int k = 0; k < s->fill_iovcnt; k++) {
        memcpy(s->fill_iov[k].iov_base, d.bytes.data() + pos,
               s->fill_iov[k].iov_len);
        pos += s->fill_iov[k].iov_len;
    }
}

// With @direct, reserved runs are read from the "child" into their
// fill_iov, published, and copied out from there, as the one-copy glue
// does; other misses go through a bounce buffer and hc_read_fill.
std::vector<uint8_t> read(hc_cache *c, Disk &d, uint64_t off, uint64_t len,
                          bool direct = false) {
    hc_read_plan *p;
    EXPECT_EQ(hc_read_begin(c, off, len, &p), 0);
    std::vector<uint8_t> out(len);
    for (size_t i = 0; i < hc_read_plan_count(p); i++) {
        const hc_read_seg *s = hc_read_plan_seg(p, i);
        if (s->hit) {
            memcpy(out.data() + (s->offset - off), s->hit, s->len);
        } else if (direct && s->fill_iov) {
            read_child(d, s);
            // Give writes a chance to overtake the child read: the fill
            // must then keep its data out of the cache.
            std::this_thread::yield();
            hc_read_fill_done(c, p, i);
            uint64_t pos = s->offset - off;
            for (int k = 0; k < s->fill_iovcnt; k++) {
                memcpy(out.data() + pos, s->fill_iov[k].iov_base,
                       s->fill_iov[k].iov_len);
                pos += s->fill_iov[k].iov_len;
            }
        } else {
            std::vector<uint8_t> buf(s->len);
            {
                std::lock_guard g(d.mu);
                memcpy(buf.data(), d.bytes.data() + s->offset, s->len);
            }
            memcpy(out.data() + (s->offset - off), buf.data(), s->len);
            hc_read_fill(c, p, i, buf.data());
        }
    }
    hc_read_end(c, p);
    return out;
}

void writeback(hc_cache *c, Disk &d, hc_wb_reason why, uint64_t upto) {
    hc_extent *e;
    while (hc_writeback_next(c, why, upto, 0, &e) == 1) {
        {
            std::lock_guard g(d.mu);
            uint64_t pos = e->offset;
            for (int i = 0; i < e->iovcnt; i++) {
                memcpy(d.bytes.data() + pos, e->iov[i].iov_base,
                       e->iov[i].iov_len);
                pos += e->iov[i].iov_len;
            }
        }
        hc_writeback_done(c, e, 0);
    }
}

// A hot-set load's prefetch of [off, off + len): the child is read into
// the reserved slots, and writes get a chance to overtake it before the
// fill is published.  Returns how many blocks entered the cache.
uint64_t prefetch(hc_cache *c, Disk &d, uint64_t off, uint64_t len,
                  std::chrono::microseconds lag) {
    hc_read_plan *p = nullptr;
    hc_prefetch_info info;
    EXPECT_EQ(hc_prefetch_begin(c, off, len, &p, &info), 0);
    uint64_t published = 0;
    for (size_t i = 0; i < hc_read_plan_count(p); i++) {
        const hc_read_seg *s = hc_read_plan_seg(p, i);
        if (!s->fill_iov) {
            continue;
        }
        read_child(d, s);
        std::this_thread::sleep_for(lag);  // a child read takes a while
        published += hc_prefetch_fill_done(c, p, i);
    }
    hc_read_end(c, p);
    return published;
}

int write(hc_cache *c, Disk &d, uint64_t off, const std::vector<uint8_t> &v,
          unsigned flags) {
    iovec iov{const_cast<uint8_t *>(v.data()), v.size()};
    hc_write_ticket *t;
    int r;
    while ((r = hc_write_begin(c, off, v.size(), &iov, 1, 0, flags, &t)) < 0) {
        if (r != -EAGAIN && r != -ENOSPC) {
            return r;
        }
        if (r == -ENOSPC) {
            writeback(c, d, HC_WB_FLUSH, hc_dirty_seq(c));
        }
        std::this_thread::yield();
    }
    if (r == HC_WRITE_CHILD) {
        {
            std::lock_guard g(d.mu);
            memcpy(d.bytes.data() + off, v.data(), v.size());
        }
        hc_write_end(c, t, 0);
    }
    return r;
}

// @fua_pct of the writes are FUA: in writeback mode, write-throughs of
// clean blocks (write-clean.cc, no tmaster mutex) then race with absorbed
// writes, write-back, zeroing and resizes on the same blocks.
void hammer(hc_policy policy, int iters, hc_mode mode = HC_MODE_WRITEBACK,
            unsigned fua_pct = 10) {
    hc_cache *c = hctest::make_cache(48, mode, policy, [](hc_config *cfg) {
        cfg->seq_cutoff = 0;
        cfg->shards = 4;
    });
    Disk disk;
    std::atomic<uint64_t> version{1};
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::atomic<uint64_t> prefetched{0};
    constexpr int kWriters = 3;

    auto check = [&](const std::vector<uint8_t> &v, uint64_t off) {
        for (uint64_t i = 0; i < v.size(); i += kBS) {
            uint64_t ver;
            if (!valid_block(v.data() + i, (off + i) / kBS, &ver)) {
                bad++;
            }
        }
    };
    std::vector<std::thread> th;
    for (int w = 0; w < kWriters; w++) {
        th.emplace_back([&, w] {
            std::mt19937_64 rng(w + 1);
            uint64_t own = kBlocks + 8 * w;
            std::vector<uint64_t> last(8, 0);
            for (int i = 0; i < iters; i++) {
                bool mine = rng() % 3 == 0;
                uint64_t b = mine ? own + rng() % 6 : rng() % (kBlocks - 4);
                uint64_t n = 1 + rng() % (mine ? 2 : 4);
                std::vector<uint8_t> buf(n * kBS);
                std::vector<uint64_t> vers(n);
                for (uint64_t k = 0; k < n; k++) {
                    vers[k] = version++;
                    fill_block(buf.data() + k * kBS, b + k, vers[k]);
                }
                write(c, disk, b * kBS, buf,
                      rng() % 100 < fua_pct ? HC_WRITE_FUA : 0);
                if (mine) {
                    for (uint64_t k = 0; k < n; k++) {
                        last[b + k - own] = vers[k];
                    }
                    auto got = read(c, disk, b * kBS, n * kBS, i % 2);
                    for (uint64_t k = 0; k < n; k++) {
                        uint64_t ver;
                        if (!valid_block(got.data() + k * kBS, b + k, &ver) ||
                            ver != last[b + k - own]) {
                            bad++;
                        }
                    }
                }
            }
        });
    }
    for (int r = 0; r < 2; r++) {
        th.emplace_back([&, r] {  // readers, the second one direct
            std::mt19937_64 rng(99 + r);
            while (!stop) {
                uint64_t b = rng() % (kBlocks + 8 * kWriters - 8);
                uint64_t n = 1 + rng() % 8;
                check(read(c, disk, b * kBS, n * kBS, r == 1), b * kBS);
            }
        });
    }
    th.emplace_back([&] {  // background write-back and occasional flush
        std::mt19937_64 rng(7);
        while (!stop) {
            writeback(c, disk, rng() % 4 ? HC_WB_WATERMARK : HC_WB_FLUSH,
                      hc_dirty_seq(c));
            std::this_thread::yield();
        }
    });
    th.emplace_back([&] {  // a hot-set load over the same blocks
        std::mt19937_64 rng(3);
        while (!stop) {
            // Half of the loads cover the writers' own blocks, where each
            // writer checks that it reads back its latest write.
            uint64_t b = rng() % 2 ? kBlocks + rng() % (8 * kWriters - 8)
                                   : rng() % (kBlocks - 16);
            prefetched += prefetch(c, disk, b * kBS, (1 + rng() % 8) * kBS,
                                   std::chrono::microseconds(rng() % 100));
        }
    });
    th.emplace_back([&] {  // zeroing and resizing
        std::mt19937_64 rng(5);
        while (!stop) {
            uint64_t b = rng() % (kBlocks - 2);
            int r;
            while ((r = hc_invalidate(c, b * kBS, kBS, HC_INV_ZERO)) ==
                   -EAGAIN) {
                std::this_thread::yield();
            }
            {
                std::lock_guard g(disk.mu);
                memset(disk.bytes.data() + b * kBS, 0, kBS);
            }
            while (hc_invalidate(c, b * kBS, kBS, HC_INV_ZERO) == -EAGAIN) {
                std::this_thread::yield();
            }
            hc_config cfg;
            hc_get_config(c, &cfg);
            cfg.size = (24 + rng() % 40) * kBS;
            char err[256];
            hc_reconfigure(c, &cfg, err, sizeof(err));  // -EBUSY is fine
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    });
    for (int w = 0; w < kWriters; w++) {
        th[w].join();
    }
    stop = true;
    for (size_t i = kWriters; i < th.size(); i++) {
        th[i].join();
    }
    writeback(c, disk, HC_WB_FLUSH, hc_dirty_seq(c));
    EXPECT_EQ(hc_dirty_pending(c, hc_dirty_seq(c)), 0u);
    EXPECT_EQ(bad.load(), 0);
    // Prefetch only takes free slots, which zeroing and growing make.
    EXPECT_GT(prefetched.load(), 0u) << "the prefetch thread never filled";
    for (uint64_t b = 0; b < kBlocks + 8 * kWriters; b++) {
        uint64_t ver;
        EXPECT_TRUE(valid_block(disk.bytes.data() + b * kBS, b, &ver)) << b;
        auto got = read(c, disk, b * kBS, kBS);
        EXPECT_EQ(0, memcmp(got.data(), disk.bytes.data() + b * kBS, kBS))
            << "cache and flushed child disagree at block " << b;
    }
    hc_stats s;
    hc_get_stats(c, &s);
    EXPECT_LE(s.cached_blocks, 64u);
    hc_destroy(c);
}

// One thread absorbs whole writes of blocks [0, 8) while another writes one
// of them with FUA, started at a random moment of the first one's work, so
// the write-through fast path claims a clean block somewhere between the
// absorb's checks and its publication.  After each round both are done:
// a flush must leave the child and the cache agreeing on every block.  If
// the absorb published over a block claimed by the write-through, the
// write-through's completion would mark the absorbed data clean and it
// would never reach the child.
void through_races_absorb(int rounds) {
    constexpr uint64_t kN = 8;
    hc_cache *c = hctest::make_cache(64, HC_MODE_WRITEBACK, HC_POLICY_FREQ,
                                     [](hc_config *cfg) {
                                         cfg->seq_cutoff = 0;
                                         cfg->admit_threshold = 1;
                                     });
    Disk disk;
    std::atomic<int> go{0}, done{0};
    std::atomic<uint32_t> delay{0};
    uint64_t version = 1;
    std::thread fua([&] {
        std::vector<uint8_t> buf(kBS);
        for (int r = 1; r <= rounds; r++) {
            while (go.load() < r) {
                std::this_thread::yield();
            }
            for (uint32_t i = delay.load(); i > 0; i--) {
                __asm__ volatile("" ::: "memory");
            }
            uint64_t b = uint64_t(r) % kN;
            fill_block(buf.data(), b, 1'000'000'000ULL + uint64_t(r));
            write(c, disk, b * kBS, buf, HC_WRITE_FUA);
            done.store(r);
        }
    });
    std::mt19937_64 rng(11);
    std::vector<uint8_t> buf(kN * kBS);
    int bad = 0;
    for (int r = 1; r <= rounds && bad == 0; r++) {
        for (uint64_t k = 0; k < kN; k++) {
            fill_block(buf.data() + k * kBS, k, version++);
        }
        delay.store(uint32_t(rng() % 4000));
        go.store(r);
        write(c, disk, 0, buf, 0);
        while (done.load() < r) {
            std::this_thread::yield();
        }
        writeback(c, disk, HC_WB_FLUSH, hc_dirty_seq(c));
        auto got = read(c, disk, 0, kN * kBS);
        std::lock_guard g(disk.mu);
        for (uint64_t k = 0; k < kN; k++) {
            if (memcmp(got.data() + k * kBS, disk.bytes.data() + k * kBS,
                       kBS) != 0) {
                ADD_FAILURE() << "round " << r << ": block " << k
                              << " differs between cache and child";
                bad++;
            }
        }
    }
    if (bad) {
        go.store(rounds);  // release the other thread
    }
    fua.join();
    hc_destroy(c);
}

}  // namespace

TEST(Concurrency, ThroughRacesAbsorb) {
    through_races_absorb(5000);
}
TEST(Concurrency, FreqHammer) {
    hammer(HC_POLICY_FREQ, 3000);
}
TEST(Concurrency, LruHammer) {
    hammer(HC_POLICY_LRU, 2000);
}
TEST(Concurrency, S3fifoHammer) {
    hammer(HC_POLICY_S3FIFO, 2000);
}
TEST(Concurrency, HalfFuaHammer) {
    hammer(HC_POLICY_FREQ, 3000, HC_MODE_WRITEBACK, 50);
}
TEST(Concurrency, WritethroughHammer) {
    hammer(HC_POLICY_FREQ, 3000, HC_MODE_WRITETHROUGH, 0);
}
// Writes go to the child and drop cached copies: only the fills'
// generation check keeps a reader's older child data out of the cache.
TEST(Concurrency, WritearoundHammer) {
    hammer(HC_POLICY_FREQ, 3000, HC_MODE_WRITEAROUND, 0);
}
