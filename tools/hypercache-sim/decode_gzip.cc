// SPDX-License-Identifier: GPL-2.0-or-later
//
// .gz input through zlib, including files of several gzip members (what
// `cat a.gz b.gz` produces).
#include <zlib.h>

#include "input.h"

namespace hcsim {

namespace {

class GzipSource final : public ByteSource {
public:
    explicit GzipSource(std::unique_ptr<ByteSource> raw)
        : raw_(std::move(raw)) {}
    ~GzipSource() override {
        if (inited_) {
            inflateEnd(&strm_);
        }
    }

    bool init(std::string *err) {
        // 16 + MAX_WBITS: expect the gzip wrapper, not raw zlib.
        if (inflateInit2(&strm_, 16 + MAX_WBITS) != Z_OK) {
            *err = "cannot start the gzip decoder";
            return false;
        }
        inited_ = true;
        return true;
    }

    long read(uint8_t *buf, size_t len, std::string *err) override {
        if (len > (1u << 30)) {
            len = 1u << 30;
        }
        strm_.next_out = buf;
        strm_.avail_out = static_cast<uInt>(len);
        while (strm_.avail_out == len) {
            if (strm_.avail_in == 0) {
                long n = raw_->read(in_, sizeof(in_), err);
                if (n < 0) {
                    return -1;
                }
                if (n == 0) {
                    if (in_member_) {
                        *err = "truncated gzip data";
                        return -1;
                    }
                    return 0;
                }
                strm_.next_in = in_;
                strm_.avail_in = static_cast<uInt>(n);
            }
            in_member_ = true;
            int r = inflate(&strm_, Z_NO_FLUSH);
            if (r == Z_STREAM_END) {
                in_member_ = false;
                inflateReset(&strm_);
                continue;
            }
            if (r != Z_OK) {
                *err = strm_.msg
                           ? std::string("corrupt gzip data: ") + strm_.msg
                           : std::string("corrupt gzip data");
                return -1;
            }
        }
        return static_cast<long>(len - strm_.avail_out);
    }

private:
    std::unique_ptr<ByteSource> raw_;
    z_stream strm_ = {};
    uint8_t in_[64 * 1024];
    bool inited_ = false;
    bool in_member_ = false;
};

}  // namespace

std::unique_ptr<ByteSource> make_gzip_source(std::unique_ptr<ByteSource> raw,
                                             std::string *err) {
    auto s = std::make_unique<GzipSource>(std::move(raw));
    if (!s->init(err)) {
        return nullptr;
    }
    return s;
}

}  // namespace hcsim
