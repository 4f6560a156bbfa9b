// SPDX-License-Identifier: GPL-2.0-or-later
#include <cmath>

#include "report.h"

namespace hcsim {

namespace {

void print_runs(std::FILE *out, const Report &r) {
    std::fprintf(out, "%-10s %-9s %-8s %9s %8s %10s %10s %10s %10s %10s %8s\n",
                 "policy", "mode", "size", "blocks", "miss", "misses",
                 "admitted", "rejected", "bypassed", "evicted", "time");
    for (const RunResult &x : r.runs) {
        std::fprintf(out, "%-10s %-9s %-8s %9lu %8.4f %10lu ", x.policy.c_str(),
                     x.mode.c_str(), x.size_label.c_str(),
                     (unsigned long)x.size_blocks, x.miss_ratio,
                     (unsigned long)x.misses);
        if (x.has_core_stats) {
            std::fprintf(out, "%10lu %10lu %10lu %10lu ",
                         (unsigned long)x.admissions,
                         (unsigned long)x.rejections, (unsigned long)x.bypassed,
                         (unsigned long)x.evictions);
        } else {
            std::fprintf(out, "%10s %10s %10s %10lu ", "-", "-", "-",
                         (unsigned long)x.evictions);
        }
        std::fprintf(out, "%7.2fs\n", x.elapsed_s);
    }
    bool any_wb = false;
    for (const RunResult &x : r.runs) {
        any_wb |= x.mode != "count";
    }
    if (any_wb) {
        std::fprintf(out,
                     "\nwrite-back mode (miss = read blocks from the "
                     "child / read blocks):\n");
        std::fprintf(out, "%-10s %9s %12s %12s %12s %10s %8s %8s\n", "policy",
                     "blocks", "guest-wr-blk", "wb-extents", "wb-blocks",
                     "child-wr", "merge", "stalled");
        for (const RunResult &x : r.runs) {
            if (x.mode == "count") {
                continue;
            }
            double merge =
                x.writeback_requests
                    ? double(x.writeback_blocks) / double(x.writeback_requests)
                    : 0;
            std::fprintf(out,
                         "%-10s %9lu %12lu %12lu %12lu %10lu %7.2fx %8lu\n",
                         x.policy.c_str(), (unsigned long)x.size_blocks,
                         (unsigned long)x.guest_write_blocks,
                         (unsigned long)x.writeback_requests,
                         (unsigned long)x.writeback_blocks,
                         (unsigned long)x.child_write_blocks, merge,
                         (unsigned long)x.writes_stalled);
        }
    }
}

void print_mrc(std::FILE *out, const Report &r) {
    if (r.mrc.empty()) {
        return;
    }
    std::fprintf(out,
                 "\nMRC estimate (core, SHARDS) vs exact LRU hit ratio:\n");
    std::fprintf(out, "%-10s %9s %7s %10s %10s %8s\n", "policy", "blocks",
                 "factor", "estimate", "exact", "error");
    double sum = 0, worst = 0;
    int n = 0;
    for (const MrcPoint &p : r.mrc) {
        if (p.estimate < 0) {
            std::fprintf(out, "%-10s %9lu %7.2f %10s %10.4f %8s\n",
                         p.policy.c_str(), (unsigned long)p.size_blocks,
                         p.factor, "n/a", p.exact, "-");
            continue;
        }
        double e = p.estimate - p.exact;
        sum += std::fabs(e);
        worst = std::fmax(worst, std::fabs(e));
        n++;
        std::fprintf(out, "%-10s %9lu %7.2f %10.4f %10.4f %+8.4f\n",
                     p.policy.c_str(), (unsigned long)p.size_blocks, p.factor,
                     p.estimate, p.exact, e);
    }
    if (n) {
        std::fprintf(out, "mean |error| %.4f, worst %.4f over %d points\n",
                     sum / n, worst, n);
    }
}

void print_io(std::FILE *out, const Report &r) {
    for (const IoResult &x : r.io) {
        double io_s = x.cached_s - x.core_only_s;
        std::fprintf(out,
                     "\n--io %s at %lu blocks, %lu requests:\n"
                     "  no cache : %9lu I/Os %8.1f MiB %8.3fs\n"
                     "  cached   : %9lu I/Os %8.1f MiB %8.3fs (core CPU "
                     "alone %.3fs)\n"
                     "  saved    : %8.3fs wall (%.1f%%); %.3fs of I/O time "
                     "without the core's CPU\n",
                     x.policy.c_str(), (unsigned long)x.size_blocks,
                     (unsigned long)x.requests, (unsigned long)x.baseline_ios,
                     x.baseline_bytes / 1048576.0, x.baseline_s,
                     (unsigned long)x.cached_ios, x.cached_bytes / 1048576.0,
                     x.cached_s, x.core_only_s, x.baseline_s - x.cached_s,
                     x.baseline_s > 0
                         ? 100.0 * (x.baseline_s - x.cached_s) / x.baseline_s
                         : 0.0,
                     x.baseline_s - io_s);
    }
}

}  // namespace

void print_table(std::FILE *out, const Report &r) {
    std::fprintf(
        out,
        "%s (%s): %lu requests, %lu block accesses (%lu reads, %lu "
        "writes), working set %lu blocks of %u bytes, read in %.2fs\n\n",
        r.trace.c_str(), r.format.c_str(), (unsigned long)r.requests,
        (unsigned long)r.accesses, (unsigned long)r.read_accesses,
        (unsigned long)r.write_accesses, (unsigned long)r.working_set,
        r.block_size, r.load_s);
    print_runs(out, r);
    print_mrc(out, r);
    print_io(out, r);
}

}  // namespace hcsim
