// SPDX-License-Identifier: GPL-2.0-or-later
#include "input.h"

#include <fcntl.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace hcsim {

namespace {

class FdSource final : public ByteSource {
public:
    FdSource(int fd, bool owned) : fd_(fd), owned_(owned) {}
    ~FdSource() override {
        if (owned_) {
            close(fd_);
        }
    }
    long read(uint8_t *buf, size_t len, std::string *err) override {
        for (;;) {
            ssize_t n = ::read(fd_, buf, len);
            if (n >= 0) {
                return n;
            }
            if (errno != EINTR) {
                *err = std::strerror(errno);
                return -1;
            }
        }
    }

private:
    int fd_;
    bool owned_;
};

class MemorySource final : public ByteSource {
public:
    MemorySource(const uint8_t *data, size_t len) : data_(data), left_(len) {}
    long read(uint8_t *buf, size_t len, std::string *) override {
        size_t n = len < left_ ? len : left_;
        if (n) {
            std::memcpy(buf, data_, n);
        }
        data_ += n;
        left_ -= n;
        return static_cast<long>(n);
    }

private:
    const uint8_t *data_;
    size_t left_;
};

// Puts back the bytes read while sniffing the magic number.
class PrefixSource final : public ByteSource {
public:
    PrefixSource(std::unique_ptr<ByteSource> inner, const uint8_t *p, size_t n)
        : inner_(std::move(inner)), n_(n) {
        std::memcpy(prefix_, p, n);
    }
    long read(uint8_t *buf, size_t len, std::string *err) override {
        if (pos_ < n_) {
            size_t k = (n_ - pos_) < len ? (n_ - pos_) : len;
            std::memcpy(buf, prefix_ + pos_, k);
            pos_ += k;
            return static_cast<long>(k);
        }
        return inner_->read(buf, len, err);
    }

private:
    std::unique_ptr<ByteSource> inner_;
    uint8_t prefix_[8];
    size_t n_;
    size_t pos_ = 0;
};

}  // namespace

// Defined in decode_*.cc, one per library.
std::unique_ptr<ByteSource> make_xz_source(std::unique_ptr<ByteSource> raw,
                                           std::string *err);
std::unique_ptr<ByteSource> make_gzip_source(std::unique_ptr<ByteSource> raw,
                                             std::string *err);
std::unique_ptr<ByteSource> make_zstd_source(std::unique_ptr<ByteSource> raw,
                                             std::string *err);

std::unique_ptr<ByteSource> open_file_source(const std::string &path,
                                             std::string *err) {
    if (path == "-") {
        return std::make_unique<FdSource>(0, false);
    }
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = std::strerror(errno);
        return nullptr;
    }
    return std::make_unique<FdSource>(fd, true);
}

std::unique_ptr<ByteSource> memory_source(const uint8_t *data, size_t len) {
    return std::make_unique<MemorySource>(data, len);
}

std::unique_ptr<ByteSource> decompressing_source(
    std::unique_ptr<ByteSource> raw, std::string *err) {
    uint8_t magic[6];
    size_t have = 0;
    while (have < sizeof(magic)) {
        long n = raw->read(magic + have, sizeof(magic) - have, err);
        if (n < 0) {
            return nullptr;
        }
        if (n == 0) {
            break;
        }
        have += static_cast<size_t>(n);
    }
    static const uint8_t xz[] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
    static const uint8_t gz[] = {0x1f, 0x8b};
    static const uint8_t zst[] = {0x28, 0xb5, 0x2f, 0xfd};
    auto src = std::make_unique<PrefixSource>(std::move(raw), magic, have);
    if (have >= sizeof(xz) && !std::memcmp(magic, xz, sizeof(xz))) {
        return make_xz_source(std::move(src), err);
    }
    if (have >= sizeof(gz) && !std::memcmp(magic, gz, sizeof(gz))) {
        return make_gzip_source(std::move(src), err);
    }
    if (have >= sizeof(zst) && !std::memcmp(magic, zst, sizeof(zst))) {
        return make_zstd_source(std::move(src), err);
    }
    return src;
}

LineReader::LineReader(std::unique_ptr<ByteSource> src)
    : src_(std::move(src)),
      buf_(new uint8_t[2 * kMaxLine]),
      cap_(2 * kMaxLine) {}

bool LineReader::fill(std::string *err) {
    if (start_ > 0) {
        std::memmove(buf_.get(), buf_.get() + start_, end_ - start_);
        end_ -= start_;
        start_ = 0;
    }
    while (end_ < cap_ && !eof_) {
        long n = src_->read(buf_.get() + end_, cap_ - end_, err);
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            eof_ = true;
            break;
        }
        end_ += static_cast<size_t>(n);
        // One read is enough to make progress; the caller asks again.
        break;
    }
    return true;
}

int LineReader::next(std::string_view *line, std::string *err) {
    for (;;) {
        const char *base = reinterpret_cast<const char *>(buf_.get());
        const void *nl = std::memchr(base + start_, '\n', end_ - start_);
        if (nl) {
            size_t len = static_cast<const char *>(nl) - (base + start_);
            if (len > kMaxLine) {
                *err = "line too long (more than 65536 bytes)";
                return -1;
            }
            *line = std::string_view(base + start_, len);
            start_ += len + 1;
            lineno_++;
            return 1;
        }
        if (end_ - start_ > kMaxLine) {
            lineno_++;
            *err = "line too long (more than 65536 bytes)";
            return -1;
        }
        if (eof_) {
            if (start_ == end_) {
                return 0;
            }
            // Last line without a newline.
            *line = std::string_view(base + start_, end_ - start_);
            start_ = end_;
            lineno_++;
            return 1;
        }
        if (!fill(err)) {
            return -1;
        }
    }
}

}  // namespace hcsim
