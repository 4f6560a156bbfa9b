// SPDX-License-Identifier: GPL-2.0-or-later
//
// .xz input through liblzma.
#include <lzma.h>

#include "input.h"

namespace hcsim {

namespace {

class XzSource final : public ByteSource {
public:
    explicit XzSource(std::unique_ptr<ByteSource> raw) : raw_(std::move(raw)) {}
    ~XzSource() override { lzma_end(&strm_); }

    bool init(std::string *err) {
        // A memory limit keeps a hostile header from asking for gigabytes;
        // real traces compressed with xz -9 need 65 MiB.
        lzma_ret r =
            lzma_stream_decoder(&strm_, UINT64_C(256) << 20, LZMA_CONCATENATED);
        if (r != LZMA_OK) {
            *err = "cannot start the xz decoder";
            return false;
        }
        return true;
    }

    long read(uint8_t *buf, size_t len, std::string *err) override {
        if (done_) {
            return 0;
        }
        strm_.next_out = buf;
        strm_.avail_out = len;
        while (strm_.avail_out == len) {
            lzma_action action = LZMA_RUN;
            if (strm_.avail_in == 0 && !raw_eof_) {
                long n = raw_->read(in_, sizeof(in_), err);
                if (n < 0) {
                    return -1;
                }
                raw_eof_ = (n == 0);
                strm_.next_in = in_;
                strm_.avail_in = static_cast<size_t>(n);
            }
            if (raw_eof_) {
                action = LZMA_FINISH;
            }
            lzma_ret r = lzma_code(&strm_, action);
            if (r == LZMA_STREAM_END) {
                done_ = true;
                break;
            }
            if (r != LZMA_OK) {
                *err = describe(r);
                return -1;
            }
        }
        return static_cast<long>(len - strm_.avail_out);
    }

private:
    static const char *describe(lzma_ret r) {
        switch (r) {
            case LZMA_MEMLIMIT_ERROR:
                return "xz data needs more than 256 MiB to decode";
            case LZMA_FORMAT_ERROR:
                return "not xz data";
            case LZMA_DATA_ERROR:
                return "corrupt xz data";
            case LZMA_BUF_ERROR:
                return "truncated xz data";
            default:
                return "xz decoding failed";
        }
    }

    std::unique_ptr<ByteSource> raw_;
    lzma_stream strm_ = LZMA_STREAM_INIT;
    uint8_t in_[64 * 1024];
    bool raw_eof_ = false;
    bool done_ = false;
};

}  // namespace

std::unique_ptr<ByteSource> make_xz_source(std::unique_ptr<ByteSource> raw,
                                           std::string *err) {
    auto s = std::make_unique<XzSource>(std::move(raw));
    if (!s->init(err)) {
        return nullptr;
    }
    return s;
}

}  // namespace hcsim
