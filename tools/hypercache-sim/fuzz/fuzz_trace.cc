// SPDX-License-Identifier: GPL-2.0-or-later
//
// libFuzzer target: any bytes as a trace file, through decompression and
// the parser the first byte picks (or format guessing).  Bad input must
// come back as an error message, never a crash, leak or hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "../trace_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    static const hcsim::Format kFormats[] = {
        hcsim::Format::Auto, hcsim::Format::CloudPhysics, hcsim::Format::ArcLis,
        hcsim::Format::Msr, hcsim::Format::Blkparse};
    hcsim::TraceOptions opt;
    opt.format = kFormats[data[0] % 5];
    // The other bits vary what the parsers are told, not just what they read.
    opt.page_size = (data[0] & 0x80) ? 512 : 4096;
    opt.blk_action = (data[0] & 0x40) ? 'D' : 'Q';
    opt.max_requests = 100000;
    hcsim::Trace trace;
    std::string err;
    bool ok = hcsim::read_trace(hcsim::memory_source(data + 1, size - 1),
                                "fuzz", opt, &trace, &err);
    // Invariants the rest of the simulator relies on.
    if (ok) {
        for (const hcsim::Request &r : trace.requests) {
            if (r.len == 0 || r.offset + r.len < r.offset ||
                r.offset + r.len > (UINT64_C(1) << 62)) {
                __builtin_trap();
            }
        }
    } else if (err.empty() || err.rfind("fuzz", 0) != 0) {
        __builtin_trap();  // every error names the file
    }
    return 0;
}
