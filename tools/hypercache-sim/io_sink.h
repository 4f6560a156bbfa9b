// SPDX-License-Identifier: GPL-2.0-or-later
//
// Where the write-back replay sends the I/O the cache did not absorb.  The
// simulator alone only counts it; --io sends it to a file (io_uring_sink.cc).
#pragma once

#include <sys/uio.h>
#include <cstdint>
#include <string>

namespace hcsim {

class IoSink {
public:
    virtual ~IoSink() = default;
    // Queue I/O; may return before it completes.  Buffers for write() must
    // stay valid until drain().
    virtual bool read(uint64_t offset, uint64_t len, std::string *err) = 0;
    virtual bool write(uint64_t offset, const struct iovec *iov, int iovcnt,
                       std::string *err) = 0;
    // Wait for everything queued.
    virtual bool drain(std::string *err) = 0;
    virtual uint64_t ios() const = 0;
    virtual uint64_t bytes() const = 0;
};

}  // namespace hcsim
