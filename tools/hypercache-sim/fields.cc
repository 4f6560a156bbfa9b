// SPDX-License-Identifier: GPL-2.0-or-later
#include "fields.h"

#include <charconv>
#include <string>

namespace hcsim {

namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

// Error text quotes the offending value, cut short so a binary blob does not
// flood the terminal.
std::string quote(std::string_view s) {
    std::string q = "'";
    for (char c : s.substr(0, 40)) {
        q += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    if (s.size() > 40) {
        q += "...";
    }
    return q + "'";
}

bool fail(FieldError *err, const char *field, std::string msg) {
    err->field = field;
    err->message = std::move(msg);
    return false;
}

}  // namespace

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_blank(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

size_t split_fields(std::string_view line, char sep, std::string_view *out,
                    size_t max) {
    size_t n = 0;
    if (sep == ' ') {
        size_t i = 0;
        while (i < line.size() && n < max) {
            while (i < line.size() && is_blank(line[i])) {
                i++;
            }
            if (i == line.size()) {
                break;
            }
            size_t start = i;
            while (i < line.size() && !is_blank(line[i])) {
                i++;
            }
            out[n++] = line.substr(start, i - start);
        }
        // A further field beyond @max is reported by returning max + 1 so the
        // caller can reject lines with too many fields.
        while (i < line.size() && is_blank(line[i])) {
            i++;
        }
        return (i < line.size()) ? max + 1 : n;
    }
    size_t start = 0;
    for (;;) {
        size_t pos = line.find(sep, start);
        if (n == max) {
            return max + 1;
        }
        if (pos == std::string_view::npos) {
            out[n++] = trim(line.substr(start));
            return n;
        }
        out[n++] = trim(line.substr(start, pos - start));
        start = pos + 1;
    }
}

bool parse_u64(std::string_view s, const char *field, uint64_t *v,
               FieldError *err) {
    if (s.empty()) {
        return fail(err, field, "missing value");
    }
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v, 10);
    if (ec == std::errc::result_out_of_range) {
        return fail(err, field, "number too large: " + quote(s));
    }
    if (ec != std::errc() || p != s.data() + s.size()) {
        return fail(err, field,
                    "expected an unsigned decimal integer, got " + quote(s));
    }
    return true;
}

bool parse_hex_u64(std::string_view s, const char *field, uint64_t *v,
                   FieldError *err) {
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
    }
    if (s.empty()) {
        return fail(err, field, "missing value");
    }
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v, 16);
    if (ec == std::errc::result_out_of_range) {
        return fail(err, field, "number too large: " + quote(s));
    }
    if (ec != std::errc() || p != s.data() + s.size()) {
        return fail(err, field,
                    "expected a hexadecimal number, got " + quote(s));
    }
    return true;
}

bool parse_seconds(std::string_view s, const char *field, double *v,
                   FieldError *err) {
    // from_chars for double would accept "inf", "nan" and exponents; a time
    // stamp is digits with at most one dot, so check that first.
    size_t dots = 0;
    size_t digits = 0;
    for (char c : s) {
        if (c == '.') {
            dots++;
        } else if (c >= '0' && c <= '9') {
            digits++;
        } else {
            digits = 0;
            break;
        }
    }
    if (s.empty() || digits == 0 || dots > 1) {
        return fail(err, field,
                    "expected seconds like 12.345, got " + quote(s));
    }
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
    if (ec != std::errc() || p != s.data() + s.size()) {
        return fail(err, field,
                    "expected seconds like 12.345, got " + quote(s));
    }
    return true;
}

bool checked_mul(uint64_t a, uint64_t b, const char *field, uint64_t *v,
                 FieldError *err) {
    if (__builtin_mul_overflow(a, b, v)) {
        return fail(err, field, "value out of range (byte offset overflows)");
    }
    return true;
}

bool checked_end(uint64_t offset, uint64_t len, const char *field,
                 FieldError *err) {
    uint64_t end;
    // Keep a margin below 2^64 so rounding the end up to a block stays exact.
    if (__builtin_add_overflow(offset, len, &end) ||
        end > (UINT64_C(1) << 62)) {
        return fail(err, field, "request ends beyond 2^62 bytes");
    }
    return true;
}

}  // namespace hcsim
