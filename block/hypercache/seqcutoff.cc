// SPDX-License-Identifier: GPL-2.0-or-later
#include "seqcutoff.h"

namespace hypercache {

bool SeqDetector::observe(uint64_t offset, uint64_t len, uint64_t cutoff) {
    if (cutoff == 0) {
        return false;
    }
    std::lock_guard g(mu_);
    clock_++;
    Stream *lru = &streams_[0];
    for (Stream &s : streams_) {
        if (s.next == offset) {
            s.next = offset + len;
            s.run += len;
            s.used = clock_;
            return s.run > cutoff;
        }
        if (s.used < lru->used) {
            lru = &s;
        }
    }
    *lru = Stream{offset + len, len, clock_};
    return len > cutoff;
}

void SeqDetector::reset() {
    std::lock_guard g(mu_);
    streams_.fill(Stream{});
}

}  // namespace hypercache
