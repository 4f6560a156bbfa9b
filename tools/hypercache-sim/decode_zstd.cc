// SPDX-License-Identifier: GPL-2.0-or-later
//
// .zst input through libzstd (several frames in a row are one stream).
#include <zstd.h>

#include "input.h"

namespace hcsim {

namespace {

class ZstdSource final : public ByteSource {
public:
    explicit ZstdSource(std::unique_ptr<ByteSource> raw)
        : raw_(std::move(raw)) {}
    ~ZstdSource() override { ZSTD_freeDStream(ds_); }

    bool init(std::string *err) {
        ds_ = ZSTD_createDStream();
        if (!ds_ || ZSTD_isError(ZSTD_initDStream(ds_))) {
            *err = "cannot start the zstd decoder";
            return false;
        }
        return true;
    }

    long read(uint8_t *buf, size_t len, std::string *err) override {
        ZSTD_outBuffer out = {buf, len, 0};
        while (out.pos == 0) {
            if (in_.pos == in_.size) {
                long n = raw_->read(inbuf_, sizeof(inbuf_), err);
                if (n < 0) {
                    return -1;
                }
                if (n == 0) {
                    if (in_frame_) {
                        *err = "truncated zstd data";
                        return -1;
                    }
                    return 0;
                }
                in_ = {inbuf_, static_cast<size_t>(n), 0};
            }
            size_t r = ZSTD_decompressStream(ds_, &out, &in_);
            if (ZSTD_isError(r)) {
                *err =
                    std::string("corrupt zstd data: ") + ZSTD_getErrorName(r);
                return -1;
            }
            // r == 0: a frame ended exactly here.
            in_frame_ = (r != 0);
        }
        return static_cast<long>(out.pos);
    }

private:
    std::unique_ptr<ByteSource> raw_;
    ZSTD_DStream *ds_ = nullptr;
    uint8_t inbuf_[64 * 1024];
    ZSTD_inBuffer in_ = {nullptr, 0, 0};
    bool in_frame_ = false;
};

}  // namespace

std::unique_ptr<ByteSource> make_zstd_source(std::unique_ptr<ByteSource> raw,
                                             std::string *err) {
    auto s = std::make_unique<ZstdSource>(std::move(raw));
    if (!s->init(err)) {
        return nullptr;
    }
    return s;
}

}  // namespace hcsim
