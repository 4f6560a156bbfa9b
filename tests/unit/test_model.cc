// SPDX-License-Identifier: GPL-2.0-or-later
//
// Randomized model-based test: the same guest operations go to the cache
// (with a byte-array "child disk" behind it) and to a plain std::map of
// block contents; every read must return what the model says the guest
// last wrote, across write-back (with failures), invalidation, resizing and
// mode and policy switches.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>

#include "helpers.h"

using namespace hctest;

namespace {

constexpr uint64_t kBS = 4096;
constexpr uint64_t kDiskBlocks = 256;

struct Model {
    std::map<uint64_t, std::vector<uint8_t>> blocks;  // absent = zeroes
    void write(uint64_t off, const std::vector<uint8_t> &d) {
        for (uint64_t i = 0; i < d.size(); i++) {
            auto &b = blocks[(off + i) / kBS];
            if (b.empty()) {
                b.assign(kBS, 0);
            }
            b[(off + i) % kBS] = d[i];
        }
    }
    std::vector<uint8_t> read(uint64_t off, uint64_t len) const {
        std::vector<uint8_t> out(len, 0);
        for (uint64_t i = 0; i < len; i++) {
            auto it = blocks.find((off + i) / kBS);
            if (it != blocks.end()) {
                out[i] = it->second[(off + i) % kBS];
            }
        }
        return out;
    }
};

void writeback_some(hc_cache *c, std::vector<uint8_t> &disk,
                    std::mt19937_64 &rng) {
    hc_extent *e;
    std::vector<hc_extent *> out;
    int n = int(rng() % 4);
    while (n-- > 0 && hc_writeback_next(c, HC_WB_WATERMARK, 0, 0, &e) == 1) {
        out.push_back(e);
    }
    for (hc_extent *x : out) {
        if (rng() % 5 == 0) {
            hc_writeback_done(c, x, -EIO);  // stays dirty
            continue;
        }
        uint64_t pos = x->offset;
        for (int i = 0; i < x->iovcnt; i++) {
            memcpy(disk.data() + pos, x->iov[i].iov_base, x->iov[i].iov_len);
            pos += x->iov[i].iov_len;
        }
        hc_writeback_done(c, x, 0);
    }
}

void run_model(uint64_t seed, hc_policy policy) {
    std::mt19937_64 rng(seed);
    hc_cache *c = make_cache(32, HC_MODE_WRITEBACK, policy, [](hc_config *c) {
        c->seq_cutoff = 64 * 1024;
        c->dirty_low_pct = 0;
    });
    std::vector<uint8_t> disk(kDiskBlocks * kBS, 0);
    Model m;
    const hc_mode modes[] = {HC_MODE_WRITEBACK, HC_MODE_WRITETHROUGH,
                             HC_MODE_WRITEAROUND, HC_MODE_NONE};
    auto rand_range = [&](uint64_t *off, uint64_t *len) {
        uint64_t b = rng() % (kDiskBlocks - 8);
        if (rng() % 3 == 0) {
            *off = b * kBS + rng() % kBS;  // unaligned
            *len = 1 + rng() % (3 * kBS);
        } else {
            *off = b * kBS;
            *len = (1 + rng() % 6) * kBS;
        }
    };
    for (int step = 0; step < 4000; step++) {
        uint64_t off, len;
        rand_range(&off, &len);
        int op = int(rng() % 10);
        if (getenv("HC_MODEL_DEBUG")) {
            fprintf(stderr, "step %d op %d %lu+%lu\n", step, op, off, len);
        }
        switch (op) {
            case 0:
            case 1:
            case 2:
            case 3: {
                auto got = read_through(c, disk, off, len);
                auto want = m.read(off, len);
                uint64_t first_bad = 0;
                while (first_bad < len && got[first_bad] == want[first_bad]) {
                    first_bad++;
                }
                ASSERT_EQ(first_bad, len)
                    << "seed " << seed << " step " << step << " read " << off
                    << "+" << len << " first bad byte at " << off + first_bad
                    << " (block " << (off + first_bad) / kBS << ")";
                break;
            }
            case 4:
            case 5:
            case 6: {
                auto d = pattern(len, uint32_t(rng()));
                unsigned flags = rng() % 8 == 0 ? HC_WRITE_FUA : 0;
                int r;
                while ((r = write_to(c, disk, off, d, flags)) < 0) {
                    ASSERT_TRUE(r == -ENOSPC || r == -EAGAIN) << r;
                    flush_all(c, disk);
                }
                m.write(off, d);
                break;
            }
            case 7:
                writeback_some(c, disk, rng);
                break;
            case 8: {
                // write-zeroes: the cache before and after the child.
                bool aligned = rng() % 2;
                if (aligned) {
                    off &= ~(kBS - 1);
                    len = (len + kBS - 1) & ~(kBS - 1);
                }
                int r;
                while ((r = hc_invalidate(c, off, len, HC_INV_ZERO)) ==
                       -EAGAIN) {
                    flush_all(c, disk);
                }
                ASSERT_EQ(r, 0);
                memset(disk.data() + off, 0, len);
                ASSERT_EQ(hc_invalidate(c, off, len, HC_INV_ZERO), 0);
                m.write(off, std::vector<uint8_t>(len, 0));
                break;
            }
            case 9: {
                hc_config cfg;
                hc_get_config(c, &cfg);
                cfg.size = (8 + rng() % 48) * kBS;
                cfg.mode = modes[rng() % 4];
                cfg.policy = hc_policy(rng() % HC_POLICY__MAX);
                char err[256];
                int r = hc_reconfigure(c, &cfg, err, sizeof(err));
                if (r == -EBUSY) {
                    flush_all(c, disk);
                    r = hc_reconfigure(c, &cfg, err, sizeof(err));
                }
                ASSERT_EQ(r, 0) << err;
                hc_stats s;
                hc_get_stats(c, &s);
                ASSERT_LE(s.cached_blocks * kBS, cfg.size);
                break;
            }
        }
    }
    // After a full flush the child alone holds the newest data.
    flush_all(c, disk);
    for (uint64_t b = 0; b < kDiskBlocks; b++) {
        ASSERT_EQ(std::vector<uint8_t>(disk.begin() + b * kBS,
                                       disk.begin() + (b + 1) * kBS),
                  m.read(b * kBS, kBS))
            << "block " << b;
    }
    hc_destroy(c);
}

}  // namespace

TEST(Model, FreqPolicy) {
    for (uint64_t seed = 1; seed <= 6; seed++) {
        run_model(seed, HC_POLICY_FREQ);
    }
}

TEST(Model, LruPolicy) {
    for (uint64_t seed = 100; seed <= 103; seed++) {
        run_model(seed, HC_POLICY_LRU);
    }
}

TEST(Model, S3fifoPolicy) {
    for (uint64_t seed = 200; seed <= 203; seed++) {
        run_model(seed, HC_POLICY_S3FIFO);
    }
}
