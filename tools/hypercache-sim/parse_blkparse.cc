// SPDX-License-Identifier: GPL-2.0-or-later
//
// blkparse's default text output:
//   dev cpu seq time pid action rwbs sector + nsectors [process]
//   8,0  3   1  0.000000000  697  Q  WS 223490 + 8 [kjournald]
// Every request passes through several actions (Q queued, G, I, D issued,
// C completed ...); only one of them (-b/--blk-action, Q by default) is
// counted, or each request would count several times.  The per-CPU summary
// blkparse prints at the end ends the trace.
#include "fields.h"
#include "parsers.h"

namespace hcsim {

namespace {

bool has(std::string_view s, char c) {
    return s.find(c) != s.npos;
}

// "8,0" or "259,1": the device field that starts every event line.
bool looks_like_device(std::string_view s) {
    size_t comma = s.find(',');
    if (comma == s.npos || comma == 0 || comma + 1 == s.size()) {
        return false;
    }
    for (size_t i = 0; i < s.size(); i++) {
        if (i != comma && (s[i] < '0' || s[i] > '9')) {
            return false;
        }
    }
    return true;
}

}  // namespace

LineKind parse_blkparse_line(std::string_view line, ParseContext *ctx,
                             Request *req, FieldError *err) {
    std::string_view f[10];
    size_t n = split_fields(line, ' ', f, 10);
    if (n == 0) {
        return LineKind::Skip;
    }
    if (f[0].starts_with("CPU") || f[0] == "Total") {
        return LineKind::End;
    }
    if (!looks_like_device(f[0])) {
        err->field = "device";
        err->message = "expected a device like 8,0 at the start of an event";
        return LineKind::Error;
    }
    if (n < 7) {
        err->field = "line";
        err->message =
            "expected at least 7 fields (dev cpu seq time pid "
            "action rwbs)";
        return LineKind::Error;
    }
    uint64_t cpu, seq, pid;
    double t;
    if (!parse_u64(f[1], "cpu", &cpu, err) ||
        !parse_u64(f[2], "sequence", &seq, err) ||
        !parse_seconds(f[3], "time", &t, err) ||
        !parse_u64(f[4], "pid", &pid, err)) {
        return LineKind::Error;
    }
    if (f[5].size() != 1 || f[5][0] != ctx->blk_action) {
        return LineKind::Skip;
    }
    std::string_view rwbs = f[6];
    bool is_read = has(rwbs, 'R');
    bool is_write = has(rwbs, 'W');
    // Discards, pure flushes and "N" (no data) carry nothing to cache.
    if (has(rwbs, 'D') || (!is_read && !is_write)) {
        return LineKind::Skip;
    }
    if (n < 10 || f[8] != "+") {
        // An empty pre-flush ("FWS [proc]") has no sector range.
        if (has(rwbs, 'F') && (n < 8 || f[7].starts_with("["))) {
            return LineKind::Skip;
        }
        err->field = "sector";
        err->message = "expected 'sector + nsectors' after the rwbs field";
        return LineKind::Error;
    }
    uint64_t sector, nsectors;
    if (!parse_u64(f[7], "sector", &sector, err) ||
        !parse_u64(f[9], "nsectors", &nsectors, err)) {
        return LineKind::Error;
    }
    if (nsectors == 0) {
        return LineKind::Skip;
    }
    uint64_t offset, len;
    if (!checked_mul(sector, 512, "sector", &offset, err) ||
        !checked_mul(nsectors, 512, "nsectors", &len, err) ||
        !checked_end(offset, len, "nsectors", err)) {
        return LineKind::Error;
    }
    req->offset = offset;
    req->len = len;
    req->write = is_write && !is_read;
    set_time(ctx, t, req);
    return LineKind::Request;
}

}  // namespace hcsim
