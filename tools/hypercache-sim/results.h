// SPDX-License-Identifier: GPL-2.0-or-later
//
// What a run produces, independent of how it is printed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hcsim {

struct RunResult {
    std::string policy;
    // "count": every block access is a lookup, as the published figures
    // count; "writeback": reads and writes replayed as a guest issues them.
    std::string mode = "count";
    std::string size_label;
    uint64_t size_blocks = 0;
    uint64_t size_bytes = 0;
    uint64_t accesses = 0;  // count: all block accesses; writeback: reads
    uint64_t misses = 0;
    double miss_ratio = 0;
    bool has_core_stats = false;
    uint64_t admissions = 0, rejections = 0, evictions = 0, bypassed = 0;
    // Write-back mode only.
    uint64_t guest_write_blocks = 0;  // blocks the guest wrote
    uint64_t child_write_blocks = 0;  // written straight to the child
    uint64_t writeback_requests = 0;  // merged extents written back
    uint64_t writeback_blocks = 0;
    uint64_t writeback_errors = 0;
    uint64_t child_write_requests = 0;  // written straight to the child
    // hc_write_begin refusals: -ENOSPC (WB at dirty-max, the write waits
    // for write-back) and -EAGAIN (blocks busy), and the guest write
    // requests that met at least one -ENOSPC.
    uint64_t enospc = 0, eagain = 0, writes_stalled = 0;
    // Write-back by what caused it; the counts add up to writeback_*.
    enum WbCause { kWatermark, kAge, kFull, kFinalFlush, kWbCauses };
    uint64_t wb_requests_by[kWbCauses] = {};
    uint64_t wb_blocks_by[kWbCauses] = {};
    uint64_t peak_dirty_blocks = 0;  // after any request's write-back
    uint64_t metadata_bytes = 0;
    double elapsed_s = 0;
};

// One check of the core's SHARDS estimate against the exact LRU curve.
struct MrcPoint {
    std::string policy;
    uint64_t size_blocks = 0;  // the cache the estimate was asked of
    double factor = 0;
    double estimate = -1;  // hit ratio; < 0: the core had no answer
    double exact = 0;      // exact LRU hit ratio at factor * size
};

struct IoResult {
    std::string policy;
    uint64_t size_blocks = 0;
    uint64_t requests = 0;
    uint64_t baseline_ios = 0, baseline_bytes = 0;
    double baseline_s = 0;  // every request to the file
    uint64_t cached_ios = 0, cached_bytes = 0;
    double cached_s = 0;  // misses and write-backs only
    // The same replay without I/O: the core's own CPU time, which the
    // cached wall time includes.
    double core_only_s = 0;
};

struct Report {
    std::string trace;
    std::string format;
    uint64_t requests = 0;
    uint64_t accesses = 0;
    uint64_t read_accesses = 0, write_accesses = 0;
    uint64_t working_set = 0;  // distinct blocks
    uint32_t block_size = 0;
    double load_s = 0;
    std::vector<RunResult> runs;
    std::vector<MrcPoint> mrc;
    std::vector<IoResult> io;
    // The exact LRU curve at a few dozen sizes, for plots and JSON.
    std::vector<std::pair<uint64_t, double>> lru_curve;
};

}  // namespace hcsim
