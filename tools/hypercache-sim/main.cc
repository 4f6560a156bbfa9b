// SPDX-License-Identifier: GPL-2.0-or-later
//
// hypercache-sim: replays block traces through the hypercache core and the
// reference policies, and prints miss ratios (see docs/SIMULATOR.md).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <new>

#include "core_replay.h"
#include "core_restart.h"
#include "exact_mrc.h"
#include "io_replay.h"
#include "options.h"
#include "plot.h"
#include "pool_sim.h"
#include "reference.h"
#include "report.h"
#include "trace_reader.h"
#include "workload.h"

namespace hcsim {

namespace {

enum Exit { kOk = 0, kUsage = 1, kBadTrace = 2, kCoreError = 3 };

struct Selection {
    std::vector<RefPolicy> refs;
    std::vector<hc_policy> core;
};

bool select_policies(const Options &o, Selection *sel, std::string *err) {
    bool all = o.policies.empty();
    for (hc_policy p : core_policies()) {
        bool want = all;
        for (const auto &n : o.policies) {
            want |= n == hc_policy_name(p);
        }
        if (want) {
            sel->core.push_back(p);
        }
    }
    for (const RefPolicy &r : reference_policies()) {
        bool want = all;
        for (const auto &n : o.policies) {
            want |= n == r.name;
        }
        if (want) {
            sel->refs.push_back(r);
        }
    }
    for (const auto &n : o.policies) {
        bool known = false;
        for (const RefPolicy &r : reference_policies()) {
            known |= n == r.name;
        }
        for (hc_policy p : core_policies()) {
            known |= n == hc_policy_name(p);
        }
        if (!known) {
            *err = "--policies: unknown policy '" + n + "'";
            return false;
        }
    }
    return true;
}

bool parse_factors(const std::string &s, std::vector<double> *out,
                   std::string *err) {
    std::vector<SizeSpec> dummy;
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t c = s.find(',', pos);
        std::string t = s.substr(pos, c == s.npos ? s.npos : c - pos);
        char *end = nullptr;
        double f = std::strtod(t.c_str(), &end);
        if (t.empty() || *end || !(f > 0) || f > 1000) {
            *err = "--mrc-factors: bad factor '" + t + "'";
            return false;
        }
        out->push_back(f);
        if (c == s.npos) {
            break;
        }
        pos = c + 1;
    }
    return true;
}

// One core run of policy @p at size @s, with the options' overrides.
CoreRun core_run(const Options &o, hc_policy p, const SizeSpec &s,
                 uint64_t working_set) {
    CoreRun run;
    run.policy = p;
    run.blocks = size_in_blocks(s, working_set, o.block_size);
    run.working_set = working_set;
    run.block_size = o.block_size;
    run.tuning = o.tuning;
    run.time_scale = o.time_scale;
    return run;
}

void exact_curve(const ExactMrc &m, uint64_t ws, Report *r) {
    // Log-spaced sizes from one block to the whole working set.
    const int points = 64;
    uint64_t last = 0;
    for (int i = 0; i <= points; i++) {
        uint64_t b = static_cast<uint64_t>(
            std::llround(std::pow(double(ws), double(i) / points)));
        if (b > last) {
            r->lru_curve.emplace_back(b, m.miss_ratio(b));
            last = b;
        }
    }
}

// Read and parse @path into @trace and its block accesses into @w; kOk, or
// kBadTrace with the reason on stderr.
int load_workload(const Options &o, const std::string &path, Trace *trace,
                  Workload *w) {
    std::string err;
    if (!load_trace(path, o.trace, trace, &err)) {
        std::fprintf(stderr, "hypercache-sim: %s\n", err.c_str());
        return kBadTrace;
    }
    if (!build_workload(trace->requests, o.block_size, o.reads_only, w, &err)) {
        std::fprintf(stderr, "hypercache-sim: %s: %s\n", path.c_str(),
                     err.c_str());
        return kBadTrace;
    }
    return kOk;
}

int simulate(const Options &o, const Selection &sel,
             const std::vector<double> &factors, const std::string &path,
             Report *rep) {
    std::string err;
    auto t0 = std::chrono::steady_clock::now();
    Trace trace;
    Workload w;
    if (int rc = load_workload(o, path, &trace, &w); rc != kOk) {
        return rc;
    }
    if (w.accesses() == 0) {
        std::fprintf(stderr, "hypercache-sim: %s: no accesses left%s\n",
                     path.c_str(), o.reads_only ? " (--reads-only)" : "");
        return kBadTrace;
    }
    ExactMrc exact(w);
    rep->trace = path;
    rep->format = std::string(format_name(trace.format));
    rep->requests = trace.requests.size();
    rep->accesses = w.accesses();
    rep->read_accesses = w.read_accesses;
    rep->write_accesses = w.write_accesses;
    rep->working_set = w.distinct();
    rep->block_size = o.block_size;
    rep->load_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    exact_curve(exact, w.distinct(), rep);

    for (hc_policy p : sel.core) {
        for (const SizeSpec &s : o.sizes) {
            CoreRun run = core_run(o, p, s, w.distinct());
            RunResult res;
            res.size_label = s.text;
            // The estimate sees the access stream, not the policy's choices,
            // so one policy's answers are enough to check it.
            std::vector<double> none;
            const auto &f = p == sel.core.front() ? factors : none;
            if (!run_core_count(w, run, f, exact, &res, &rep->mrc, &err)) {
                std::fprintf(stderr, "hypercache-sim: %s, %s at %s: %s\n",
                             path.c_str(), hc_policy_name(p), s.text.c_str(),
                             err.c_str());
                return kCoreError;
            }
            rep->runs.push_back(res);
        }
    }
    for (const RefPolicy &ref : sel.refs) {
        for (const SizeSpec &s : o.sizes) {
            uint64_t blocks = size_in_blocks(s, w.distinct(), o.block_size);
            auto t1 = std::chrono::steady_clock::now();
            RefResult rr = ref.run(w, blocks);
            RunResult res;
            res.policy = ref.name;
            res.size_label = s.text;
            res.size_blocks = blocks;
            res.size_bytes = blocks * o.block_size;
            res.accesses = w.accesses();
            res.misses = rr.misses;
            res.miss_ratio = double(rr.misses) / double(w.accesses());
            res.evictions = rr.evictions;
            res.elapsed_s = std::chrono::duration<double>(
                                std::chrono::steady_clock::now() - t1)
                                .count();
            rep->runs.push_back(res);
        }
    }
    if (o.writeback) {
        for (hc_policy p : sel.core) {
            for (const SizeSpec &s : o.sizes) {
                CoreRun run = core_run(o, p, s, w.distinct());
                RunResult res;
                res.size_label = s.text;
                if (!run_core_writeback(trace.requests, o.reads_only, run,
                                        nullptr, &res, &err)) {
                    std::fprintf(
                        stderr, "hypercache-sim: %s, %s write-back at %s: %s\n",
                        path.c_str(), hc_policy_name(p), s.text.c_str(),
                        err.c_str());
                    return kCoreError;
                }
                rep->runs.push_back(res);
            }
        }
    }
    if (!o.io_file.empty() && !sel.core.empty()) {
        // The first selected core policy (the default one unless chosen)
        // at every size, against one baseline.
        std::vector<Request> reqs = io_requests(trace.requests, o);
        IoResult base;
        if (!run_io_baseline(reqs, o, &base, &err)) {
            std::fprintf(stderr, "hypercache-sim: %s\n", err.c_str());
            return kCoreError;
        }
        for (const SizeSpec &s : o.sizes) {
            CoreRun run = core_run(o, sel.core.front(), s, w.distinct());
            IoResult io = base;
            RunResult wb;
            wb.size_label = s.text;
            if (!run_io_cached(reqs, o, run, &io, &wb, &err)) {
                std::fprintf(stderr, "hypercache-sim: --io: %s\n", err.c_str());
                return kCoreError;
            }
            wb.mode = "wb+io";
            rep->runs.push_back(wb);
            rep->io.push_back(io);
        }
    }
    return kOk;
}

// --restart: every core policy and size, cold against warm (core_restart.h).
int restart(const Options &o, const Selection &sel, const std::string &path) {
    std::string err;
    Trace trace;
    Workload w;
    if (int rc = load_workload(o, path, &trace, &w); rc != kOk) {
        return rc;
    }
    if (w.accesses() < 2) {
        std::fprintf(stderr,
                     "hypercache-sim: %s: too few accesses to restart "
                     "halfway\n",
                     path.c_str());
        return kBadTrace;
    }
    std::vector<RestartResult> rs;
    for (hc_policy p : sel.core) {
        for (const SizeSpec &s : o.sizes) {
            CoreRun run = core_run(o, p, s, w.distinct());
            RestartResult r;
            r.size_label = s.text;
            if (!run_core_restart(w, run, w.accesses() / 2, o.restart_window,
                                  &r, &err)) {
                std::fprintf(stderr, "hypercache-sim: %s, %s at %s: %s\n",
                             path.c_str(), hc_policy_name(p), s.text.c_str(),
                             err.c_str());
                return kCoreError;
            }
            rs.push_back(r);
        }
    }
    if (o.json) {
        print_restart_json(stdout, path, w, rs);
    } else {
        print_restart_table(stdout, path, w, rs);
    }
    return kOk;
}

// --pool: all traces into one budget at each size (pool_sim.h).
int pool(const Options &o, const Selection &sel) {
    if (o.traces.size() < 2) {
        std::fprintf(stderr,
                     "hypercache-sim: --pool needs two traces or "
                     "more\n");
        return kUsage;
    }
    std::vector<Trace> traces(o.traces.size());
    std::vector<Workload> ws(o.traces.size());
    std::vector<const Workload *> wp;
    uint64_t distinct = 0;
    for (size_t i = 0; i < o.traces.size(); i++) {
        if (int rc = load_workload(o, o.traces[i], &traces[i], &ws[i]);
            rc != kOk) {
            return rc;
        }
        traces[i] = Trace();  // only the workload is needed
        distinct += ws[i].distinct();
        wp.push_back(&ws[i]);
    }
    if (o.json) {
        std::printf("{\"pool\": [");
    } else {
        std::printf("%-10s %10s %9s %9s %9s %9s  %s\n", "size", "blocks",
                    "unified", "equal", "pool", "vs-equal", "pool shares");
    }
    for (size_t si = 0; si < o.sizes.size(); si++) {
        const SizeSpec &s = o.sizes[si];
        CoreRun run = core_run(o, sel.core.front(), s, distinct);
        run.blocks = size_in_blocks(s, distinct, o.block_size);
        if (run.blocks < 8 * ws.size()) {
            std::fprintf(stderr,
                         "hypercache-sim: --pool: size %s is below "
                         "8 blocks per trace\n",
                         s.text.c_str());
            return kUsage;
        }
        PoolResult r;
        std::string err;
        if (!run_pool(wp, run, o.pool_interval, &r, &err)) {
            std::fprintf(stderr, "hypercache-sim: --pool at %s: %s\n",
                         s.text.c_str(), err.c_str());
            return kCoreError;
        }
        double n = double(std::max<uint64_t>(r.accesses, 1));
        double gain = r.equal_misses
                          ? 1.0 - double(r.pool_misses) / double(r.equal_misses)
                          : 0.0;
        if (o.json) {
            std::printf(
                "%s{\"size\": \"%s\", \"blocks\": %llu, "
                "\"accesses\": %llu, \"unified_misses\": %llu, "
                "\"equal_misses\": %llu, \"pool_misses\": %llu, "
                "\"rebalances\": %llu, \"members\": [",
                si ? ", " : "", s.text.c_str(),
                (unsigned long long)r.pool_blocks,
                (unsigned long long)r.accesses,
                (unsigned long long)r.unified_misses,
                (unsigned long long)r.equal_misses,
                (unsigned long long)r.pool_misses,
                (unsigned long long)r.rebalances);
            for (size_t m = 0; m < ws.size(); m++) {
                std::printf(
                    "%s{\"trace\": \"%s\", \"accesses\": %llu, "
                    "\"distinct\": %llu, \"share\": %llu, "
                    "\"pool_misses\": %llu, "
                    "\"equal_misses\": %llu}",
                    m ? ", " : "", o.traces[m].c_str(),
                    (unsigned long long)ws[m].accesses(),
                    (unsigned long long)ws[m].distinct(),
                    (unsigned long long)r.shares[m],
                    (unsigned long long)r.member_misses[m],
                    (unsigned long long)r.equal_member_misses[m]);
            }
            std::printf("]}");
        } else {
            std::printf("%-10s %10llu %9.4f %9.4f %9.4f %8.1f%% ",
                        s.text.c_str(), (unsigned long long)r.pool_blocks,
                        r.unified_misses / n, r.equal_misses / n,
                        r.pool_misses / n, 100 * gain);
            for (size_t m = 0; m < ws.size(); m++) {
                std::printf("%s%llu", m ? "/" : " ",
                            (unsigned long long)r.shares[m]);
            }
            std::printf("\n");
        }
    }
    if (o.json) {
        std::printf("]}\n");
    }
    return kOk;
}

int run(int argc, char **argv) {
    Options o;
    std::string err;
    switch (parse_options(argc, argv, &o, &err)) {
        case ParseResult::Help:
            print_usage(argv[0]);
            return kOk;
        case ParseResult::Error:
            std::fprintf(stderr, "hypercache-sim: %s (try --help)\n",
                         err.c_str());
            return kUsage;
        case ParseResult::Ok:
            break;
    }
    Selection sel;
    std::vector<double> factors;
    if (!select_policies(o, &sel, &err) ||
        !parse_factors(o.mrc_factors, &factors, &err)) {
        std::fprintf(stderr, "hypercache-sim: %s\n", err.c_str());
        return kUsage;
    }
    if (o.pool) {
        return pool(o, sel);
    }
    if (o.restart) {
        for (const std::string &path : o.traces) {
            int rc = restart(o, sel, path);
            if (rc != kOk) {
                return rc;
            }
        }
        return kOk;
    }
    std::vector<Report> reports;
    for (const std::string &path : o.traces) {
        Report rep;
        int rc = simulate(o, sel, factors, path, &rep);
        if (rc != kOk) {
            return rc;
        }
        reports.push_back(std::move(rep));
    }
    if (o.json) {
        print_json(stdout, reports);
    } else {
        for (size_t i = 0; i < reports.size(); i++) {
            if (i) {
                std::printf("\n");
            }
            print_table(stdout, reports[i]);
        }
    }
    if (!o.plot.empty() && !write_plot(reports, o.plot, &err)) {
        std::fprintf(stderr, "hypercache-sim: %s\n", err.c_str());
        return kUsage;
    }
    return kOk;
}

}  // namespace

}  // namespace hcsim

int main(int argc, char **argv) {
    // Nothing below throws on bad input; this only turns an allocation
    // failure on a huge trace into a message instead of an abort.
    try {
        return hcsim::run(argc, argv);
    } catch (const std::bad_alloc &) {
        std::fprintf(stderr, "hypercache-sim: out of memory\n");
    } catch (const std::exception &e) {
        std::fprintf(stderr, "hypercache-sim: %s\n", e.what());
    }
    return 4;
}
