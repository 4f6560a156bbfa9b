// SPDX-License-Identifier: GPL-2.0-or-later
//
// The ARC paper's .lis traces (Megiddo & Modha, FAST'03):
//   start nblocks ignored reqno
// start and nblocks in pages; no direction (all reads) and no time.
#include "fields.h"
#include "parsers.h"

namespace hcsim {

LineKind parse_arc_line(std::string_view line, ParseContext *ctx, Request *req,
                        FieldError *err) {
    std::string_view f[4];
    size_t n = split_fields(line, ' ', f, 4);
    if (n == 0 || f[0].front() == '#') {
        return LineKind::Skip;
    }
    if (n != 4) {
        err->field = "line";
        err->message = n < 4 ? "expected 4 fields (start nblocks ignored reqno)"
                             : "more than 4 fields";
        return LineKind::Error;
    }
    uint64_t start, nblocks, ignored, reqno;
    if (!parse_u64(f[0], "start", &start, err) ||
        !parse_u64(f[1], "nblocks", &nblocks, err) ||
        !parse_u64(f[2], "ignored", &ignored, err) ||
        !parse_u64(f[3], "reqno", &reqno, err)) {
        return LineKind::Error;
    }
    if (nblocks == 0) {
        err->field = "nblocks";
        err->message = "a request of 0 pages";
        return LineKind::Error;
    }
    uint64_t offset, len;
    if (!checked_mul(start, ctx->page_size, "start", &offset, err) ||
        !checked_mul(nblocks, ctx->page_size, "nblocks", &len, err) ||
        !checked_end(offset, len, "nblocks", err)) {
        return LineKind::Error;
    }
    req->offset = offset;
    req->len = len;
    req->write = false;
    req->time = -1.0;
    return LineKind::Request;
}

}  // namespace hcsim
