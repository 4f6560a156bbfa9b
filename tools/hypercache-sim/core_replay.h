// SPDX-License-Identifier: GPL-2.0-or-later
//
// Replays a workload through the real hypercache core via its C API, the
// same calls QEMU's block/hypercache.c makes.
#pragma once

#include <string>
#include <vector>

#include "block/hypercache-core.h"
#include "exact_mrc.h"
#include "io_sink.h"
#include "results.h"
#include "trace.h"
#include "tuning.h"
#include "workload.h"

namespace hcsim {

struct CoreRun {
    hc_policy policy = HC_POLICY_FREQ;
    uint64_t blocks = 0;
    uint32_t block_size = 4096;
    CoreTuning tuning;      // overrides of the core's defaults
    double time_scale = 1;  // trace time stamps are multiplied by this
    // The trace's working set.  A cache larger than it never evicts, so
    // the core is given at most this much memory: the result is the same
    // and "-s 1T" does not allocate a terabyte.  0 = no cap.
    uint64_t working_set = 0;

    uint64_t cache_blocks() const {
        return working_set && blocks > working_set ? working_set : blocks;
    }
};

// Every block access (read or write) is one hc_read_begin of one block; a
// miss is offered back with hc_read_fill and the policy decides whether it
// enters.  This is how the published miss ratios count.  Afterwards the
// core's SHARDS estimate is compared with @exact at each of @factors.
bool run_core_count(const Workload &w, const CoreRun &run,
                    const std::vector<double> &factors, const ExactMrc &exact,
                    RunResult *res, std::vector<MrcPoint> *mrc,
                    std::string *err);

// Requests as the guest issues them in write-back mode: reads through
// hc_read_begin/fill/end, writes through hc_write_begin, background and
// final write-back through hc_writeback_next/done.  @io (may be null)
// receives the child I/O.
bool run_core_writeback(const std::vector<Request> &reqs, bool reads_only,
                        const CoreRun &run, IoSink *io, RunResult *res,
                        std::string *err);

// Every policy the core offers, by its QAPI name.
std::vector<hc_policy> core_policies();

}  // namespace hcsim
