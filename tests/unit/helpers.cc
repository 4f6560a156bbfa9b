// SPDX-License-Identifier: GPL-2.0-or-later
#include "helpers.h"

#include <gtest/gtest.h>

#include <cstring>

namespace hctest {

hc_cache *make_cache(uint64_t blocks, hc_mode mode, hc_policy policy,
                     void (*tweak)(hc_config *)) {
    hc_config cfg;
    hc_config_default(&cfg);
    cfg.size = blocks * 4096;
    cfg.mode = mode;
    cfg.policy = policy;
    if (tweak) {
        tweak(&cfg);
    }
    char err[256] = "";
    hc_cache *c = hc_create(&cfg, err, sizeof(err));
    EXPECT_NE(c, nullptr) << err;
    return c;
}

std::vector<uint8_t> pattern(uint64_t len, uint32_t seed) {
    std::vector<uint8_t> v(len);
    uint32_t x = seed * 2654435761u + 1;
    for (auto &b : v) {
        x = x * 1103515245u + 12345u;
        b = uint8_t(x >> 24);
    }
    return v;
}

std::vector<uint8_t> read_through(hc_cache *c, const std::vector<uint8_t> &disk,
                                  uint64_t off, uint64_t len) {
    hc_read_plan *plan = nullptr;
    EXPECT_EQ(hc_read_begin(c, off, len, &plan), 0);
    std::vector<uint8_t> out(len);
    for (size_t i = 0; i < hc_read_plan_count(plan); i++) {
        const hc_read_seg *s = hc_read_plan_seg(plan, i);
        const uint8_t *src;
        if (s->hit) {
            src = static_cast<const uint8_t *>(s->hit);
        } else {
            src = disk.data() + s->offset;
            hc_read_fill(c, plan, i, src);
        }
        uint64_t lo = std::max(off, s->offset);
        uint64_t hi = std::min(off + len, s->offset + s->len);
        if (lo < hi) {
            memcpy(out.data() + (lo - off), src + (lo - s->offset), hi - lo);
        }
    }
    hc_read_end(c, plan);
    return out;
}

int write_to(hc_cache *c, std::vector<uint8_t> &disk, uint64_t off,
             const std::vector<uint8_t> &data, unsigned flags) {
    iovec iov{const_cast<uint8_t *>(data.data()), data.size()};
    hc_write_ticket *t = nullptr;
    int r = hc_write_begin(c, off, data.size(), &iov, 1, 0, flags, &t);
    if (r == HC_WRITE_CHILD) {
        memcpy(disk.data() + off, data.data(), data.size());
        hc_write_end(c, t, 0);
    }
    return r;
}

void flush_all(hc_cache *c, std::vector<uint8_t> &disk) {
    uint64_t seq = hc_dirty_seq(c);
    hc_extent *e = nullptr;
    while (hc_writeback_next(c, HC_WB_FLUSH, seq, 0, &e) == 1) {
        uint64_t pos = e->offset;
        for (int i = 0; i < e->iovcnt; i++) {
            memcpy(disk.data() + pos, e->iov[i].iov_base, e->iov[i].iov_len);
            pos += e->iov[i].iov_len;
        }
        EXPECT_EQ(pos, e->offset + e->len);
        hc_writeback_done(c, e, 0);
    }
    EXPECT_EQ(hc_dirty_pending(c, seq), 0u);
}

}  // namespace hctest
