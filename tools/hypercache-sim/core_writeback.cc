// SPDX-License-Identifier: GPL-2.0-or-later
//
// The write-back replay: the trace's requests as a guest would issue them
// to a cache in write-back mode, with write-back driven the way the QEMU
// glue drives it (watermark and age checks after each request, a final
// flush at the end).
#include <cerrno>
#include <chrono>

#include "core_session.h"

namespace hcsim {

namespace {

class Replay {
public:
    Replay(hc_cache *c, const CoreRun &run, IoSink *io, RunResult *res)
        : c_(c), bs_(run.block_size), io_(io), res_(res) {}

    bool read(uint64_t offset, uint64_t len, std::string *err) {
        hc_read_plan *plan = nullptr;
        int r = hc_read_begin(c_, offset, len, &plan);
        if (r < 0) {
            *err = "hc_read_begin: error " + std::to_string(r);
            return false;
        }
        res_->accesses += len / bs_;
        size_t n = hc_read_plan_count(plan);
        for (size_t s = 0; s < n; s++) {
            const hc_read_seg *seg = hc_read_plan_seg(plan, s);
            if (seg->hit) {
                continue;
            }
            res_->misses += seg->len / bs_;
            if (io_ && !io_->read(seg->offset, seg->len, err)) {
                hc_read_end(c_, plan);
                return false;
            }
            // The data is never looked at, so the fill need not wait for
            // the read: only the decisions and the I/O volume matter here.
            hc_read_fill(c_, plan, s, scratch_.get(seg->len));
        }
        hc_read_end(c_, plan);
        return true;
    }

    bool write(uint64_t offset, uint64_t len, uint64_t now, std::string *err) {
        struct iovec iov = {const_cast<uint8_t *>(scratch_.get(len)), len};
        res_->guest_write_blocks += len / bs_;
        bool stalled = false;
        // -ENOSPC (WB full) and -EAGAIN (blocks busy) both clear once
        // write-back has run; everything here completes synchronously, so
        // a few rounds suffice, and more means the core is stuck.
        for (int attempt = 0; attempt < 4; attempt++) {
            hc_write_ticket *ticket = nullptr;
            int r = hc_write_begin(c_, offset, len, &iov, 1, 0, 0, &ticket);
            if (r == HC_WRITE_DONE) {
                return true;
            }
            if (r == HC_WRITE_CHILD) {
                res_->child_write_requests++;
                res_->child_write_blocks += len / bs_;
                bool ok = !io_ ||
                          (io_->write(offset, &iov, 1, err) && io_->drain(err));
                hc_write_end(c_, ticket, ok ? 0 : -EIO);
                return ok;
            }
            if (r != -ENOSPC && r != -EAGAIN) {
                *err = "hc_write_begin: error " + std::to_string(r);
                return false;
            }
            if (r == -ENOSPC) {
                res_->enospc++;
                res_->writes_stalled += !stalled;
                stalled = true;
            } else {
                res_->eagain++;
            }
            hc_wb_reason why = attempt < 2 ? HC_WB_WATERMARK : HC_WB_FLUSH;
            if (!write_back(why, hc_dirty_seq(c_), now, RunResult::kFull,
                            err)) {
                return false;
            }
        }
        *err =
            "hc_write_begin keeps failing with -ENOSPC/-EAGAIN after "
            "write-back";
        return false;
    }

    // What the glue's timer does: write back while the core asks for it.
    bool background(uint64_t now, std::string *err) {
        for (int rounds = 0; rounds < 16; rounds++) {
            int why = hc_writeback_wanted(c_, now);
            if (why < 0) {
                return true;
            }
            uint64_t before = written_;
            auto cause =
                why == HC_WB_AGE ? RunResult::kAge : RunResult::kWatermark;
            if (!write_back(static_cast<hc_wb_reason>(why), hc_dirty_seq(c_),
                            now, cause, err)) {
                return false;
            }
            if (written_ == before) {
                return true;  // wanted, but nothing to hand out
            }
        }
        return true;
    }

    bool flush(uint64_t now, std::string *err) {
        uint64_t seq = hc_dirty_seq(c_);
        if (!write_back(HC_WB_FLUSH, seq, now, RunResult::kFinalFlush, err)) {
            return false;
        }
        uint64_t left = hc_dirty_pending(c_, seq);
        if (left) {
            *err = "flush left " + std::to_string(left) + " blocks dirty";
            return false;
        }
        return true;
    }

    // Dirty data is what a flush would have to write back now, and memory
    // that cannot be evicted for reads.
    void sample_dirty() {
        hc_stats st;
        hc_get_stats(c_, &st);
        uint64_t d = st.dirty_bytes / bs_;
        if (d > res_->peak_dirty_blocks) {
            res_->peak_dirty_blocks = d;
        }
    }

private:
    bool write_back(hc_wb_reason why, uint64_t seq, uint64_t now,
                    RunResult::WbCause cause, std::string *err) {
        // Extents are handed out until the core has none left; they stay
        // busy until done, so collect, issue, wait, then complete them.
        std::vector<hc_extent *> batch;
        hc_extent *ext = nullptr;
        bool ok = true;
        while (hc_writeback_next(c_, why, seq, now, &ext) == 1) {
            batch.push_back(ext);
            res_->wb_requests_by[cause]++;
            res_->wb_blocks_by[cause] += ext->len / bs_;
            if (io_ && !io_->write(ext->offset, ext->iov, ext->iovcnt, err)) {
                ok = false;
                break;
            }
            if (batch.size() >= 256) {
                ok = finish(batch, err);
                if (!ok) {
                    break;
                }
            }
        }
        return finish(batch, err) && ok;
    }

    bool finish(std::vector<hc_extent *> &batch, std::string *err) {
        bool ok = !io_ || io_->drain(err);
        for (hc_extent *e : batch) {
            written_ += e->len;
            hc_writeback_done(c_, e, ok ? 0 : -EIO);
        }
        batch.clear();
        return ok;
    }

    hc_cache *c_;
    uint32_t bs_;
    IoSink *io_;
    RunResult *res_;
    ScratchBuffer scratch_;
    uint64_t written_ = 0;
};

// Traces without time stamps (ARC .lis) advance a simulated clock by 1 ms
// per request so write-back ageing still happens; --time-scale applies
// only to real stamps.
uint64_t request_time_ns(const Request &r, size_t index, double scale) {
    if (r.time >= 0) {
        // A large --time-scale must not overflow the conversion.
        double ns = r.time * scale * 1e9;
        return ns < 1.8e19 ? static_cast<uint64_t>(ns) : UINT64_C(1) << 63;
    }
    return static_cast<uint64_t>(index) * 1000000;
}

}  // namespace

bool run_core_writeback(const std::vector<Request> &reqs, bool reads_only,
                        const CoreRun &run, IoSink *io, RunResult *res,
                        std::string *err) {
    auto t0 = std::chrono::steady_clock::now();
    res->policy = hc_policy_name(run.policy);
    res->mode = "writeback";
    res->size_blocks = run.blocks;
    res->size_bytes = run.blocks * run.block_size;
    CachePtr cache = make_cache(run, HC_MODE_WRITEBACK, err);
    if (!cache) {
        return false;
    }
    Replay replay(cache.get(), run, io, res);
    uint64_t bs = run.block_size;
    uint64_t now = 0;
    for (size_t i = 0; i < reqs.size(); i++) {
        const Request &r = reqs[i];
        if (reads_only && r.write) {
            continue;
        }
        // Whole blocks, as the counting replay and the published method
        // count them.
        uint64_t start = r.offset / bs * bs;
        uint64_t end = (r.offset + r.len + bs - 1) / bs * bs;
        now = request_time_ns(r, i, run.time_scale);
        bool ok = r.write ? replay.write(start, end - start, now, err)
                          : replay.read(start, end - start, err);
        if (ok) {
            replay.sample_dirty();  // before write-back: the peak
        }
        if (!ok || !replay.background(now, err)) {
            *err = "request " + std::to_string(i + 1) + ": " + *err;
            return false;
        }
    }
    if (!replay.flush(now, err) || (io && !io->drain(err))) {
        return false;
    }
    res->miss_ratio =
        res->accesses ? double(res->misses) / double(res->accesses) : 0;
    fill_core_stats(cache.get(), run.block_size, res);
    res->elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    return true;
}

}  // namespace hcsim
