// SPDX-License-Identifier: GPL-2.0-or-later
#include "core_session.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace hcsim {

std::vector<hc_policy> core_policies() {
    std::vector<hc_policy> all;
    for (int p = 0; p < HC_POLICY__MAX; p++) {
        all.push_back(static_cast<hc_policy>(p));
    }
    return all;
}

CachePtr make_cache(const CoreRun &run, hc_mode mode, std::string *err) {
    hc_config cfg;
    hc_config_default(&cfg);
    cfg.size = run.cache_blocks() * run.block_size;
    cfg.block_size = run.block_size;
    cfg.mode = mode;
    cfg.policy = run.policy;
    apply_tuning(run.tuning, &cfg);
    char msg[256] = "";
    if (hc_config_validate(&cfg, msg, sizeof(msg)) < 0) {
        *err = std::string("core rejects the configuration: ") + msg;
        return nullptr;
    }
    hc_cache *c = hc_create(&cfg, msg, sizeof(msg));
    if (!c) {
        *err = std::string("hc_create failed: ") + msg;
        return nullptr;
    }
    return CachePtr(c);
}

const uint8_t *ScratchBuffer::get(size_t len) {
    if (len > len_) {
        size_t n = (len + 4095) & ~size_t(4095);
        void *p = std::aligned_alloc(4096, n);
        if (!p) {
            throw std::bad_alloc();
        }
        std::memset(p, 0, n);
        buf_.reset(static_cast<uint8_t *>(p));
        len_ = n;
    }
    return buf_.get();
}

void fill_core_stats(hc_cache *c, uint32_t block_size, RunResult *res) {
    hc_stats st;
    hc_get_stats(c, &st);
    res->has_core_stats = true;
    res->admissions = st.admissions;
    res->rejections = st.rejections;
    res->evictions = st.evictions;
    res->bypassed = st.bypassed;
    res->writeback_requests = st.writeback_requests;
    res->writeback_blocks = st.writeback_bytes / block_size;
    res->writeback_errors = st.writeback_errors;
    res->metadata_bytes = st.metadata_bytes;
}

}  // namespace hcsim
