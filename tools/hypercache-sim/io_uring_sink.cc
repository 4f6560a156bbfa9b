// SPDX-License-Identifier: GPL-2.0-or-later
#include "io_uring_sink.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace hcsim {

namespace {

constexpr uint64_t kAlign = 4096;
constexpr uint64_t kChunk = 1 << 20;  // largest single read issued

std::string errno_text(const char *what, int e) {
    return std::string(what) + ": " + std::strerror(e);
}

class Uring final : public IoSink {
public:
    ~Uring() override {
        if (ring_ok_) {
            std::string ignored;
            drain(&ignored);
            io_uring_queue_exit(&ring_);
        }
        if (fd_ >= 0) {
            close(fd_);
        }
        std::free(buf_);
    }

    bool open(const std::string &path, uint64_t create_size, uint32_t depth,
              std::string *err) {
        struct stat st;
        bool exists = stat(path.c_str(), &st) == 0;
        if (exists && !S_ISREG(st.st_mode)) {
            // The replay writes garbage: refuse anything but a scratch file.
            *err = path + ": --io wants a regular file it may overwrite";
            return false;
        }
        fd_ =
            ::open(path.c_str(), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
        if (fd_ < 0) {
            *err = path + ": " + errno_text("open with O_DIRECT", errno);
            return false;
        }
        if (posix_memalign(reinterpret_cast<void **>(&buf_), kAlign, kChunk)) {
            *err = "out of memory";
            return false;
        }
        std::memset(buf_, 0xa5, kChunk);
        size_ = exists ? static_cast<uint64_t>(st.st_size) : 0;
        if (size_ < kChunk) {
            size_ = create_size / kChunk * kChunk;
            if (size_ < kChunk) {
                size_ = kChunk;
            }
            if (!fill(err)) {
                *err = path + ": " + *err;
                return false;
            }
        }
        size_ = size_ / kAlign * kAlign;
        depth_ = depth;
        int r = io_uring_queue_init(depth, &ring_, 0);
        if (r < 0) {
            *err = errno_text("io_uring_queue_init", -r);
            return false;
        }
        ring_ok_ = true;
        return true;
    }

    bool read(uint64_t offset, uint64_t len, std::string *err) override {
        while (len) {
            uint64_t n = len < kChunk ? len : kChunk;
            struct iovec iov = {buf_, n};
            if (!submit(false, offset, &iov, 1, err)) {
                return false;
            }
            offset += n;
            len -= n;
        }
        return true;
    }

    bool write(uint64_t offset, const struct iovec *iov, int iovcnt,
               std::string *err) override {
        return submit(true, offset, iov, iovcnt, err);
    }

    bool drain(std::string *err) override {
        while (inflight_) {
            if (!reap(err)) {
                return false;
            }
        }
        return true;
    }

    uint64_t ios() const override { return ios_; }
    uint64_t bytes() const override { return bytes_; }

    bool sync(std::string *err) {
        if (fdatasync(fd_) < 0) {
            *err = errno_text("fdatasync", errno);
            return false;
        }
        return true;
    }

private:
    // Writes the whole file once so later reads touch real blocks.
    bool fill(std::string *err) {
        for (uint64_t off = 0; off < size_; off += kChunk) {
            ssize_t n = pwrite(fd_, buf_, kChunk, static_cast<off_t>(off));
            if (n != static_cast<ssize_t>(kChunk)) {
                *err = errno_text("writing the file", n < 0 ? errno : EIO);
                return false;
            }
        }
        return sync(err);
    }

    bool submit(bool is_write, uint64_t offset, const struct iovec *iov,
                int iovcnt, std::string *err) {
        uint64_t len = 0;
        for (int i = 0; i < iovcnt; i++) {
            len += iov[i].iov_len;
        }
        if (len == 0 || len > size_) {
            *err = "--io: request of " + std::to_string(len) +
                   " bytes does not fit the file";
            return false;
        }
        // Wrap the trace's disk onto the file, keeping alignment.
        offset = (offset % size_) / kAlign * kAlign;
        if (offset + len > size_) {
            offset = (size_ - len) / kAlign * kAlign;
        }
        while (inflight_ >= depth_) {
            if (!reap(err)) {
                return false;
            }
        }
        io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
        if (!sqe) {
            *err = "io_uring: no free submission entry";
            return false;
        }
        // Vectored requests: the kernel imports the iovec array during
        // io_uring_submit() below, before the caller's array can go away.
        if (iovcnt == 1) {
            if (is_write) {
                io_uring_prep_write(sqe, fd_, iov[0].iov_base,
                                    static_cast<unsigned>(len), offset);
            } else {
                io_uring_prep_read(sqe, fd_, iov[0].iov_base,
                                   static_cast<unsigned>(len), offset);
            }
        } else if (is_write) {
            io_uring_prep_writev(sqe, fd_, iov, iovcnt, offset);
        } else {
            io_uring_prep_readv(sqe, fd_, iov, iovcnt, offset);
        }
        io_uring_sqe_set_data64(sqe, len);
        int r = io_uring_submit(&ring_);
        if (r < 0) {
            *err = errno_text("io_uring_submit", -r);
            return false;
        }
        inflight_++;
        ios_++;
        bytes_ += len;
        return true;
    }

    bool reap(std::string *err) {
        io_uring_cqe *cqe = nullptr;
        int r = io_uring_wait_cqe(&ring_, &cqe);
        if (r < 0) {
            *err = errno_text("io_uring_wait_cqe", -r);
            return false;
        }
        int64_t want = static_cast<int64_t>(io_uring_cqe_get_data64(cqe));
        int res = cqe->res;
        io_uring_cqe_seen(&ring_, cqe);
        inflight_--;
        if (res < 0) {
            *err = errno_text("--io request", -res);
            return false;
        }
        if (res != want) {
            *err = "--io: short transfer (" + std::to_string(res) + " of " +
                   std::to_string(want) + " bytes)";
            return false;
        }
        return true;
    }

    int fd_ = -1;
    uint8_t *buf_ = nullptr;
    uint64_t size_ = 0;
    uint32_t depth_ = 32;
    io_uring ring_;
    bool ring_ok_ = false;
    uint32_t inflight_ = 0;
    uint64_t ios_ = 0, bytes_ = 0;
};

}  // namespace

std::unique_ptr<IoSink> open_uring_sink(const std::string &path,
                                        uint64_t create_size, uint32_t depth,
                                        std::string *err) {
    auto u = std::make_unique<Uring>();
    if (!u->open(path, create_size, depth, err)) {
        return nullptr;
    }
    return u;
}

bool sync_uring_sink(IoSink *sink, std::string *err) {
    return static_cast<Uring *>(sink)->sync(err);
}

}  // namespace hcsim
