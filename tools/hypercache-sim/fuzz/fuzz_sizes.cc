// SPDX-License-Identifier: GPL-2.0-or-later
//
// libFuzzer target: the --sizes and byte-count syntax.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../sizes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view text(reinterpret_cast<const char *>(data), size);
    std::vector<hcsim::SizeSpec> sizes;
    std::string err;
    if (hcsim::parse_size_list(text, &sizes, &err)) {
        for (const auto &s : sizes) {
            uint64_t b = hcsim::size_in_blocks(s, 269210, 4096);
            if (s.kind == hcsim::SizeSpec::Fraction && b > 269210) {
                __builtin_trap();
            }
        }
    } else if (err.empty()) {
        __builtin_trap();
    }
    uint64_t v;
    hcsim::parse_bytes(text, &v, &err);
    return 0;
}
