// SPDX-License-Identifier: GPL-2.0-or-later
//
// --io: the same requests twice against a real file, once straight (what
// stock QEMU with cache=none would issue) and once through the core in
// write-back mode (only misses and write-backs), timing both.
#pragma once

#include <string>
#include <vector>

#include "core_replay.h"
#include "options.h"
#include "results.h"

namespace hcsim {

// The requests --io replays (the first --io-limit of them).
std::vector<Request> io_requests(const std::vector<Request> &all,
                                 const Options &opt);

// Every request straight to the file: fills the baseline_* fields.
bool run_io_baseline(const std::vector<Request> &reqs, const Options &opt,
                     IoResult *res, std::string *err);

// Through the core: fills the cached_* fields and the write-back run.
bool run_io_cached(const std::vector<Request> &reqs, const Options &opt,
                   const CoreRun &run, IoResult *res, RunResult *wb,
                   std::string *err);

}  // namespace hcsim
