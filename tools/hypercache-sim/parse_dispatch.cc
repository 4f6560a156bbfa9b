// SPDX-License-Identifier: GPL-2.0-or-later
//
// Format names, format guessing, and the dispatch to one parser.
#include <array>

#include "fields.h"
#include "parsers.h"

namespace hcsim {

namespace {

struct Name {
    Format format;
    std::string_view name;
};

constexpr std::array<Name, 5> kNames = {{
    {Format::Auto, "auto"},
    {Format::CloudPhysics, "cloudphysics"},
    {Format::ArcLis, "arc"},
    {Format::Msr, "msr"},
    {Format::Blkparse, "blkparse"},
}};

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string_view format_name(Format f) {
    for (const auto &n : kNames) {
        if (n.format == f) {
            return n.name;
        }
    }
    return "?";
}

bool format_from_name(std::string_view name, Format *f) {
    for (const auto &n : kNames) {
        if (n.name == name) {
            *f = n.format;
            return true;
        }
    }
    return false;
}

LineKind parse_line(Format f, std::string_view line, ParseContext *ctx,
                    Request *req, FieldError *err) {
    switch (f) {
        case Format::CloudPhysics:
            return parse_cloudphysics_line(line, ctx, req, err);
        case Format::ArcLis:
            return parse_arc_line(line, ctx, req, err);
        case Format::Msr:
            return parse_msr_line(line, ctx, req, err);
        case Format::Blkparse:
            return parse_blkparse_line(line, ctx, req, err);
        case Format::Auto:
            break;
    }
    err->field = "format";
    err->message = "no trace format chosen";
    return LineKind::Error;
}

Format sniff_format(std::string_view path, std::string_view first_line) {
    for (std::string_view z : {".xz", ".gz", ".zst"}) {
        if (ends_with(path, z)) {
            path.remove_suffix(z.size());
        }
    }
    std::string_view line = trim(first_line);
    if (line.starts_with("version,")) {
        return Format::CloudPhysics;
    }
    if (ends_with(path, ".lis")) {
        return Format::ArcLis;
    }
    std::string_view f[8];
    size_t commas = split_fields(line, ',', f, 7);
    if (line.starts_with("Timestamp,") || commas == 7) {
        return Format::Msr;
    }
    if (commas == 5) {
        return Format::CloudPhysics;
    }
    size_t words = split_fields(line, ' ', f, 7);
    if (words == 4) {
        return Format::ArcLis;
    }
    if (words >= 7 && f[0].find(',') != f[0].npos) {
        return Format::Blkparse;
    }
    return Format::Auto;
}

}  // namespace hcsim
