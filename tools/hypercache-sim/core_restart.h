// SPDX-License-Identifier: GPL-2.0-or-later
//
// A restart in the middle of a trace (--restart): the first half warms a
// cache, then the second half is replayed three ways: by the same cache
// (never stopped), by a fresh one (cold), and by a fresh one that first
// loaded the hot set the old one saved, through the file format and the
// prefetch path QEMU uses (warm).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "core_replay.h"
#include "workload.h"

namespace hcsim {

struct RestartResult {
    std::string policy;
    std::string size_label;
    uint64_t size_blocks = 0;
    uint64_t first_half = 0;   // accesses before the restart
    uint64_t second_half = 0;  // accesses after it
    uint64_t window = 0;       // the first accesses after it, counted alone
    // Hit ratios after the restart: the whole second half, and its window.
    double never[2] = {}, cold[2] = {}, warm[2] = {};
    uint64_t hotset_blocks = 0;  // saved at the restart
    uint64_t hotset_bytes = 0;   // the file
    uint64_t loaded = 0;         // prefetched by the warm cache
};

// @split: accesses of the first half; @window: accesses after the restart
// reported on their own (both clamped to the trace).
bool run_core_restart(const Workload &w, const CoreRun &run, uint64_t split,
                      uint64_t window, RestartResult *res, std::string *err);

void print_restart_table(std::FILE *out, const std::string &trace,
                         const Workload &w,
                         const std::vector<RestartResult> &rs);
void print_restart_json(std::FILE *out, const std::string &trace,
                        const Workload &w,
                        const std::vector<RestartResult> &rs);

}  // namespace hcsim
