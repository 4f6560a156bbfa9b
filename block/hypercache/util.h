// SPDX-License-Identifier: GPL-2.0-or-later
//
// Small helpers shared by the core: hashing, power-of-two arithmetic and
// the error message of a refused setting.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace hypercache {

// splitmix64 finaliser: block numbers are dense and sequential, so the index,
// the sketch and the samplers all need their bits scrambled first.
inline uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

inline uint64_t next_pow2(uint64_t x) {
    return x <= 1 ? 1 : std::bit_ceil(x);
}

inline constexpr uint32_t kNil = UINT32_MAX;

// Print the reason a setting is refused into @err (when given) and return
// -EINVAL, for the C API's (err, errlen) convention (config.cc).
int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace hypercache
