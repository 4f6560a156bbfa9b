// SPDX-License-Identifier: GPL-2.0-or-later
//
// The one request shape every trace format is reduced to.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hcsim {

struct Request {
    uint64_t offset = 0;  // bytes
    uint64_t len = 0;     // bytes, > 0
    bool write = false;
    // Seconds since the trace's first timestamp, or a negative value when the
    // format carries no time (ARC .lis): write-back ageing then uses the
    // request index instead.
    double time = -1.0;
};

enum class Format { Auto, CloudPhysics, ArcLis, Msr, Blkparse };

std::string_view format_name(Format f);
bool format_from_name(std::string_view name, Format *f);

// What a parser reports about a bad line; the reader adds file and line.
struct FieldError {
    std::string field;
    std::string message;
};

// What one line turned out to be.
enum class LineKind {
    Request,  // *req is filled in
    Skip,     // header, comment, event we do not count
    End,      // the rest of the input is not trace data (blkparse summary)
    Error,    // *err says which field and why
};

}  // namespace hcsim
