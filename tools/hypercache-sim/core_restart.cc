// SPDX-License-Identifier: GPL-2.0-or-later
//
// Cold against warm restarts, through the core's hot-set API: the saved
// file is encoded, parsed and checked exactly as QEMU does, and the warm
// cache loads it with hc_prefetch_begin/hc_prefetch_fill_done in QEMU's
// load order (hc_hotset_next_batch), all before the second half starts
// (the simulator has no clock: a load that finishes in time).
#include "core_restart.h"

#include <algorithm>
#include <cstdlib>

#include "core_session.h"

namespace hcsim {

namespace {

constexpr const char *kIdentity = "hypercache-sim";

// Count mode over accesses [from, to): the misses of all of them and of
// the first @window.
bool replay(hc_cache *c, const Workload &w, uint32_t bs, uint64_t from,
            uint64_t to, uint64_t window, uint64_t *misses,
            uint64_t *window_misses, std::string *err) {
    const uint8_t *data = nullptr;
    ScratchBuffer scratch;
    data = scratch.get(bs);
    for (uint64_t i = from; i < to; i++) {
        hc_read_plan *plan = nullptr;
        if (hc_read_begin(c, w.block_of[w.ids[i]] * bs, bs, &plan) < 0) {
            *err = "hc_read_begin failed at access " + std::to_string(i);
            return false;
        }
        for (size_t s = 0; s < hc_read_plan_count(plan); s++) {
            const hc_read_seg *seg = hc_read_plan_seg(plan, s);
            if (!seg->hit) {
                (*misses)++;
                if (i - from < window) {
                    (*window_misses)++;
                }
                hc_read_fill(c, plan, s, data);
            }
        }
        hc_read_end(c, plan);
    }
    return true;
}

std::string json_string(const std::string &s) {
    std::string out = "\"";
    for (char ch : s) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (static_cast<unsigned char>(ch) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", ch);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

double ratio(uint64_t misses, uint64_t n) {
    return n ? 1.0 - double(misses) / double(n) : 0;
}

// The disk the trace addresses: its last block, rounded up to whole
// blocks (hot sets are checked against the image's size).
uint64_t image_size(const Workload &w, uint32_t bs) {
    uint64_t last = 0;
    for (uint64_t b : w.block_of) {
        last = std::max(last, b);
    }
    return (last + 1) * bs;
}

}  // namespace

bool run_core_restart(const Workload &w, const CoreRun &run, uint64_t split,
                      uint64_t window, RestartResult *res, std::string *err) {
    uint32_t bs = run.block_size;
    uint64_t n = w.accesses();
    split = std::min(split, n);
    res->policy = hc_policy_name(run.policy);
    res->size_blocks = run.blocks;
    res->first_half = split;
    res->second_half = n - split;
    res->window = std::min(window, n - split);
    uint64_t image = image_size(w, bs);

    // The first half, and the never-stopped cache going on.
    CachePtr old_cache = make_cache(run, HC_MODE_WRITETHROUGH, err);
    if (!old_cache) {
        return false;
    }
    uint64_t m = 0, wm = 0;
    if (!replay(old_cache.get(), w, bs, 0, split, 0, &m, &wm, err)) {
        return false;
    }
    hc_hotset *saved =
        hc_hotset_collect(old_cache.get(), 0, nullptr, 0, image, kIdentity);
    if (!saved) {
        *err = "hc_hotset_collect: out of memory";
        return false;
    }
    void *file = nullptr;
    size_t file_len = 0;
    int r = hc_hotset_encode(saved, &file, &file_len);
    res->hotset_blocks = hc_hotset_count(saved);
    res->hotset_bytes = file_len;
    hc_hotset_free(saved);
    if (r < 0) {
        *err = "hc_hotset_encode: out of memory";
        return false;
    }
    m = wm = 0;
    if (!replay(old_cache.get(), w, bs, split, n, res->window, &m, &wm, err)) {
        free(file);
        return false;
    }
    res->never[0] = ratio(m, res->second_half);
    res->never[1] = ratio(wm, res->window);
    old_cache.reset();

    // Cold.
    CachePtr cold = make_cache(run, HC_MODE_WRITETHROUGH, err);
    m = wm = 0;
    if (!cold ||
        !replay(cold.get(), w, bs, split, n, res->window, &m, &wm, err)) {
        free(file);
        return false;
    }
    res->cold[0] = ratio(m, res->second_half);
    res->cold[1] = ratio(wm, res->window);
    cold.reset();

    // Warm: the file as QEMU reads it, then the load.
    CachePtr warm = make_cache(run, HC_MODE_WRITETHROUGH, err);
    if (!warm) {
        free(file);
        return false;
    }
    hc_hotset *hs = nullptr;
    char msg[512];
    r = hc_hotset_parse(file, file_len, run.cache_blocks(), &hs, msg,
                        sizeof(msg));
    free(file);
    if (r == 0 &&
        hc_hotset_check(hs, bs, image, kIdentity, msg, sizeof(msg)) < 0) {
        r = -1;
        hc_hotset_free(hs);
    }
    if (r < 0) {
        *err = std::string("the saved hot set is refused: ") + msg;
        return false;
    }
    // QEMU's load order: batches of 1024, runs of up to 256 KiB.
    std::vector<hc_hotset_run> runs(1024);
    uint32_t max_run = std::max<uint32_t>(256 * 1024 / bs, 1);
    uint64_t pos = 0;
    size_t nruns;
    bool full = false;
    while (!full && (nruns = hc_hotset_next_batch(hs, &pos, 1024, max_run,
                                                  runs.data())) > 0) {
        for (size_t i = 0; i < nruns && !full; i++) {
            hc_read_plan *plan = nullptr;
            hc_prefetch_info info;
            if (hc_prefetch_begin(warm.get(), runs[i].offset, runs[i].len,
                                  &plan, &info) < 0) {
                *err = "hc_prefetch_begin failed";
                hc_hotset_free(hs);
                return false;
            }
            for (size_t s = 0; s < hc_read_plan_count(plan); s++) {
                if (hc_read_plan_seg(plan, s)->fill_iov) {
                    // No data: the simulator never looks at it.
                    res->loaded += hc_prefetch_fill_done(warm.get(), plan, s);
                }
            }
            hc_read_end(warm.get(), plan);
            full = info.full;
        }
    }
    hc_hotset_free(hs);
    m = wm = 0;
    if (!replay(warm.get(), w, bs, split, n, res->window, &m, &wm, err)) {
        return false;
    }
    res->warm[0] = ratio(m, res->second_half);
    res->warm[1] = ratio(wm, res->window);
    return true;
}

void print_restart_table(std::FILE *out, const std::string &trace,
                         const Workload &w,
                         const std::vector<RestartResult> &rs) {
    std::fprintf(out, "%s: %lu accesses, %lu distinct blocks\n", trace.c_str(),
                 (unsigned long)w.accesses(), (unsigned long)w.distinct());
    if (rs.empty()) {
        return;
    }
    std::fprintf(out,
                 "restart after %lu accesses; hit ratios after it, of the "
                 "first %lu accesses and of all %lu:\n",
                 (unsigned long)rs[0].first_half, (unsigned long)rs[0].window,
                 (unsigned long)rs[0].second_half);
    std::fprintf(
        out, "%-7s %-7s %8s | %7s %7s %7s %6s | %7s %7s %7s %6s | %8s %6s\n",
        "policy", "size", "blocks", "never", "cold", "warm", "w/n", "never",
        "cold", "warm", "w/n", "hot-set", "B/blk");
    for (const RestartResult &x : rs) {
        double bpb = x.hotset_blocks
                         ? double(x.hotset_bytes) / double(x.hotset_blocks)
                         : 0;
        auto rel = [](double a, double b) { return b > 0 ? a / b : 0; };
        std::fprintf(out,
                     "%-7s %-7s %8lu | %7.4f %7.4f %7.4f %6.3f | %7.4f %7.4f "
                     "%7.4f %6.3f | %8lu %6.2f\n",
                     x.policy.c_str(), x.size_label.c_str(),
                     (unsigned long)x.size_blocks, x.never[1], x.cold[1],
                     x.warm[1], rel(x.warm[1], x.never[1]), x.never[0],
                     x.cold[0], x.warm[0], rel(x.warm[0], x.never[0]),
                     (unsigned long)x.hotset_blocks, bpb);
    }
}

void print_restart_json(std::FILE *out, const std::string &trace,
                        const Workload &w,
                        const std::vector<RestartResult> &rs) {
    std::fprintf(out,
                 "{\"trace\": %s, \"accesses\": %lu, \"working_set\": "
                 "%lu, \"restarts\": [",
                 json_string(trace).c_str(), (unsigned long)w.accesses(),
                 (unsigned long)w.distinct());
    for (size_t i = 0; i < rs.size(); i++) {
        const RestartResult &x = rs[i];
        std::fprintf(
            out,
            "%s\n  {\"policy\": \"%s\", \"size\": \"%s\", \"blocks\": %lu, "
            "\"first_half\": %lu, \"second_half\": %lu, \"window\": %lu, "
            "\"window_hit_ratio\": {\"never_stopped\": %.6f, \"cold\": %.6f, "
            "\"warm\": %.6f}, \"second_half_hit_ratio\": {\"never_stopped\": "
            "%.6f, \"cold\": %.6f, \"warm\": %.6f}, \"hotset_blocks\": %lu, "
            "\"hotset_bytes\": %lu, \"loaded\": %lu}",
            i ? "," : "", x.policy.c_str(), x.size_label.c_str(),
            (unsigned long)x.size_blocks, (unsigned long)x.first_half,
            (unsigned long)x.second_half, (unsigned long)x.window, x.never[1],
            x.cold[1], x.warm[1], x.never[0], x.cold[0], x.warm[0],
            (unsigned long)x.hotset_blocks, (unsigned long)x.hotset_bytes,
            (unsigned long)x.loaded);
    }
    std::fprintf(out, "\n]}\n");
}

}  // namespace hcsim
