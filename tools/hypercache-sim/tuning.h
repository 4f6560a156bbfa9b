// SPDX-License-Identifier: GPL-2.0-or-later
//
// Command-line overrides of the core's configuration, kept apart from the
// options parser so that both the parser (to refuse bad values early) and
// the core runs apply them the same way.
#pragma once

#include <cstdint>
#include <string>

#include "block/hypercache-core.h"

namespace hcsim {

// Each field: negative = keep the core's default (hc_config_default).
struct CoreTuning {
    int64_t admit_threshold = -1;
    int64_t seq_cutoff = -1;  // bytes
    int64_t dirty_high_pct = -1;
    int64_t dirty_low_pct = -1;
    int64_t dirty_max_pct = -1;
    int64_t max_dirty_age_ms = -1;  // 0 = no age limit
};

void apply_tuning(const CoreTuning &t, hc_config *cfg);

// Whether the core accepts the overrides on top of its defaults; if not,
// *err is the core's own message (hc_config_validate), which names the
// setting and its allowed range.
bool check_tuning(const CoreTuning &t, std::string *err);

}  // namespace hcsim
