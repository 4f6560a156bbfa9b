// SPDX-License-Identifier: GPL-2.0-or-later
#include "trace_reader.h"

#include "fields.h"
#include "parsers.h"

namespace hcsim {

namespace {

std::string where(const std::string &name, uint64_t line) {
    return name + ":" + std::to_string(line) + ": ";
}

}  // namespace

bool read_trace(std::unique_ptr<ByteSource> raw, const std::string &name,
                const TraceOptions &opt, Trace *out, std::string *err) {
    std::string msg;
    auto src = decompressing_source(std::move(raw), &msg);
    if (!src) {
        *err = name + ": " + msg;
        return false;
    }
    LineReader reader(std::move(src));
    ParseContext ctx;
    ctx.page_size = opt.page_size;
    ctx.blk_action = opt.blk_action;
    out->path = name;
    out->format = opt.format;
    std::string_view line;
    for (;;) {
        int r = reader.next(&line, &msg);
        if (r < 0) {
            *err = where(name, reader.line_number()) + msg;
            return false;
        }
        if (r == 0) {
            break;
        }
        out->lines++;
        if (out->format == Format::Auto) {
            if (trim(line).empty()) {
                out->skipped++;
                continue;
            }
            out->format = sniff_format(name, line);
            if (out->format == Format::Auto) {
                *err = where(name, reader.line_number()) +
                       "format: cannot tell the trace format from this line; "
                       "pass --format";
                return false;
            }
        }
        ctx.line = reader.line_number();
        Request req;
        FieldError ferr;
        LineKind kind = parse_line(out->format, line, &ctx, &req, &ferr);
        if (kind == LineKind::Error) {
            *err = where(name, reader.line_number()) + ferr.field + ": " +
                   ferr.message;
            return false;
        }
        if (kind == LineKind::End) {
            break;
        }
        if (kind == LineKind::Skip) {
            out->skipped++;
            continue;
        }
        if (opt.max_requests && out->requests.size() >= opt.max_requests) {
            *err = where(name, reader.line_number()) + "line: more than " +
                   std::to_string(opt.max_requests) + " requests";
            return false;
        }
        out->requests.push_back(req);
    }
    if (out->requests.empty()) {
        *err = name + ": no requests in the trace";
        return false;
    }
    return true;
}

bool load_trace(const std::string &path, const TraceOptions &opt, Trace *out,
                std::string *err) {
    std::string msg;
    auto raw = open_file_source(path, &msg);
    if (!raw) {
        *err = path + ": " + msg;
        return false;
    }
    return read_trace(std::move(raw), path, opt, out, err);
}

}  // namespace hcsim
