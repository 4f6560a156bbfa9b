// SPDX-License-Identifier: GPL-2.0-or-later
//
// The command line of hypercache-sim.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sizes.h"
#include "trace_reader.h"
#include "tuning.h"

namespace hcsim {

struct Options {
    std::vector<std::string> traces;
    TraceOptions trace;
    uint32_t block_size = 4096;
    bool page_size_given = false;
    std::vector<SizeSpec> sizes;
    // Policy names: the core's (as hc_policy_name spells them) and the
    // references "ref-lru", "ref-arc".  Empty = all.
    std::vector<std::string> policies;
    bool reads_only = false;
    bool writeback = false;           // also replay in write-back mode
    bool restart = false;             // --restart: cold vs warm restart halfway
    uint64_t restart_window = 20000;  // --restart-window
    bool pool = false;                // --pool: the traces share one pool
    uint64_t pool_interval = 50000;   // --pool-interval: accesses between
                                      // rebalances
    CoreTuning tuning;                // --admit-threshold, --dirty-high, ...
    double time_scale = 1;            // --time-scale
    bool json = false;
    std::string plot;     // PNG path
    std::string io_file;  // --io
    uint64_t io_size = 256ull << 20;
    uint32_t io_depth = 32;
    uint64_t io_limit = 0;  // requests replayed with --io; 0 = all
    std::string mrc_factors = "0.25,0.5,1,2,4";
};

enum class ParseResult { Ok, Help, Error };

ParseResult parse_options(int argc, char **argv, Options *o, std::string *err);
void print_usage(const char *argv0);

}  // namespace hcsim
