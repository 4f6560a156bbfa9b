// SPDX-License-Identifier: GPL-2.0-or-later
//
// Hit-ratio regression on the real OLTP trace (the ARC paper's): LRU must
// reproduce the published figure (so the counting is right) and the default
// policy must stay at or below ARC's and S3-FIFO's miss ratios
// (../shared/anchors.md).  A missing trace fails the test.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "block/hypercache-core.h"

namespace {

std::vector<uint64_t> load_oltp() {
    // HC_TRACES (meson: ../shared/traces beside the source), else the
    // project's shared folder on this machine, for clones elsewhere (CI).
    const char *dir = getenv("HC_TRACES");
    std::string path =
        std::string(dir ? dir : "../shared/traces") + "/OLTP.lis.xz";
    std::vector<uint64_t> blocks;
    if (FILE *t = fopen(path.c_str(), "r")) {
        fclose(t);
    } else if (FILE *w = fopen("/work/shared/traces/OLTP.lis.xz", "r")) {
        fclose(w);
        path = "/work/shared/traces/OLTP.lis.xz";
    } else {
        return blocks;
    }
    FILE *f = popen(("xz -dc '" + path + "'").c_str(), "r");
    if (!f) {
        return blocks;
    }
    unsigned long long start, n, x, y;
    while (fscanf(f, "%llu %llu %llu %llu", &start, &n, &x, &y) == 4) {
        for (unsigned long long i = 0; i < n; i++) {
            blocks.push_back(start + i);
        }
    }
    pclose(f);
    return blocks;
}

double miss_ratio(const std::vector<uint64_t> &trace, hc_policy pol,
                  uint64_t pages) {
    hc_config cfg;
    hc_config_default(&cfg);
    cfg.size = pages * 4096;
    cfg.policy = pol;
    cfg.seq_cutoff = 0;
    char err[128];
    hc_cache *c = hc_create(&cfg, err, sizeof(err));
    static uint8_t buf[4096];
    for (uint64_t b : trace) {
        hc_read_plan *p;
        hc_read_begin(c, b * 4096, 4096, &p);
        if (!hc_read_plan_seg(p, 0)->hit) {
            hc_read_fill(c, p, 0, buf);
        }
        hc_read_end(c, p);
    }
    hc_stats s;
    hc_get_stats(c, &s);
    hc_destroy(c);
    return double(s.miss_blocks) / double(s.miss_blocks + s.hit_blocks);
}

}  // namespace

TEST(HitRatio, OltpAgainstAnchors) {
    static const std::vector<uint64_t> trace = load_oltp();
    if (trace.empty()) {
        // A missing trace is a broken set-up, not a reason to pass.
        FAIL() << "OLTP.lis.xz not found (set HC_TRACES to the folder "
                  "holding it)";
    }
    ASSERT_EQ(trace.size(), 914145u);
    EXPECT_NEAR(miss_ratio(trace, HC_POLICY_LRU, 1000), 0.672, 0.001);
    // anchors.md: ARC .611 / .448, S3-FIFO .592 / .441.
    EXPECT_LE(miss_ratio(trace, HC_POLICY_FREQ, 1000), 0.592);
    EXPECT_LE(miss_ratio(trace, HC_POLICY_FREQ, 5000), 0.441);
}
