// SPDX-License-Identifier: GPL-2.0-or-later
//
// Randomized model-based test: the same guest operations go to the cache
// (with a byte-array "child disk" behind it) and to a plain std::map of
// block contents; every read must return what the model says the guest
// last wrote, across write-back (with failures), invalidation, resizing and
// mode and policy switches.  Up to three direct-fill reads are outstanding
// at any time, each stage of them (child read into fill_iov,
// hc_read_fill_done or hc_read_failed, hc_read_end) a step of its own
// between the others; what they pinned must not change under them.
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

// A direct-fill read in flight: per segment, what it has done so far and
// the bytes it holds (hits from the start, reserved runs once read).
struct DirectRead {
    enum Stage { kUnread, kRead, kDone, kFailed };
    hc_read_plan *plan;
    std::vector<Stage> stage;
    std::vector<std::vector<uint8_t>> bytes;
};

const hc_read_seg *seg_of(const DirectRead &r, size_t i) {
    return hc_read_plan_seg(r.plan, i);
}

std::vector<uint8_t> held(const hc_read_seg *s) {
    std::vector<uint8_t> v;
    if (s->hit) {
        auto *h = static_cast<const uint8_t *>(s->hit);
        v.assign(h, h + s->len);
    }
    for (int k = 0; k < s->fill_iovcnt; k++) {
        auto *b = static_cast<const uint8_t *>(s->fill_iov[k].iov_base);
        v.insert(v.end(), b, b + s->fill_iov[k].iov_len);
    }
    return v;
}

DirectRead direct_begin(hc_cache *c, const Model &m, uint64_t off,
                        uint64_t len) {
    DirectRead r{nullptr, {}, {}};
    EXPECT_EQ(hc_read_begin(c, off, len, &r.plan), 0);
    for (size_t i = 0; i < hc_read_plan_count(r.plan); i++) {
        const hc_read_seg *s = seg_of(r, i);
        r.stage.push_back(DirectRead::kUnread);
        r.bytes.emplace_back();
        if (s->hit) {
            // Pinned hits hold the newest data at the time of the plan.
            r.bytes.back() = held(s);
            EXPECT_EQ(r.bytes.back(), m.read(s->offset, s->len))
                << "hit at " << s->offset;
        }
    }
    return r;
}

// One stage of one reserved run: the child read, then fill_done (or, one
// time in four, a failure).
void direct_step(hc_cache *c, const std::vector<uint8_t> &disk, DirectRead &r,
                 std::mt19937_64 &rng) {
    std::vector<size_t> runs;
    for (size_t i = 0; i < r.stage.size(); i++) {
        if (seg_of(r, i)->fill_iov && r.stage[i] <= DirectRead::kRead) {
            runs.push_back(i);
        }
    }
    if (runs.empty()) {
        return;
    }
    size_t i = runs[rng() % runs.size()];
    const hc_read_seg *s = seg_of(r, i);
    if (r.stage[i] == DirectRead::kUnread && rng() % 5 == 0) {
        hc_read_failed(c, r.plan, i, -EIO);  // before any byte arrived
        r.stage[i] = DirectRead::kFailed;
    } else if (r.stage[i] == DirectRead::kUnread) {
        uint64_t pos = s->offset;
        for (int k = 0; k < s->fill_iovcnt; k++) {
            memcpy(s->fill_iov[k].iov_base, disk.data() + pos,
                   s->fill_iov[k].iov_len);
            pos += s->fill_iov[k].iov_len;
        }
        r.bytes[i] = held(s);
        r.stage[i] = DirectRead::kRead;
    } else if (rng() % 4 == 0) {
        hc_read_failed(c, r.plan, i, -EIO);
        r.stage[i] = DirectRead::kFailed;
    } else {
        hc_read_fill_done(c, r.plan, i);
        r.stage[i] = DirectRead::kDone;
    }
}

// What the read holds has not changed since it got it, whatever ran in
// between; then the plan ends.
void direct_end(hc_cache *c, DirectRead &r) {
    for (size_t i = 0; i < r.stage.size(); i++) {
        const hc_read_seg *s = seg_of(r, i);
        if (s->hit || r.stage[i] == DirectRead::kRead ||
            r.stage[i] == DirectRead::kDone) {
            EXPECT_EQ(held(s), r.bytes[i])
                << "pinned bytes changed at " << s->offset;
        }
    }
    hc_read_end(c, r.plan);
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
    std::vector<DirectRead> direct;
    auto end_all = [&] {
        for (DirectRead &r : direct) {
            direct_end(c, r);
        }
        direct.clear();
    };
    for (int step = 0; step < 4000; step++) {
        uint64_t off, len;
        rand_range(&off, &len);
        int op = int(rng() % 13);
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
                for (int tries = 0; (r = write_to(c, disk, off, d, flags)) < 0;
                     tries++) {
                    ASSERT_TRUE(r == -ENOSPC || r == -EAGAIN) << r;
                    flush_all(c, disk);
                    if (tries > 0) {
                        end_all();  // reads in flight pin the free slots
                    }
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
                if (r == -EBUSY && !direct.empty()) {
                    end_all();  // pinned slots in the tail
                    r = hc_reconfigure(c, &cfg, err, sizeof(err));
                }
                ASSERT_EQ(r, 0) << err;
                hc_stats s;
                hc_get_stats(c, &s);
                ASSERT_LE(s.cached_blocks * kBS, cfg.size);
                break;
            }
            case 10:
                if (direct.size() < 3) {
                    direct.push_back(direct_begin(c, m, off, len));
                }
                break;
            case 11:
                if (!direct.empty()) {
                    direct_step(c, disk, direct[rng() % direct.size()], rng);
                }
                break;
            case 12:
                if (!direct.empty()) {
                    size_t k = rng() % direct.size();
                    direct_end(c, direct[k]);
                    direct.erase(direct.begin() + long(k));
                }
                break;
        }
        if (::testing::Test::HasFailure()) {
            return;
        }
    }
    end_all();
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
