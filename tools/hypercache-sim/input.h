// SPDX-License-Identifier: GPL-2.0-or-later
//
// Byte input with transparent decompression, and a line reader on top.
// The compression is recognised by its magic bytes, not the file name, so a
// renamed or piped file still reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace hcsim {

class ByteSource {
public:
    virtual ~ByteSource() = default;
    // Returns bytes read, 0 at the end, or -1 with *err set.
    virtual long read(uint8_t *buf, size_t len, std::string *err) = 0;
};

// A file ("-" is standard input), not decompressed.
std::unique_ptr<ByteSource> open_file_source(const std::string &path,
                                             std::string *err);
// Bytes in memory (fuzzers, tests); @data must outlive the source.
std::unique_ptr<ByteSource> memory_source(const uint8_t *data, size_t len);

// Wraps @raw in the decoder its first bytes call for (xz, gzip, zstd), or
// passes it through unchanged.
std::unique_ptr<ByteSource> decompressing_source(
    std::unique_ptr<ByteSource> raw, std::string *err);

class LineReader {
public:
    explicit LineReader(std::unique_ptr<ByteSource> src);
    // Returns 1 with *line set (without the newline), 0 at the end, -1 on a
    // read error or a line longer than kMaxLine, with *err set.
    int next(std::string_view *line, std::string *err);
    uint64_t line_number() const { return lineno_; }

    static constexpr size_t kMaxLine = 64 * 1024;

private:
    bool fill(std::string *err);

    std::unique_ptr<ByteSource> src_;
    std::unique_ptr<uint8_t[]> buf_;
    size_t cap_;
    size_t start_ = 0;
    size_t end_ = 0;
    bool eof_ = false;
    uint64_t lineno_ = 0;
};

}  // namespace hcsim
