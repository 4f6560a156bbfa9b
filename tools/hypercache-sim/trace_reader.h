// SPDX-License-Identifier: GPL-2.0-or-later
//
// Reads a whole trace file (any format, any compression) into memory.
#pragma once

#include <string>
#include <vector>

#include "input.h"
#include "trace.h"

namespace hcsim {

struct TraceOptions {
    Format format = Format::Auto;
    uint64_t page_size = 4096;  // for ARC .lis
    char blk_action = 'Q';
    // Stop with an error past this many requests; 0 = no limit.  The
    // fuzzers set it so a decompression bomb cannot exhaust memory.
    uint64_t max_requests = 0;
};

struct Trace {
    std::string path;
    Format format = Format::Auto;
    std::vector<Request> requests;
    uint64_t lines = 0;
    uint64_t skipped = 0;  // headers, other events, non-data commands
};

// On failure returns false with *err as "file:line: field: message".
bool load_trace(const std::string &path, const TraceOptions &opt, Trace *out,
                std::string *err);

// The same from a source already opened (fuzzers use memory); @name is what
// error messages call it.
bool read_trace(std::unique_ptr<ByteSource> raw, const std::string &name,
                const TraceOptions &opt, Trace *out, std::string *err);

}  // namespace hcsim
