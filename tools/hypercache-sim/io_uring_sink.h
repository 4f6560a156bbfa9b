// SPDX-License-Identifier: GPL-2.0-or-later
//
// An IoSink that really reads and writes a file with io_uring and O_DIRECT,
// so the replay can report wall time instead of counts (--io).
#pragma once

#include <memory>
#include <string>

#include "io_sink.h"

namespace hcsim {

class UringSink;

// Opens @path (a regular file; created and filled with @create_size bytes
// if missing, so reads hit allocated blocks, not holes).  Offsets beyond
// the file wrap around.
std::unique_ptr<IoSink> open_uring_sink(const std::string &path,
                                        uint64_t create_size, uint32_t depth,
                                        std::string *err);

// fdatasync() the file behind a sink made by open_uring_sink.
bool sync_uring_sink(IoSink *sink, std::string *err);

}  // namespace hcsim
