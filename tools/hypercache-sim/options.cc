// SPDX-License-Identifier: GPL-2.0-or-later
#include "options.h"

#include <getopt.h>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace hcsim {

namespace {

enum LongOnly {
    kPageSize = 256,
    kReadsOnly,
    kWriteback,
    kAdmit,
    kSeqCutoff,
    kDirtyHigh,
    kDirtyLow,
    kDirtyMax,
    kMaxDirtyAge,
    kTimeScale,
    kJson,
    kPlot,
    kIo,
    kIoSize,
    kIoDepth,
    kIoLimit,
    kBlkAction,
    kMrcFactors,
    kRestart,
    kRestartWindow,
    kPool,
    kPoolInterval,
};

const option kLong[] = {
    {"format", required_argument, nullptr, 'f'},
    {"sizes", required_argument, nullptr, 's'},
    {"block-size", required_argument, nullptr, 'b'},
    {"policies", required_argument, nullptr, 'p'},
    {"page-size", required_argument, nullptr, kPageSize},
    {"reads-only", no_argument, nullptr, kReadsOnly},
    {"writeback", no_argument, nullptr, kWriteback},
    {"admit-threshold", required_argument, nullptr, kAdmit},
    {"seq-cutoff", required_argument, nullptr, kSeqCutoff},
    {"dirty-high", required_argument, nullptr, kDirtyHigh},
    {"dirty-low", required_argument, nullptr, kDirtyLow},
    {"dirty-max", required_argument, nullptr, kDirtyMax},
    {"max-dirty-age", required_argument, nullptr, kMaxDirtyAge},
    {"time-scale", required_argument, nullptr, kTimeScale},
    {"json", no_argument, nullptr, kJson},
    {"plot", required_argument, nullptr, kPlot},
    {"io", required_argument, nullptr, kIo},
    {"io-size", required_argument, nullptr, kIoSize},
    {"io-depth", required_argument, nullptr, kIoDepth},
    {"io-limit", required_argument, nullptr, kIoLimit},
    {"blk-action", required_argument, nullptr, kBlkAction},
    {"mrc-factors", required_argument, nullptr, kMrcFactors},
    {"restart", no_argument, nullptr, kRestart},
    {"restart-window", required_argument, nullptr, kRestartWindow},
    {"pool", no_argument, nullptr, kPool},
    {"pool-interval", required_argument, nullptr, kPoolInterval},
    {"help", no_argument, nullptr, 'h'},
    {nullptr, 0, nullptr, 0},
};

bool to_u64(const char *opt, const char *s, uint64_t *v, std::string *err) {
    std::string_view t(s);
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), *v);
    if (t.empty() || ec != std::errc() || p != t.data() + t.size()) {
        *err = std::string("--") + opt + ": expected a number, got '" + s + "'";
        return false;
    }
    return true;
}

// Values beyond what any setting allows still fail validation, and as
// themselves, not wrapped to negative "keep the default".
int64_t to_i64(uint64_t v) {
    return static_cast<int64_t>(v > INT64_MAX ? INT64_MAX : v);
}

constexpr uint64_t kMaxAgeMs = 24ull * 3600 * 1000;

void split_names(std::string_view s, std::vector<std::string> *out) {
    while (!s.empty()) {
        size_t c = s.find(',');
        if (c != 0) {
            out->emplace_back(s.substr(0, c));
        }
        if (c == s.npos) {
            break;
        }
        s.remove_prefix(c + 1);
    }
}

}  // namespace

void print_usage(const char *argv0) {
    std::printf(
        "Usage: %s [options] TRACE...\n"
        "Replays block traces through the hypercache core and prints miss "
        "ratios.\n\n"
        "  -f, --format FMT        auto (default), cloudphysics, arc, msr, "
        "blkparse\n"
        "  -s, --sizes LIST        cache sizes: 5000 (blocks), 64M (bytes), "
        "10%% or\n"
        "                          0.1ws (share of the working set); default "
        "1%%,5%%,10%%,20%%\n"
        "  -b, --block-size N      cache block size, default 4096\n"
        "  -p, --policies LIST     core policies (freq, lru, s3fifo) and "
        "references\n"
        "                          (ref-lru, ref-arc, ref-lirs, ref-2q, "
        "ref-wtinylfu,\n"
        "                          ref-wtinylfu-1pct, ref-sieve, ref-s3fifo, "
        "ref-opt);\n"
        "                          default all\n"
        "      --page-size N       bytes per page of ARC .lis traces "
        "(default block size)\n"
        "      --blk-action C      blkparse event counted (default Q)\n"
        "      --reads-only        drop write requests\n"
        "      --writeback         also replay in write-back mode: write-back "
        "counts\n"
        "      --admit-threshold N override the core's admission threshold\n"
        "      --seq-cutoff BYTES  override the core's sequential cutoff (0 = "
        "off)\n"
        "      --dirty-high PCT    write-back starts above PCT %% of the cache "
        "dirty\n"
        "      --dirty-low PCT     ... and stops below PCT %%\n"
        "      --dirty-max PCT     writes wait for write-back above PCT %%\n"
        "      --max-dirty-age MS  write back data dirty longer than MS ms "
        "(0 = never)\n"
        "      --time-scale F      multiply the trace's time stamps by F "
        "before\n"
        "                          write-back ageing sees them (default 1)\n"
        "      --mrc-factors LIST  size factors the MRC estimate is checked at "
        "(0.25,0.5,1,2,4)\n"
        "      --restart           instead: replay the first half, restart, "
        "and the\n"
        "                          second half never stopped, cold and warm "
        "(hot set)\n"
        "      --restart-window N  hit ratio of the first N accesses after "
        "the restart\n"
        "                          too (default 20000)\n"
        "      --pool              instead: replay all traces at once, "
        "round robin,\n"
        "                          into one budget of each size: unified "
        "cache,\n"
        "                          equal split, and a pool rebalanced from "
        "the curves\n"
        "      --pool-interval N   accesses between pool rebalances "
        "(default 50000)\n"
        "      --json              JSON instead of a table\n"
        "      --plot FILE.png     miss-ratio curve (needs "
        "python3-matplotlib)\n"
        "      --io FILE           also issue misses and write-backs to FILE "
        "with\n"
        "                          io_uring + O_DIRECT and report wall time "
        "saved\n"
        "      --io-size BYTES     size of FILE when it is created (256M)\n"
        "      --io-depth N        io_uring queue depth (32)\n"
        "      --io-limit N        replay only the first N requests with --io\n"
        "  -h, --help\n"
        "Exit status: 0 ok, 1 usage error, 2 bad trace, 3 core error.\n",
        argv0);
}

ParseResult parse_options(int argc, char **argv, Options *o, std::string *err) {
    std::string sizes = "1%,5%,10%,20%";
    uint64_t v;
    // A whole-number option for the core's tuning: only its form is checked
    // here.
    auto set_number = [&](const char *name, int64_t *dst) {
        if (!to_u64(name, optarg, &v, err)) {
            return false;
        }
        *dst = to_i64(v);
        return true;
    };
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, "f:s:b:p:h", kLong, nullptr);
        if (c == -1) {
            break;
        }
        switch (c) {
            case 'f':
                if (!format_from_name(optarg, &o->trace.format)) {
                    *err = std::string("--format: unknown format '") + optarg +
                           "' (auto, cloudphysics, arc, msr, blkparse)";
                    return ParseResult::Error;
                }
                break;
            case 's':
                sizes = optarg;
                break;
            case 'b':
                if (!to_u64("block-size", optarg, &v, err)) {
                    return ParseResult::Error;
                }
                if (v < 512 || v > 65536 || (v & (v - 1))) {
                    *err = "--block-size: must be a power of two, 512 .. 65536";
                    return ParseResult::Error;
                }
                o->block_size = static_cast<uint32_t>(v);
                break;
            case 'p':
                split_names(optarg, &o->policies);
                break;
            case kPageSize:
                if (!to_u64("page-size", optarg, &v, err)) {
                    return ParseResult::Error;
                }
                if (v == 0 || v > (1u << 30)) {
                    *err = "--page-size: must be 1 .. 2^30";
                    return ParseResult::Error;
                }
                o->trace.page_size = v;
                o->page_size_given = true;
                break;
            case kBlkAction:
                if (optarg[0] == '\0' || optarg[1] != '\0') {
                    *err = "--blk-action: one letter, such as Q, D or C";
                    return ParseResult::Error;
                }
                o->trace.blk_action = optarg[0];
                break;
            case kReadsOnly:
                o->reads_only = true;
                break;
            case kWriteback:
                o->writeback = true;
                break;
            // Ranges and the order of the watermarks are the core's to
            // check, once all options are in (check_tuning below).
            case kAdmit:
                if (!set_number("admit-threshold",
                                &o->tuning.admit_threshold)) {
                    return ParseResult::Error;
                }
                break;
            case kSeqCutoff:
                if (!parse_bytes(optarg, &v, err)) {
                    *err = "--seq-cutoff: " + *err;
                    return ParseResult::Error;
                }
                o->tuning.seq_cutoff = to_i64(v);
                break;
            case kDirtyHigh:
                if (!set_number("dirty-high", &o->tuning.dirty_high_pct)) {
                    return ParseResult::Error;
                }
                break;
            case kDirtyLow:
                if (!set_number("dirty-low", &o->tuning.dirty_low_pct)) {
                    return ParseResult::Error;
                }
                break;
            case kDirtyMax:
                if (!set_number("dirty-max", &o->tuning.dirty_max_pct)) {
                    return ParseResult::Error;
                }
                break;
            case kMaxDirtyAge:
                if (!to_u64("max-dirty-age", optarg, &v, err)) {
                    return ParseResult::Error;
                }
                // The core takes nanoseconds and has no upper bound; a day
                // keeps the conversion far from overflow.
                if (v > kMaxAgeMs) {
                    *err = "--max-dirty-age: must be 0 (no limit) .. " +
                           std::to_string(kMaxAgeMs) + " ms";
                    return ParseResult::Error;
                }
                o->tuning.max_dirty_age_ms = to_i64(v);
                break;
            case kTimeScale: {
                char *end = nullptr;
                double f = std::strtod(optarg, &end);
                if (!*optarg || *end || !(f > 0) || f > 1e6) {
                    *err = std::string(
                               "--time-scale: must be a number above "
                               "0, up to 1e6, not '") +
                           optarg + "'";
                    return ParseResult::Error;
                }
                o->time_scale = f;
                break;
            }
            case kJson:
                o->json = true;
                break;
            case kPlot:
                o->plot = optarg;
                break;
            case kIo:
                o->io_file = optarg;
                break;
            case kIoSize:
                if (!parse_bytes(optarg, &o->io_size, err)) {
                    *err = "--io-size: " + *err;
                    return ParseResult::Error;
                }
                break;
            case kIoDepth:
                if (!to_u64("io-depth", optarg, &v, err)) {
                    return ParseResult::Error;
                }
                if (v == 0 || v > 4096) {
                    *err = "--io-depth: must be 1 .. 4096";
                    return ParseResult::Error;
                }
                o->io_depth = static_cast<uint32_t>(v);
                break;
            case kIoLimit:
                if (!to_u64("io-limit", optarg, &o->io_limit, err)) {
                    return ParseResult::Error;
                }
                break;
            case kMrcFactors:
                o->mrc_factors = optarg;
                break;
            case kRestart:
                o->restart = true;
                break;
            case kRestartWindow:
                if (!to_u64("restart-window", optarg, &o->restart_window,
                            err)) {
                    return ParseResult::Error;
                }
                break;
            case kPool:
                o->pool = true;
                break;
            case kPoolInterval:
                if (!to_u64("pool-interval", optarg, &o->pool_interval, err)) {
                    return ParseResult::Error;
                }
                if (o->pool_interval == 0) {
                    *err = "--pool-interval must be at least 1";
                    return ParseResult::Error;
                }
                break;
            case 'h':
                return ParseResult::Help;
            default:
                *err = std::string("unknown or incomplete option '") +
                       argv[optind - 1] + "'";
                return ParseResult::Error;
        }
    }
    for (int i = optind; i < argc; i++) {
        o->traces.emplace_back(argv[i]);
    }
    if (o->traces.empty()) {
        *err = "no trace file given";
        return ParseResult::Error;
    }
    if (!parse_size_list(sizes, &o->sizes, err)) {
        return ParseResult::Error;
    }
    // The core's message starts with the setting's name, which is also the
    // option's: "dirty-low (50) must be below dirty-high (50)".
    if (!check_tuning(o->tuning, err)) {
        *err = "--" + *err;
        return ParseResult::Error;
    }
    if (!o->page_size_given) {
        o->trace.page_size = o->block_size;
    }
    return ParseResult::Ok;
}

}  // namespace hcsim
