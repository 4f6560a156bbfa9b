// SPDX-License-Identifier: GPL-2.0-or-later
//
// Sequential cutoff (as bcache and OCF do it): requests that continue a
// stream which has already run longer than seq_cutoff bypass the cache, so
// a backup or a large copy does not wash the hot blocks out.  Tracks a few
// concurrent streams, each identified by where its next request would start.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

namespace hypercache {

class SeqDetector {
public:
    // Note a request; true if it belongs to a stream longer than @cutoff
    // (cutoff 0 = never bypass).
    bool observe(uint64_t offset, uint64_t len, uint64_t cutoff);
    void reset();

private:
    struct Stream {
        uint64_t next = UINT64_MAX;  // offset the stream's next request has
        uint64_t run = 0;            // bytes so far
        uint64_t used = 0;           // for replacing the least recent
    };
    std::mutex mu_;
    std::array<Stream, 8> streams_{};
    uint64_t clock_ = 0;
};

}  // namespace hypercache
