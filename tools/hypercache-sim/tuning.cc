// SPDX-License-Identifier: GPL-2.0-or-later
#include "tuning.h"

namespace hcsim {

void apply_tuning(const CoreTuning &t, hc_config *cfg) {
    // Out-of-range values are clamped only as far as the field's type
    // needs: hc_config_validate is what refuses them, with its message.
    auto u32 = [](int64_t v) {
        return static_cast<uint32_t>(v > UINT32_MAX ? UINT32_MAX : v);
    };
    if (t.admit_threshold >= 0) {
        cfg->admit_threshold = u32(t.admit_threshold);
    }
    if (t.seq_cutoff >= 0) {
        cfg->seq_cutoff = static_cast<uint64_t>(t.seq_cutoff);
    }
    if (t.dirty_high_pct >= 0) {
        cfg->dirty_high_pct = u32(t.dirty_high_pct);
    }
    if (t.dirty_low_pct >= 0) {
        cfg->dirty_low_pct = u32(t.dirty_low_pct);
    }
    if (t.dirty_max_pct >= 0) {
        cfg->dirty_max_pct = u32(t.dirty_max_pct);
    }
    if (t.max_dirty_age_ms >= 0) {
        cfg->max_dirty_age_ns =
            static_cast<uint64_t>(t.max_dirty_age_ms) * 1000 * 1000;
    }
}

bool check_tuning(const CoreTuning &t, std::string *err) {
    hc_config cfg;
    hc_config_default(&cfg);
    apply_tuning(t, &cfg);
    char msg[256] = "";
    if (hc_config_validate(&cfg, msg, sizeof(msg)) < 0) {
        *err = msg;
        return false;
    }
    return true;
}

}  // namespace hcsim
