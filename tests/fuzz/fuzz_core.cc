// SPDX-License-Identifier: GPL-2.0-or-later
//
// libFuzzer target for the hypercache core's C API.
//
// The input is a configuration followed by a sequence of operations, as the
// glue would issue them, with requests left outstanding across other
// operations (read plans pinned while writes and write-back run, write
// tickets and write-back extents completed late, with success or EIO):
//   read (checked), read begun now and filled later with then-stale child
//   data (through a bounce buffer, or straight into the slots the plan
//   reserved: child read, hc_read_fill_done or hc_read_failed and
//   hc_read_end each a step of their own, in any interleaving with the
//   other operations), write (optionally FUA), write completion, write-back of
//   any reason, write-back completion, discard, write-zeroes, reconfigure,
//   flush, block-status query.
// A byte-exact model of what the guest wrote, and a byte array standing for
// the child disk, check that:
//   - every read returns the newest acknowledged data (bytes with a write
//     still in flight, or whose last write failed, are not checked);
//   - write-back extents do not change while they are out at the "child",
//     nor do a read's pinned hits and filled slots until its end;
//   - after a flush every acknowledged byte is on the disk;
//   - a range hc_range_dirty() calls clean holds on disk what the model holds;
//   - single flight: no block has two child reads out at once; a plan's
//     wait runs (hc_read_seg.wait) cover only blocks another plan is
//     reading, and hc_read_wait_pending() turns false once no plan reads
//     them any more; a checked read waits the way the glue does (completing
//     outstanding requests) and reads the run again through a new plan;
//   - nothing crashes, leaks or trips ASan/UBSan.
// With HC_FUZZ_TRACE set, every operation is printed to stderr: run one
// crash input that way to see what led to it.
#include <fuzzer/FuzzedDataProvider.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <vector>

#include "block/hypercache-core.h"

namespace {

constexpr uint64_t kDisk = 256 * 1024;
constexpr uint64_t kSector = 512;

const bool g_trace = getenv("HC_FUZZ_TRACE") != nullptr;

__attribute__((format(printf, 1, 2))) void trace(const char *fmt, ...) {
    if (!g_trace) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

[[noreturn]] void fail(const char *what, uint64_t off) {
    fprintf(stderr, "fuzz_core: %s at offset %llu\n", what,
            (unsigned long long)off);
    abort();
}

uint8_t pat(uint32_t id, uint64_t pos) {
    uint64_t x = (uint64_t(id) << 32) ^ pos ^ 0x9e3779b97f4a7c15ull;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return uint8_t(x);
}

struct PendingRead {
    enum Stage { kUnread, kRead, kDone, kFailed };
    hc_read_plan *plan;
    std::vector<std::vector<uint8_t>> snap;  // child data at begin time
    bool direct = false;       // reads into fill_iov instead of a bounce buffer
    std::vector<Stage> stage;  // direct: per segment
    std::vector<std::vector<uint8_t>> held;  // direct: what it holds
};

std::vector<uint8_t> held_bytes(const hc_read_seg *s) {
    std::vector<uint8_t> v;
    if (s->hit) {
        auto *h = static_cast<const uint8_t *>(s->hit);
        v.assign(h, h + s->len);
    }
    for (int k = 0; k < s->fill_iovcnt; k++) {
        auto *b = static_cast<const uint8_t *>(s->fill_iov[k].iov_base);
        v.insert(v.end(), b, b + s->fill_iov[k].iov_len);
    }
    return v;
}

struct PendingWrite {
    hc_write_ticket *t;
    uint64_t off;
    std::vector<uint8_t> data;
};

struct PendingWb {
    hc_extent *e;
    std::vector<uint8_t> data;  // its bytes when handed out
};

struct State {
    hc_cache *c = nullptr;
    hc_config cfg{};
    std::vector<uint8_t> disk = std::vector<uint8_t>(kDisk, 0);
    std::vector<uint8_t> model = std::vector<uint8_t>(kDisk, 0);
    std::vector<uint8_t> known = std::vector<uint8_t>(kDisk, 1);
    std::vector<uint16_t> inflight = std::vector<uint16_t>(kDisk, 0);
    std::deque<PendingRead> reads;
    std::deque<PendingWrite> writes;
    std::deque<PendingWb> wbs;
    uint32_t next_id = 1;

    bool checkable(uint64_t i) const { return known[i] && !inflight[i]; }

    // The child read of reserved run @i, now: the disk as it is.
    void child_read(PendingRead &r, size_t i) {
        const hc_read_seg *s = hc_read_plan_seg(r.plan, i);
        uint64_t pos = s->offset;
        for (int k = 0; k < s->fill_iovcnt; k++) {
            if (pos + s->fill_iov[k].iov_len > kDisk) {
                fail("fill_iov beyond the read", pos);
            }
            memcpy(s->fill_iov[k].iov_base, &disk[pos], s->fill_iov[k].iov_len);
            pos += s->fill_iov[k].iov_len;
        }
        if (pos != s->offset + s->len) {
            fail("fill_iov does not add up to the run", s->offset);
        }
        r.held[i] = held_bytes(s);
        r.stage[i] = PendingRead::kRead;
    }

    // One stage of one reserved run of a direct read.
    void direct_step(PendingRead &r, unsigned pick, bool ok) {
        std::vector<size_t> runs;
        for (size_t i = 0; i < r.stage.size(); i++) {
            if (r.stage[i] <= PendingRead::kRead &&
                hc_read_plan_seg(r.plan, i)->fill_iov) {
                runs.push_back(i);
            }
        }
        if (runs.empty()) {
            return;
        }
        size_t i = runs[pick % runs.size()];
        trace("  direct read: run %zu at %llu, stage %d%s", i,
              (unsigned long long)hc_read_plan_seg(r.plan, i)->offset,
              int(r.stage[i]), ok ? "" : " (EIO)");
        if (!ok) {
            hc_read_failed(c, r.plan, i, -EIO);
            r.stage[i] = PendingRead::kFailed;
        } else if (r.stage[i] == PendingRead::kUnread) {
            child_read(r, i);
        } else {
            hc_read_fill_done(c, r.plan, i);
            r.stage[i] = PendingRead::kDone;
        }
    }

    void complete_read(PendingRead &r) {
        if (!r.direct) {
            for (size_t i = 0; i < hc_read_plan_count(r.plan); i++) {
                const hc_read_seg *s = hc_read_plan_seg(r.plan, i);
                if (!s->hit) {
                    hc_read_fill(c, r.plan, i, r.snap[i].data());
                }
            }
            hc_read_end(c, r.plan);
            return;
        }
        for (size_t i = 0; i < r.stage.size(); i++) {
            const hc_read_seg *s = hc_read_plan_seg(r.plan, i);
            if (!s->fill_iov) {
                continue;
            }
            if (r.stage[i] == PendingRead::kUnread) {
                child_read(r, i);
            }
            if (r.stage[i] == PendingRead::kRead) {
                hc_read_fill_done(c, r.plan, i);
                r.stage[i] = PendingRead::kDone;
            }
        }
        // What the caller copies out now is what it pinned or read.
        for (size_t i = 0; i < r.stage.size(); i++) {
            const hc_read_seg *s = hc_read_plan_seg(r.plan, i);
            if ((s->hit || r.stage[i] == PendingRead::kDone) &&
                held_bytes(s) != r.held[i]) {
                fail(s->hit ? "pinned hit changed before hc_read_end"
                            : "filled slot changed before hc_read_end",
                     s->offset);
            }
        }
        hc_read_end(c, r.plan);
    }

    void complete_write(PendingWrite &w, bool ok) {
        uint64_t n = w.data.size();
        trace("  write %llu+%llu completes %s", (unsigned long long)w.off,
              (unsigned long long)n, ok ? "ok" : "EIO");
        if (ok) {
            memcpy(&disk[w.off], w.data.data(), n);
        }
        hc_write_end(c, w.t, ok ? 0 : -EIO);
        for (uint64_t i = 0; i < n; i++) {
            inflight[w.off + i]--;
            if (ok) {
                model[w.off + i] = w.data[i];
                known[w.off + i] = 1;
            } else {
                known[w.off + i] = 0;  // a failed write: old or new
            }
        }
    }

    void complete_wb(PendingWb &p, bool ok) {
        hc_extent *e = p.e;
        trace("  write-back %llu+%llu completes %s",
              (unsigned long long)e->offset, (unsigned long long)e->len,
              ok ? "ok" : "EIO");
        uint64_t pos = 0;
        for (int i = 0; i < e->iovcnt; i++) {
            if (memcmp(e->iov[i].iov_base, &p.data[pos], e->iov[i].iov_len)) {
                fail("write-back data changed while out at the child",
                     e->offset + pos);
            }
            pos += e->iov[i].iov_len;
        }
        if (ok) {
            memcpy(&disk[e->offset], p.data.data(), p.data.size());
        }
        hc_writeback_done(c, e, ok ? 0 : -EIO);
    }

    bool complete_one(bool ok) {
        if (!wbs.empty()) {
            complete_wb(wbs.front(), ok);
            wbs.pop_front();
            return true;
        }
        if (!writes.empty()) {
            complete_write(writes.front(), ok);
            writes.pop_front();
            return true;
        }
        if (!reads.empty()) {
            complete_read(reads.front());
            reads.pop_front();
            return true;
        }
        return false;
    }

    void complete_all() {
        while (complete_one(true)) {
        }
    }

    bool take_wb(hc_wb_reason why, uint64_t upto, uint64_t now) {
        hc_extent *e = nullptr;
        if (hc_writeback_next(c, why, upto, now, &e) != 1) {
            return false;
        }
        trace("  write-back %llu+%llu handed out (reason %d)",
              (unsigned long long)e->offset, (unsigned long long)e->len,
              int(why));
        if (e->offset % cfg.block_size || e->len % cfg.block_size ||
            e->offset + e->len > kDisk || e->len == 0) {
            fail("write-back extent out of bounds or unaligned", e->offset);
        }
        PendingWb p{e, {}};
        uint64_t total = 0;
        for (int i = 0; i < e->iovcnt; i++) {
            const uint8_t *b = static_cast<const uint8_t *>(e->iov[i].iov_base);
            p.data.insert(p.data.end(), b, b + e->iov[i].iov_len);
            total += e->iov[i].iov_len;
        }
        if (total != e->len) {
            fail("write-back iovecs do not add up to the extent", e->offset);
        }
        wbs.push_back(std::move(p));
        return true;
    }

    // Whether pending read @r has a child read of byte @pos out (a fill run
    // neither published, failed nor ended).
    static bool owns(const PendingRead &r, uint64_t pos) {
        for (size_t i = 0; i < r.stage.size(); i++) {
            const hc_read_seg *s = hc_read_plan_seg(r.plan, i);
            if (s->fill_iov && r.stage[i] <= PendingRead::kRead &&
                pos >= s->offset && pos < s->offset + s->len) {
                return true;
            }
        }
        return false;
    }
    size_t owners(uint64_t pos) const {
        size_t n = 0;
        for (const PendingRead &r : reads) {
            n += owns(r, pos);
        }
        return n;
    }
    // A wait run just planned: every block of it is being read by exactly
    // one pending read (one thread: nothing cached it in between).
    void check_new_wait(hc_read_plan *plan, size_t i) {
        const hc_read_seg *s = hc_read_plan_seg(plan, i);
        if (s->hit || s->fill_iov || s->fill_iovcnt) {
            fail("wait run with a hit or fill_iov", s->offset);
        }
        for (uint64_t b = s->offset; b < s->offset + s->len;
             b += cfg.block_size) {
            if (owners(b) != 1) {
                fail("wait run for a block nobody is reading", b);
            }
        }
        if (!hc_read_wait_pending(c, plan, i)) {
            fail("new wait run not pending", s->offset);
        }
    }
    // After every operation: one child read per block at most, and no
    // waiter left waiting for reads that are over.
    void check_flights() {
        for (const PendingRead &r : reads) {
            for (size_t i = 0; i < r.stage.size(); i++) {
                const hc_read_seg *s = hc_read_plan_seg(r.plan, i);
                bool owned = false;
                for (uint64_t b = s->offset; b < s->offset + s->len;
                     b += cfg.block_size) {
                    size_t n = owners(b);
                    if (n > 1) {
                        fail("two child reads of one block out at once", b);
                    }
                    owned |= n == 1;
                }
                if (hc_read_wait_pending(c, r.plan, i) &&
                    (!s->wait || !owned)) {
                    fail(s->wait ? "waiter still pending after the fill ended"
                                 : "run that is no wait run pending",
                         s->offset);
                }
            }
        }
    }

    // A read with nothing racing it: every checkable byte must match.
    void read_checked(uint64_t off, uint64_t len) {
        trace("read %llu+%llu", (unsigned long long)off,
              (unsigned long long)len);
        hc_read_plan *plan = nullptr;
        if (hc_read_begin(c, off, len, &plan) < 0) {
            fail("hc_read_begin failed on a valid range", off);
        }
        for (size_t i = 0; i < hc_read_plan_count(plan); i++) {
            if (hc_read_plan_seg(plan, i)->wait) {
                check_new_wait(plan, i);
            }
        }
        uint64_t expect = off - off % cfg.block_size;
        for (size_t i = 0; i < hc_read_plan_count(plan); i++) {
            const hc_read_seg *s = hc_read_plan_seg(plan, i);
            if (s->offset != expect || s->len == 0) {
                fail("read plan segments not contiguous", s->offset);
            }
            expect += s->len;
            if (s->wait) {
                // The glue's wait: others complete until the fill is over.
                trace("  wait run %llu+%llu", (unsigned long long)s->offset,
                      (unsigned long long)s->len);
                while (hc_read_wait_pending(c, plan, i)) {
                    if (!complete_one(true)) {
                        fail("waiting with nothing outstanding", s->offset);
                    }
                }
                uint64_t lo = std::max(off, s->offset);
                uint64_t hi = std::min(off + len, s->offset + s->len);
                read_checked(lo, hi - lo);
                continue;
            }
            const uint8_t *src = s->hit ? static_cast<const uint8_t *>(s->hit)
                                        : &disk[s->offset];
            if (!s->hit) {
                hc_read_fill(c, plan, i, src);
            }
            uint64_t lo = std::max(off, s->offset);
            uint64_t hi = std::min(off + len, s->offset + s->len);
            if (lo < hi &&
                !memcmp(src + (lo - s->offset), &model[lo], hi - lo)) {
                continue;  // fast path: all equal
            }
            for (uint64_t b = lo; b < hi; b++) {
                if (checkable(b) && src[b - s->offset] != model[b]) {
                    fail(s->hit ? "stale or foreign byte from a cache hit"
                                : "stale byte read from the child",
                         b);
                }
            }
        }
        if (expect < off + len) {
            fail("read plan does not cover the request", expect);
        }
        hc_read_end(c, plan);
    }

    void read_deferred(uint64_t off, uint64_t len, bool direct, bool read_now) {
        trace("read %llu+%llu begun, filled later%s%s", (unsigned long long)off,
              (unsigned long long)len, direct ? " (direct)" : "",
              direct && read_now ? ", read now" : "");
        hc_read_plan *plan = nullptr;
        if (hc_read_begin(c, off, len, &plan) < 0) {
            fail("hc_read_begin failed on a valid range", off);
        }
        PendingRead r{plan, {}};
        r.direct = direct;
        for (size_t i = 0; i < hc_read_plan_count(plan); i++) {
            const hc_read_seg *s = hc_read_plan_seg(plan, i);
            if (s->hit) {
                r.snap.emplace_back();
            } else {
                r.snap.emplace_back(disk.begin() + s->offset,
                                    disk.begin() + s->offset + s->len);
            }
            if ((s->fill_iov != nullptr) != (s->fill_iovcnt > 0) ||
                (s->hit && s->fill_iov)) {
                fail("fill_iov and fill_iovcnt disagree", s->offset);
            }
            if (s->wait) {
                check_new_wait(plan, i);
            }
            r.stage.push_back(PendingRead::kUnread);
            r.held.push_back(s->hit ? held_bytes(s) : std::vector<uint8_t>());
        }
        if (direct && read_now) {
            for (size_t i = 0; i < r.stage.size(); i++) {
                if (hc_read_plan_seg(plan, i)->fill_iov) {
                    child_read(r, i);
                }
            }
        }
        reads.push_back(std::move(r));
    }

    void write(uint64_t off, uint64_t len, unsigned flags, bool fail_child,
               bool split) {
        uint32_t id = next_id++;
        std::vector<uint8_t> data(len);
        for (uint64_t i = 0; i < len; i++) {
            data[i] = pat(id, off + i);
        }
        iovec iov[2];
        int iovcnt = 1;
        iov[0] = {data.data(), size_t(len)};
        if (split && len > kSector) {
            iov[0].iov_len = kSector;
            iov[1] = {data.data() + kSector, size_t(len - kSector)};
            iovcnt = 2;
        }
        for (int attempt = 0; attempt < 64; attempt++) {
            hc_write_ticket *t = nullptr;
            int r = hc_write_begin(c, off, len, iov, iovcnt, 0, flags, &t);
            trace("write %llu+%llu flags %u%s: %d", (unsigned long long)off,
                  (unsigned long long)len, flags, fail_child ? " (EIO)" : "",
                  r);
            if (r == HC_WRITE_DONE) {
                memcpy(&model[off], data.data(), len);
#ifdef HC_FUZZ_BREAK
                model[off] ^= 1;  // self-test: the checks must notice
#endif
                memset(&known[off], 1, len);
                return;
            }
            if (r == HC_WRITE_CHILD) {
                if (!t) {
                    fail("HC_WRITE_CHILD without a ticket", off);
                }
                for (uint64_t i = 0; i < len; i++) {
                    inflight[off + i]++;
                }
                writes.push_back({t, off, std::move(data)});
                if (fail_child) {
                    complete_write(writes.back(), false);
                    writes.pop_back();
                }
                return;
            }
            if (r == -ENOSPC) {
                // Part of the range may hold the new data: unknown until
                // the retry succeeds.
                memset(&known[off], 0, len);
                if (!complete_one(true) &&
                    !take_wb(HC_WB_FLUSH, hc_dirty_seq(c), 0)) {
                    return;  // give up: the write was never acknowledged
                }
                continue;
            }
            if (r == -EAGAIN) {
                if (!complete_one(true)) {
                    fail("-EAGAIN with nothing outstanding", off);
                }
                continue;
            }
            fail("unexpected hc_write_begin result", off);
        }
        memset(&known[off], 0, len);
    }

    void invalidate(uint64_t off, uint64_t len, bool zero) {
        for (int attempt = 0; attempt < 64; attempt++) {
            int r = hc_invalidate(c, off, len, zero ? HC_INV_ZERO : 0);
            trace("%s %llu+%llu: %d", zero ? "zero" : "discard",
                  (unsigned long long)off, (unsigned long long)len, r);
            if (r == -EAGAIN) {
                if (!complete_one(true)) {
                    fail("invalidate -EAGAIN with nothing outstanding", off);
                }
                continue;
            }
            if (r < 0) {
                fail("hc_invalidate failed", off);
            }
            if (zero) {
                memset(&disk[off], 0, len);
            }
            hc_invalidate(c, off, len, zero ? HC_INV_ZERO : 0);
            for (uint64_t i = off; i < off + len; i++) {
                if (inflight[i]) {
                    continue;
                }
                if (zero) {
                    model[i] = 0;
                    known[i] = 1;
                } else {
                    known[i] = 0;  // discard: reads are unspecified
                }
            }
            return;
        }
    }

    void flush() {
        trace("flush");
        complete_all();
        uint64_t seq = hc_dirty_seq(c);
        for (int round = 0; hc_dirty_pending(c, seq) > 0; round++) {
            if (round > 10000) {
                fail("flush does not converge", 0);
            }
            while (take_wb(HC_WB_FLUSH, seq, 0)) {
            }
            if (wbs.empty()) {
                fail("dirty blocks pending but no write-back extent offered",
                     0);
            }
            complete_all();
        }
        bool same = !memcmp(disk.data(), model.data(), kDisk);
        for (uint64_t i = 0; !same && i < kDisk; i++) {
            if (checkable(i) && disk[i] != model[i]) {
                fail("acknowledged byte not on disk after a flush", i);
            }
        }
        hc_stats st;
        hc_get_stats(c, &st);
        if (st.dirty_bytes != 0) {
            fail("dirty bytes left after a flush", st.dirty_bytes);
        }
    }

    void block_status(uint64_t off) {
        uint64_t pnum = 0;
        uint64_t len = kDisk - off;
        bool dirty = hc_range_dirty(c, off, len, &pnum);
        if (pnum == 0 || pnum > len) {
            fail("hc_range_dirty: bad pnum", off);
        }
        if (dirty) {
            return;
        }
        for (uint64_t i = off; i < off + pnum; i++) {
            if (checkable(i) && disk[i] != model[i]) {
                fail("range reported clean but the disk differs", i);
            }
        }
    }
};

uint64_t pick_len(FuzzedDataProvider &fdp, uint64_t off) {
    uint64_t max_sectors = (kDisk - off) / kSector;
    uint64_t n = fdp.ConsumeIntegralInRange<uint64_t>(1, 64);
    if (fdp.ConsumeBool()) {
        n = fdp.ConsumeIntegralInRange<uint64_t>(1, 256);
    }
    return std::min(n, max_sectors) * kSector;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzedDataProvider fdp(data, size);
    State s;
    hc_config_default(&s.cfg);
    static const uint32_t bss[] = {512, 1024, 4096, 16384, 65536};
    s.cfg.block_size = bss[fdp.ConsumeIntegralInRange<int>(0, 4)];
    s.cfg.size =
        uint64_t(fdp.ConsumeIntegralInRange<int>(1, 64)) * s.cfg.block_size;
    s.cfg.mode = hc_mode(fdp.ConsumeIntegralInRange<int>(0, HC_MODE__MAX - 1));
    s.cfg.policy =
        hc_policy(fdp.ConsumeIntegralInRange<int>(0, HC_POLICY__MAX - 1));
    s.cfg.admit_threshold = fdp.ConsumeIntegralInRange<uint32_t>(1, 4);
    s.cfg.dirty_high_pct = fdp.ConsumeIntegralInRange<uint32_t>(1, 100);
    s.cfg.dirty_low_pct =
        fdp.ConsumeIntegralInRange<uint32_t>(0, s.cfg.dirty_high_pct - 1);
    s.cfg.dirty_max_pct =
        fdp.ConsumeIntegralInRange<uint32_t>(s.cfg.dirty_high_pct, 100);
    s.cfg.max_dirty_age_ns = fdp.ConsumeIntegralInRange<uint64_t>(0, 1000);
    s.cfg.max_merge = uint64_t(s.cfg.block_size)
                      << fdp.ConsumeIntegralInRange<int>(0, 6);
    s.cfg.seq_cutoff =
        fdp.ConsumeBool()
            ? 0
            : uint64_t(fdp.ConsumeIntegralInRange<int>(1, 64)) * kSector * 8;
    char err[256];
    if (hc_config_validate(&s.cfg, err, sizeof(err)) < 0) {
        return -1;  // not an interesting input
    }
    trace(
        "config: block %u size %llu mode %d policy %d admit %u dirty "
        "%u/%u/%u age %llu merge %llu seq %llu",
        s.cfg.block_size, (unsigned long long)s.cfg.size, int(s.cfg.mode),
        int(s.cfg.policy), s.cfg.admit_threshold, s.cfg.dirty_high_pct,
        s.cfg.dirty_low_pct, s.cfg.dirty_max_pct,
        (unsigned long long)s.cfg.max_dirty_age_ns,
        (unsigned long long)s.cfg.max_merge,
        (unsigned long long)s.cfg.seq_cutoff);
    s.c = hc_create(&s.cfg, err, sizeof(err));
    if (!s.c) {
        fprintf(stderr, "hc_create refused a validated config: %s\n", err);
        abort();
    }
    uint64_t now = 0;
    while (fdp.remaining_bytes() > 0) {
        uint8_t op = fdp.ConsumeIntegralInRange<uint8_t>(0, 16);
        uint64_t off =
            fdp.ConsumeIntegralInRange<uint64_t>(0, kDisk / kSector - 1) *
            kSector;
        now += fdp.ConsumeIntegralInRange<uint64_t>(0, 300);
        // Often aim at a read in flight: what races with it is what a fill
        // must notice.
        if (!s.reads.empty() && fdp.ConsumeIntegralInRange<int>(0, 2) == 0) {
            const PendingRead &r = s.reads[fdp.ConsumeIntegralInRange<size_t>(
                0, s.reads.size() - 1)];
            size_t n = hc_read_plan_count(r.plan);
            if (n > 0) {
                off = hc_read_plan_seg(
                          r.plan, fdp.ConsumeIntegralInRange<size_t>(0, n - 1))
                          ->offset;
            }
        }
        switch (op) {
            case 0:
            case 1:
            case 2:
                s.read_checked(off, pick_len(fdp, off));
                break;
            case 3:
                if (s.reads.size() < 4) {
                    uint64_t len = pick_len(fdp, off);
                    bool direct = fdp.ConsumeBool();
                    s.read_deferred(off, len, direct, fdp.ConsumeBool());
                }
                break;
            case 16:
                if (!s.reads.empty()) {
                    PendingRead &r = s.reads[fdp.ConsumeIntegralInRange<size_t>(
                        0, s.reads.size() - 1)];
                    unsigned pick = fdp.ConsumeIntegral<uint8_t>();
                    bool ok = fdp.ConsumeIntegralInRange<int>(0, 5) != 0;
                    if (r.direct) {
                        s.direct_step(r, pick, ok);
                    }
                }
                break;
            case 4:
            case 5:
            case 6: {
                uint64_t len = pick_len(fdp, off);
                unsigned flags = fdp.ConsumeIntegralInRange<int>(0, 7) == 0
                                     ? HC_WRITE_FUA
                                     : 0;
                if (fdp.ConsumeIntegralInRange<int>(0, 15) == 0) {
                    flags |= HC_WRITE_THROUGH;
                }
                bool bad = fdp.ConsumeIntegralInRange<int>(0, 7) == 0;
                s.write(off, len, flags, bad, fdp.ConsumeBool());
                break;
            }
            case 7:
                s.complete_one(fdp.ConsumeIntegralInRange<int>(0, 5) != 0);
                break;
            case 8: {
                int why = hc_writeback_wanted(s.c, now);
                if (why < -1 || why > HC_WB_AGE) {
                    fail("hc_writeback_wanted: bad reason", why);
                }
                hc_wb_reason r =
                    hc_wb_reason(fdp.ConsumeIntegralInRange<int>(0, 2));
                if (s.wbs.size() < 6) {
                    s.take_wb(r, hc_dirty_seq(s.c), now);
                }
                break;
            }
            case 9:
            case 10:
                s.invalidate(off, pick_len(fdp, off), op == 10);
                break;
            case 11: {
                hc_config n = s.cfg;
                n.size = uint64_t(fdp.ConsumeIntegralInRange<int>(1, 64)) *
                         s.cfg.block_size;
                n.mode = hc_mode(
                    fdp.ConsumeIntegralInRange<int>(0, HC_MODE__MAX - 1));
                n.policy = hc_policy(
                    fdp.ConsumeIntegralInRange<int>(0, HC_POLICY__MAX - 1));
                if (hc_config_validate(&n, err, sizeof(err)) == 0) {
                    int r = hc_reconfigure(s.c, &n, err, sizeof(err));
                    trace("reconfigure size %llu mode %d policy %d: %d",
                          (unsigned long long)n.size, int(n.mode),
                          int(n.policy), r);
                    if (r == 0) {
                        hc_get_config(s.c, &s.cfg);
                        if (s.cfg.size != n.size || s.cfg.mode != n.mode) {
                            fail("reconfigure did not take", n.size);
                        }
                    } else if (r != -EBUSY) {
                        fail("hc_reconfigure: unexpected error", -r);
                    }
                }
                break;
            }
            case 12:
                s.flush();
                break;
            case 13:
                s.block_status(off - off % s.cfg.block_size);
                break;
            case 14: {
                hc_stats st;
                hc_get_stats(s.c, &st);
                if (st.hb_bytes + st.wb_bytes > st.capacity_bytes ||
                    st.dirty_bytes > st.wb_bytes + st.hb_bytes) {
                    fail("occupancy above capacity", st.hb_bytes + st.wb_bytes);
                }
                break;
            }
            default:
                s.read_checked(off, kSector);
                break;
        }
        s.check_flights();
    }
    s.flush();
    s.read_checked(0, kDisk);
    hc_destroy(s.c);
    return 0;
}
