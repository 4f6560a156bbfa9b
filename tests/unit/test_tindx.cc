// SPDX-License-Identifier: GPL-2.0-or-later
#include <gtest/gtest.h>

#include "helpers.h"

TEST(Smoke, ReadWrite) {
    hc_cache *c = hctest::make_cache(64);
    std::vector<uint8_t> disk = hctest::pattern(1 << 20, 1);
    auto r = hctest::read_through(c, disk, 4096, 8192);
    EXPECT_EQ(0, memcmp(r.data(), disk.data() + 4096, 8192));
    hc_destroy(c);
}
