// SPDX-License-Identifier: GPL-2.0-or-later
//
// Cache sizes as users write them: blocks ("5000"), bytes ("64M", "1GiB",
// "4096B") or a share of the trace's working set ("10%", "0.1ws").  The
// share can only be turned into blocks once the trace is read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hcsim {

struct SizeSpec {
    enum Kind { Blocks, Bytes, Fraction } kind = Blocks;
    uint64_t value = 0;     // blocks or bytes
    double fraction = 0.0;  // of the distinct blocks
    std::string text;       // as given, for labels
};

bool parse_size_list(std::string_view list, std::vector<SizeSpec> *out,
                     std::string *err);

// Bytes round down to whole blocks; a fraction rounds down too, as the
// reference simulators do.
uint64_t size_in_blocks(const SizeSpec &s, uint64_t working_set,
                        uint32_t block_size);

// "64M"-style byte counts for other options (--io-size).
bool parse_bytes(std::string_view s, uint64_t *v, std::string *err);

}  // namespace hcsim
