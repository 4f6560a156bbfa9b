// SPDX-License-Identifier: GPL-2.0-or-later
#include "io_replay.h"

#include <chrono>

#include "core_session.h"
#include "io_uring_sink.h"

namespace hcsim {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
        .count();
}

bool baseline(const std::vector<Request> &reqs, const Options &opt, IoSink *io,
              std::string *err) {
    ScratchBuffer scratch;
    uint64_t bs = opt.block_size;
    for (const Request &r : reqs) {
        if (opt.reads_only && r.write) {
            continue;
        }
        uint64_t start = r.offset / bs * bs;
        uint64_t len = (r.offset + r.len + bs - 1) / bs * bs - start;
        bool ok;
        if (r.write) {
            struct iovec iov = {const_cast<uint8_t *>(scratch.get(len)), len};
            // Writes from one scratch buffer may overlap in flight; their
            // content does not matter.
            ok = io->write(start, &iov, 1, err);
        } else {
            ok = io->read(start, len, err);
        }
        if (!ok) {
            return false;
        }
    }
    return io->drain(err) && sync_uring_sink(io, err);
}

}  // namespace

std::vector<Request> io_requests(const std::vector<Request> &all,
                                 const Options &opt) {
    size_t n = all.size();
    if (opt.io_limit && opt.io_limit < n) {
        n = opt.io_limit;
    }
    return std::vector<Request>(all.begin(), all.begin() + n);
}

bool run_io_baseline(const std::vector<Request> &reqs, const Options &opt,
                     IoResult *res, std::string *err) {
    auto io = open_uring_sink(opt.io_file, opt.io_size, opt.io_depth, err);
    if (!io) {
        return false;
    }
    auto t0 = std::chrono::steady_clock::now();
    if (!baseline(reqs, opt, io.get(), err)) {
        return false;
    }
    res->requests = reqs.size();
    res->baseline_s = seconds_since(t0);
    res->baseline_ios = io->ios();
    res->baseline_bytes = io->bytes();
    return true;
}

bool run_io_cached(const std::vector<Request> &reqs, const Options &opt,
                   const CoreRun &run, IoResult *res, RunResult *wb,
                   std::string *err) {
    res->policy = hc_policy_name(run.policy);
    res->size_blocks = run.blocks;
    RunResult dry = *wb;
    auto t0 = std::chrono::steady_clock::now();
    if (!run_core_writeback(reqs, opt.reads_only, run, nullptr, &dry, err)) {
        return false;
    }
    res->core_only_s = seconds_since(t0);
    auto io = open_uring_sink(opt.io_file, opt.io_size, opt.io_depth, err);
    if (!io) {
        return false;
    }
    t0 = std::chrono::steady_clock::now();
    if (!run_core_writeback(reqs, opt.reads_only, run, io.get(), wb, err) ||
        !sync_uring_sink(io.get(), err)) {
        return false;
    }
    res->cached_s = seconds_since(t0);
    res->cached_ios = io->ios();
    res->cached_bytes = io->bytes();
    return true;
}

}  // namespace hcsim
