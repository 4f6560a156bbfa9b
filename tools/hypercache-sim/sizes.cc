// SPDX-License-Identifier: GPL-2.0-or-later
#include "sizes.h"

#include <charconv>
#include <cmath>

namespace hcsim {

namespace {

bool parse_number(std::string_view s, double *v) {
    if (s.empty() ||
        !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.')) {
        return false;
    }
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v,
                                   std::chars_format::fixed);
    return ec == std::errc() && p == s.data() + s.size() && std::isfinite(*v);
}

struct Unit {
    std::string_view suffix;
    uint64_t mult;
};

// Longest suffixes first so "KiB" is not read as "B".
constexpr Unit kUnits[] = {
    {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
    {"TiB", 1ull << 40}, {"K", 1ull << 10},   {"M", 1ull << 20},
    {"G", 1ull << 30},   {"T", 1ull << 40},   {"B", 1},
};

bool parse_one(std::string_view t, SizeSpec *s, std::string *err) {
    s->text = std::string(t);
    double v;
    if (t.ends_with('%') || t.ends_with("ws")) {
        std::string_view num =
            t.substr(0, t.size() - (t.ends_with('%') ? 1 : 2));
        if (!parse_number(num, &v)) {
            *err = "bad cache size '" + s->text + "'";
            return false;
        }
        s->kind = SizeSpec::Fraction;
        s->fraction = t.ends_with('%') ? v / 100.0 : v;
        if (s->fraction <= 0 || s->fraction > 1) {
            *err = "cache size '" + s->text +
                   "': a share of the working set must be in (0, 100%]";
            return false;
        }
        return true;
    }
    for (const Unit &u : kUnits) {
        if (t.ends_with(u.suffix)) {
            if (!parse_number(t.substr(0, t.size() - u.suffix.size()), &v) ||
                v * double(u.mult) >= 0x1p62) {
                *err = "bad cache size '" + s->text + "'";
                return false;
            }
            s->kind = SizeSpec::Bytes;
            s->value = static_cast<uint64_t>(v * double(u.mult));
            return true;
        }
    }
    uint64_t n;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (ec != std::errc() || p != t.data() + t.size()) {
        *err = "bad cache size '" + s->text +
               "' (want blocks like 5000, bytes like 64M, or 10% / 0.1ws)";
        return false;
    }
    s->kind = SizeSpec::Blocks;
    s->value = n;
    return true;
}

}  // namespace

bool parse_size_list(std::string_view list, std::vector<SizeSpec> *out,
                     std::string *err) {
    out->clear();
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view t = list.substr(0, comma);
        SizeSpec s;
        if (!parse_one(t, &s, err)) {
            return false;
        }
        out->push_back(s);
        if (comma == list.npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
    if (out->empty()) {
        *err = "no cache sizes given";
        return false;
    }
    return true;
}

uint64_t size_in_blocks(const SizeSpec &s, uint64_t working_set,
                        uint32_t block_size) {
    switch (s.kind) {
        case SizeSpec::Blocks:
            return s.value;
        case SizeSpec::Bytes:
            return s.value / block_size;
        case SizeSpec::Fraction:
            break;
    }
    // The small epsilon keeps 0.01 * 186880 from landing one block short
    // through binary rounding.
    return static_cast<uint64_t>(s.fraction * double(working_set) + 1e-9);
}

bool parse_bytes(std::string_view t, uint64_t *v, std::string *err) {
    SizeSpec s;
    if (!parse_one(t, &s, err) || s.kind == SizeSpec::Fraction) {
        *err = "bad byte count '" + std::string(t) + "'";
        return false;
    }
    *v = s.value;
    return true;
}

}  // namespace hcsim
