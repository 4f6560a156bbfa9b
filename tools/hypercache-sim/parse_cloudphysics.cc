// SPDX-License-Identifier: GPL-2.0-or-later
//
// CloudPhysics vSCSI CSV as libCacheSim ships it:
//   version,time,op,size,lbn
// op is the SCSI opcode in hex, size in bytes, lbn in 512-byte sectors,
// time in seconds: libCacheSim's copy spans 7,200 distinct values (two
// hours) with up to 2,513 requests on one value.
#include "fields.h"
#include "parsers.h"

namespace hcsim {

namespace {

// READ(6/10/12/16) and WRITE(6/10/12/16); other commands (SYNCHRONIZE
// CACHE, INQUIRY, ...) move no data through the cache.
int scsi_direction(uint64_t op) {
    switch (op) {
        case 0x08:
        case 0x28:
        case 0xa8:
        case 0x88:
            return 0;
        case 0x0a:
        case 0x2a:
        case 0xaa:
        case 0x8a:
            return 1;
        default:
            return -1;
    }
}

}  // namespace

LineKind parse_cloudphysics_line(std::string_view line, ParseContext *ctx,
                                 Request *req, FieldError *err) {
    line = trim(line);
    if (line.empty() || line.front() == '#') {
        return LineKind::Skip;
    }
    if (line.starts_with("version,")) {
        return LineKind::Skip;  // the header
    }
    std::string_view f[5];
    size_t n = split_fields(line, ',', f, 5);
    if (n != 5) {
        err->field = "line";
        err->message = n < 5 ? "expected 5 comma-separated fields "
                               "(version,time,op,size,lbn)"
                             : "more than 5 comma-separated fields";
        return LineKind::Error;
    }
    uint64_t version, time, op, size, lbn;
    if (!parse_u64(f[0], "version", &version, err) ||
        !parse_u64(f[1], "time", &time, err) ||
        !parse_hex_u64(f[2], "op", &op, err) ||
        !parse_u64(f[3], "size", &size, err) ||
        !parse_u64(f[4], "lbn", &lbn, err)) {
        return LineKind::Error;
    }
    int dir = scsi_direction(op);
    if (dir < 0) {
        return LineKind::Skip;
    }
    uint64_t offset;
    if (!checked_mul(lbn, 512, "lbn", &offset, err)) {
        return LineKind::Error;
    }
    // A zero-length command still touches the block it names: libCacheSim
    // counts it, and so do we (max(size, 1)).
    uint64_t len = size ? size : 1;
    if (!checked_end(offset, len, "size", err)) {
        return LineKind::Error;
    }
    req->offset = offset;
    req->len = len;
    req->write = dir == 1;
    set_time(ctx, static_cast<double>(time), req);
    return LineKind::Request;
}

void set_time(ParseContext *ctx, double seconds, Request *req) {
    if (!ctx->have_t0) {
        ctx->have_t0 = true;
        ctx->t0 = seconds;
    }
    // Traces are not always sorted: clamp rather than go back in time.
    req->time = seconds >= ctx->t0 ? seconds - ctx->t0 : 0.0;
}

}  // namespace hcsim
