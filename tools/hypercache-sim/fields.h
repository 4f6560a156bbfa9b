// SPDX-License-Identifier: GPL-2.0-or-later
//
// Strict field splitting and number parsing shared by the trace parsers:
// every failure names the field so the user can find it in the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "trace.h"

namespace hcsim {

// Splits @line at @sep into at most @max fields; returns how many it found.
// With sep == ' ', runs of blanks and tabs count as one separator and leading
// and trailing blanks are ignored.
size_t split_fields(std::string_view line, char sep, std::string_view *out,
                    size_t max);

std::string_view trim(std::string_view s);

bool parse_u64(std::string_view s, const char *field, uint64_t *v,
               FieldError *err);
bool parse_hex_u64(std::string_view s, const char *field, uint64_t *v,
                   FieldError *err);
// A non-negative decimal such as "12.000034" (blkparse time stamps).
bool parse_seconds(std::string_view s, const char *field, double *v,
                   FieldError *err);

// Multiplies with an overflow check: byte offsets come from untrusted
// sector or page numbers.
bool checked_mul(uint64_t a, uint64_t b, const char *field, uint64_t *v,
                 FieldError *err);
bool checked_end(uint64_t offset, uint64_t len, const char *field,
                 FieldError *err);

}  // namespace hcsim
