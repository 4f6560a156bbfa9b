// SPDX-License-Identifier: GPL-2.0-or-later
#include "reference.h"

namespace hcsim {

const std::vector<RefPolicy> &reference_policies() {
    static const std::vector<RefPolicy> refs = {
        {"ref-lru", run_reference_lru, false},
        {"ref-arc", run_reference_arc, false},
        {"ref-lirs", run_reference_lirs, false},
        {"ref-2q", run_reference_2q, false},
        {"ref-wtinylfu", run_reference_wtinylfu, false},
        {"ref-wtinylfu-1pct", run_reference_wtinylfu_fixed, false},
        {"ref-sieve", run_reference_sieve, false},
        {"ref-s3fifo", run_reference_s3fifo, false},
        {"ref-opt", run_reference_opt, true},
        {"ref-freq-model", run_reference_freq_model, false},
        {"ref-afreq", run_reference_afreq, false},
        {"ref-afreq-hc", run_reference_afreq_hc, false},
        {"ref-afreq-ms", run_reference_afreq_ms, false},
    };
    return refs;
}

}  // namespace hcsim
