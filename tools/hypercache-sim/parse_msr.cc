// SPDX-License-Identifier: GPL-2.0-or-later
//
// MSR Cambridge traces (Narayanan et al., FAST'08):
//   Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime
// Timestamp in Windows file time (100 ns ticks), Type Read or Write, Offset
// and Size in bytes.
#include <strings.h>

#include "fields.h"
#include "parsers.h"

namespace hcsim {

namespace {

bool equals_nocase(std::string_view a, const char *b) {
    size_t n = 0;
    while (b[n]) {
        n++;
    }
    return a.size() == n && strncasecmp(a.data(), b, n) == 0;
}

}  // namespace

LineKind parse_msr_line(std::string_view line, ParseContext *ctx, Request *req,
                        FieldError *err) {
    line = trim(line);
    if (line.empty() || line.front() == '#' || line.starts_with("Timestamp,")) {
        return LineKind::Skip;
    }
    std::string_view f[7];
    size_t n = split_fields(line, ',', f, 7);
    if (n != 7) {
        err->field = "line";
        err->message = n < 7 ? "expected 7 comma-separated fields (Timestamp,"
                               "Hostname,DiskNumber,Type,Offset,Size,"
                               "ResponseTime)"
                             : "more than 7 comma-separated fields";
        return LineKind::Error;
    }
    uint64_t ts, disk, offset, size, rt;
    if (!parse_u64(f[0], "Timestamp", &ts, err)) {
        return LineKind::Error;
    }
    if (f[1].empty()) {
        err->field = "Hostname";
        err->message = "missing value";
        return LineKind::Error;
    }
    if (!parse_u64(f[2], "DiskNumber", &disk, err)) {
        return LineKind::Error;
    }
    bool write;
    if (equals_nocase(f[3], "Read")) {
        write = false;
    } else if (equals_nocase(f[3], "Write")) {
        write = true;
    } else {
        err->field = "Type";
        err->message = "expected Read or Write";
        return LineKind::Error;
    }
    if (!parse_u64(f[4], "Offset", &offset, err) ||
        !parse_u64(f[5], "Size", &size, err) ||
        !parse_u64(f[6], "ResponseTime", &rt, err)) {
        return LineKind::Error;
    }
    uint64_t len = size ? size : 1;
    if (!checked_end(offset, len, "Size", err)) {
        return LineKind::Error;
    }
    req->offset = offset;
    req->len = len;
    req->write = write;
    set_time(ctx, static_cast<double>(ts) * 1e-7, req);
    return LineKind::Request;
}

}  // namespace hcsim
