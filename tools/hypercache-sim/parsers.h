// SPDX-License-Identifier: GPL-2.0-or-later
//
// One function per trace format turning one text line into a Request.  They
// never throw and never trust the input: the fuzzers call them directly.
#pragma once

#include <cstdint>
#include <string_view>

#include "trace.h"

namespace hcsim {

struct ParseContext {
    uint64_t line = 0;          // 1-based number of the current line
    uint64_t page_size = 4096;  // ARC .lis counts in pages of this size
    char blk_action = 'Q';      // the blkparse event counted as a request
    // First time stamp seen, so times start at 0.
    bool have_t0 = false;
    double t0 = 0;
};

LineKind parse_cloudphysics_line(std::string_view line, ParseContext *ctx,
                                 Request *req, FieldError *err);
LineKind parse_arc_line(std::string_view line, ParseContext *ctx, Request *req,
                        FieldError *err);
LineKind parse_msr_line(std::string_view line, ParseContext *ctx, Request *req,
                        FieldError *err);
LineKind parse_blkparse_line(std::string_view line, ParseContext *ctx,
                             Request *req, FieldError *err);

LineKind parse_line(Format f, std::string_view line, ParseContext *ctx,
                    Request *req, FieldError *err);

// Guesses the format of a trace from its name (compression suffixes
// removed) and first non-empty line.
Format sniff_format(std::string_view path, std::string_view first_line);

// Sets req->time relative to the first time stamp seen.
void set_time(ParseContext *ctx, double seconds, Request *req);

}  // namespace hcsim
