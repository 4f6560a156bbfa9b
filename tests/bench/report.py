#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Turns bench.py's results JSON into docs/BENCHMARKS.md and PNG plots.

  report.py RESULTS.json OUT.md PLOTDIR
"""
import json
import os
import statistics
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

WL_TITLES = {
    "W1": "W1 hot re-read: 4 KiB reads, QD 32, qemu-img bench, working set "
          "fits the cache",
    "W2-read": "W2 skewed reads on the host: fio zipf(1.2) 4 KiB randread "
               "through an NBD export of qemu-storage-daemon, disk 10x cache",
    "W2-mix": "W2 skewed 70/30 read/write on the host: fio zipf(1.2) 4 KiB "
              "randrw through NBD, disk 10x cache",
    "W2-guest-read": "W2 in the demo guest (TCG): fio zipf(1.2) 4 KiB "
                     "randread on /dev/vda, QD 32",
    "W2-guest-mix": "W2 in the demo guest (TCG): fio zipf(1.2) 4 KiB 70/30 "
                    "randrw on /dev/vda, QD 32",
    "W3": "W3 no locality: fio uniform 4 KiB randread through NBD, disk "
          "100x cache",
    "W4": "W4 small sequential writes: fio 4 KiB seq writes, QD 32, then "
          "fsync, through NBD",
    "W5": "W5 trace replay: cloudPhysicsIO through qemu-io (QD 1)",
    "W6": "W6 slow shared storage: NBD child in a network namespace over "
          "veth with 200 us delay, qemu-img bench 4 KiB reads QD 32",
}
MAIN_METRIC = {"W5": "rps"}
UNITS = {"iops": "IOPS", "rps": "requests/s"}


def med(v):
    return statistics.median(v) if v else None


def fmt(x, digits=0):
    if x is None:
        return "-"
    if isinstance(x, float) and digits == 0 and abs(x) < 10:
        return "%.2f" % x
    return ("{:,.%df}" % digits).format(x)


def cell(vals, digits=0):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    if len(vals) == 1:
        return fmt(vals[0], digits)
    return "%s (%s – %s)" % (fmt(med(vals), digits), fmt(min(vals), digits),
                             fmt(max(vals), digits))


def ratio(res, wl, a, b, metric=None):
    metric = metric or MAIN_METRIC.get(wl, "iops")
    try:
        x = med(res[wl][a][metric])
        y = med(res[wl][b][metric])
    except KeyError:
        return None
    if not x or not y:
        return None
    return x / y


def plot(res, wl, path, metric):
    cfgs = [c for c in res[wl] if res[wl][c].get(metric)]
    if not cfgs:
        return False
    meds = [med(res[wl][c][metric]) for c in cfgs]
    lo = [m - min(res[wl][c][metric]) for m, c in zip(meds, cfgs)]
    hi = [max(res[wl][c][metric]) - m for m, c in zip(meds, cfgs)]
    colors = ["#888888" if not c.startswith("hc") else "#1f77b4"
              for c in cfgs]
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(cfgs) + 2), 4))
    ax.bar(cfgs, meds, yerr=[lo, hi], capsize=4, color=colors)
    ax.set_ylabel(UNITS.get(metric, metric) + " (median, min–max)")
    ax.set_title(WL_TITLES.get(wl, wl), fontsize=8, wrap=True)
    for i, m in enumerate(meds):
        ax.text(i, m, "%.0f" % m if m >= 100 else "%.2f" % m,
                ha="center", va="bottom", fontsize=7)
    plt.xticks(rotation=30, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def mq_section(w, plotdir, rel):
    """W7, several iothreads on one node: tests/bench/mq.sh's results."""
    path = os.path.join(plotdir, "mq-scaling.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        mq = json.load(f)
    n = mq["threads"][1]
    w("")
    w("### W7 several iothreads on one node: 4 KiB requests, QD %d per "
      "iothread, inside QEMU (test-hypercache-mq --bench)" %
      mq["qd_per_thread"])
    w("")
    w("Run by `tests/bench/mq.sh` (%s, %d CPUs; %g s per run, %d "
      "repetitions, medians (min – max)): one BlockBackend whose requests "
      "come from coroutines in 1 or %d iothreads, as with virtio-blk's "
      "iothread-vq-mapping; hypercache over null-co against the same "
      "null-co node alone, in the same process.  The workload fits the "
      "cache, so this is the cost of the filter itself." %
      ("%s, commit %s" % (mq.get("date", "?"), mq.get("commit", "?")),
       mq["cpus"], mq["secs"], mq["reps"], n))
    w("")
    # An earlier core measured by the same harness, if kept for comparison.
    before = {}
    bpath = os.path.join(plotdir, "mq-scaling-before.json")
    if os.path.exists(bpath):
        with open(bpath) as f:
            b = json.load(f)
        before = {(r["workload"], r["backend"]): r for r in b["results"]}
        w("The last column is the core at commit %s, before the multiqueue "
          "work: %s." % (b.get("commit", "?"), b.get("note", "same harness")))
        w("")
    w("| workload | backend | 1 iothread IOPS | %d iothreads IOPS | "
      "scaling |%s" % (n, " core %s: %d iothreads, scaling |" % (
          b.get("commit", "?"), n) if before else ""))
    w("|---|---|---|---|---|%s" % ("---|" if before else ""))
    for r in mq["results"]:
        old = before.get((r["workload"], r["backend"]))
        tail = ""
        if before:
            tail = " %s, %.2fx |" % ("{:,.0f}".format(old["median_%dt" % n]),
                                     old["scaling"]) if old else " – |"
        w("| %s | %s | %s | %s | %.2fx |%s" % (
            r["workload"], r["backend"],
            "%s (%s – %s)" % tuple("{:,.0f}".format(v) for v in (
                r["median_1t"], min(r["iops_1t"]), max(r["iops_1t"]))),
            "%s (%s – %s)" % tuple("{:,.0f}".format(v) for v in (
                r["median_%dt" % n], min(r["iops_%dt" % n]),
                max(r["iops_%dt" % n]))),
            r["scaling"], tail))
    w("")
    if any(r["workload"] == "randwrite-wt" for r in mq["results"]):
        w("randwrite-wt runs hypercache in writethrough mode: every write "
          "goes to the child.  Its block is cached and clean, so the core "
          "updates it under the block's shard lock alone (write_clean()).")
        w("")
    w("![W7](%s/mq-scaling.png)" % rel)
    w("")


def main():
    src, out_md, plotdir = sys.argv[1:4]
    with open(src) as f:
        data = json.load(f)
    info, res, cmds = data["info"], data["results"], data["commands"]
    m = info["machine"]
    os.makedirs(plotdir, exist_ok=True)
    rel = os.path.relpath(plotdir, os.path.dirname(out_md))
    L = []
    w = L.append
    w("# hypercache benchmarks")
    w("")
    w("Generated by `tests/bench/run.sh` (profile `%s`) on %s, commit %s; "
      "the run took %.0f s (%.1f min).  Every workload ran every "
      "configuration in the same run, interleaved, repetition after "
      "repetition; figures are **medians (min – max)** over the "
      "repetitions.  Raw results: `%s` on the machine that ran it." %
      (info["profile"], info["start"], m["commit"], info["total_s"],
       info["total_s"] / 60, os.path.basename(src)))
    w("")
    if info.get("rerun"):
        w("Rerun separately and merged into these results (same machine, "
          "same day): %s.  The first attempt's figures for those workloads "
          "were dropped because the shared QEMU build was rebuilt under the "
          "run (a half-written qemu-img crashed); run.sh now runs private "
          "copies of the binaries." % "; ".join(info["rerun"]))
        w("")
    w("Reproduce: `tests/bench/run.sh` (full, ~%d min), `run.sh --quick`, "
      "`run.sh --smoke` (< 60 s, no report; `tests/bench/smoke.sh` wraps "
      "it for the test command)." % round(info["total_s"] / 60))
    w("")
    # ---------------------------------------------------------- targets
    w("## Targets (ratios of medians)")
    w("")
    w("| workload | target | measured | met? |")
    w("|---|---|---|---|")
    rows = []
    best_w1 = max((c for c in res.get("W1", {}) if c.startswith("hc")),
                  key=lambda c: med(res["W1"][c]["iops"]) or 0, default=None)

    def trow(wl, what, r, goal, note=""):
        met = "—" if r is None else ("yes" if r >= goal else "**no**")
        rows.append((wl, what, r, goal))
        w("| %s | %s ≥ %.2fx | %s | %s%s |" % (
            wl, what, goal, "-" if r is None else "%.2fx" % r, met, note))

    for c in ("hc-wb", "hc-wb-tuned"):
        if c not in res.get("W1", {}):
            continue
        trow("W1", "%s / cache=none" % c, ratio(res, "W1", c, "none"), 5)
        trow("W1", "%s / cache=writeback" % c,
             ratio(res, "W1", c, "writeback"), 1.5)
        trow("W1", "%s / null-co" % c, ratio(res, "W1", c, "null-co"), 0.7)
    for wl in ("W2-read", "W2-mix", "W2-guest-read", "W2-guest-mix"):
        for c in ("hc-wb", "hc-wb-tuned"):
            if c in res.get(wl, {}):
                trow(wl, "%s / cache=none" % c, ratio(res, wl, c, "none"), 3)
    for c in ("hc-wb", "hc-wb-tuned"):
        if c in res.get("W3", {}):
            trow("W3", "%s / bare child" % c, ratio(res, "W3", c, "bare"),
                 0.95)
    for c in ("hc-wb", "hc-wb-tuned"):
        v = res.get("W4", {}).get(c, {}).get("coalesce")
        if v:
            trow("W4", "%s guest writes / child writes" % c, med(v), 8)
    for c in ("hc-wb", "hc-wb-tuned", "hc-wt"):
        if c in res.get("W6", {}):
            trow("W6", "%s / cache=none over the delayed NBD" % c,
                 ratio(res, "W6", c, "none"), 4.7)
    w("")
    if best_w1:
        w("Best hypercache configuration in W1: `%s`." % best_w1)
        w("")
    # ---------------------------------------------------------- machine
    w("## Machine")
    w("")
    w("```")
    w("nproc: %s    kernel: %s" % (m["nproc"], m["uname"]))
    w(m["lscpu"])
    w("")
    w(m["free"])
    w("")
    w("%s; %s; scratch filesystem: %s" % (m["qemu"], m["fio"], m["fs"]))
    w("load average at start: %s; at end: %s" % (m["loadavg"],
                                                  info["loadavg_end"]))
    w("```")
    w("")
    w("The machine is shared: other engineers' builds ran during the run, "
      "so the min – max spread is part of the result; compare medians, and "
      "read ratios under ~1.2x as noise unless the spread says otherwise. "
      "aio=%s for every file node; images are raw files filled with "
      "non-zero data (an NBD client that asks for structured replies "
      "skips holes without reading, which made every cache look idle)." %
      info["aio"])
    w("")
    w("## Configurations")
    w("")
    w("| name | stack |")
    w("|---|---|")
    w("| none / bare | stock QEMU: `driver=file,cache.direct=on,aio=%s` "
      "(O_DIRECT) |" % info["aio"])
    w("| writeback | host page cache: `driver=file,cache.direct=off` |")
    w("| null-co | ceiling: `driver=null-co,read-zeroes=off` |")
    w("| hc-wb / hc-wt / hc-wa / hc-none | `driver=hypercache,mode=writeback"
      "|writethrough|writearound|none` at its defaults (policy freq, "
      "admit-threshold as built; size 256M unless the workload sets a "
      "size) over the cache=none file node |")
    w("| hc-*-tuned | the same with `admit-threshold=1` (admit on first "
      "miss); in W4 `dirty-high=80,dirty-low=60,max-merge=4194304` |")
    w("")
    # ---------------------------------------------------------- per workload
    order = ["W1", "W2-read", "W2-mix", "W2-guest-read", "W2-guest-mix",
             "W3", "W4", "W5", "W6"]
    cols = [("iops", "IOPS", 0), ("rps", "requests/s", 0),
            ("hit_ratio", "hit ratio", 3),
            ("child_reads", "child reads", 0),
            ("child_writes", "child writes", 0),
            ("fio_writes", "guest writes", 0),
            ("coalesce", "guest/child writes", 1),
            ("wall_incl_flush", "wall s incl. fsync", 2),
            ("bw_mib", "MiB/s", 1),
            ("read_block_hit_ratio", "read-block hit ratio", 3),
            ("cpu_us_per_io", "CPU µs/IO", 2),
            ("rss_kib", "max RSS KiB", 0)]
    w("## Results per workload")
    for wl in order:
        if wl not in res:
            continue
        metric = MAIN_METRIC.get(wl, "iops")
        w("")
        w("### " + WL_TITLES.get(wl, wl))
        w("")
        present = [c for c in cols
                   if any(res[wl][cf].get(c[0]) for cf in res[wl])]
        w("| config | " + " | ".join(c[1] for c in present) +
          " | ratio to baseline |")
        w("|---|" + "---|" * len(present) + "---|")
        base = "none" if "none" in res[wl] else "bare"
        for cf in res[wl]:
            r = ratio(res, wl, cf, base, metric)
            w("| %s | " % cf + " | ".join(
                cell(res[wl][cf].get(c[0], []), c[2]) for c in present) +
              " | %s |" % ("-" if r is None else "%.2fx %s" % (r, base)))
        png = "%s.png" % wl.lower()
        if plot(res, wl, os.path.join(plotdir, png), metric):
            w("")
            w("![%s](%s/%s)" % (wl, rel, png))
        if wl in cmds:
            w("")
            w("<details><summary>exact commands</summary>")
            w("")
            w("```")
            for c in cmds[wl][:12]:
                w(c)
            w("```")
            w("</details>")
    mq_section(w, plotdir, rel)
    # ---------------------------------------------------------- resources
    w("")
    w("## Metadata, memory, CPU")
    w("")
    md = [v for wl in res for c in res[wl] if c.startswith("hc")
          for v in res[wl][c].get("md_per_block", [])]
    if md:
        w("- Metadata bytes per cached block (x-hypercache-query "
          "metadata-bytes / cached-blocks, all qemu-storage-daemon runs): "
          "median %.0f, min %.0f, max %.0f.  For comparison dm-cache smq "
          "uses about 25 bytes per block, mq 88.  metadata-bytes includes "
          "the fixed-size index and sketch allocated for the whole "
          "capacity, so a cache that is not full shows a high per-block "
          "figure." % (med(md), min(md), max(md)))
    w("- Process RSS against the configured cache size (peak RSS, VmHWM "
      "or wait4 ru_maxrss):")
    w("")
    w("| workload | config | cache size | peak RSS median | RSS of the "
      "bare baseline | RSS − baseline |")
    w("|---|---|---|---|---|---|")
    sizes = {"W1": 256 << 20}
    pp = info["profile_params"]
    for k in ("W2-read", "W2-mix"):
        sizes[k] = int(pp["w2_cache"][:-1]) << 20
    sizes["W3"] = int(pp["w3_cache"][:-1]) << 20
    sizes["W4"] = 256 << 20
    for wl in ("W1", "W2-read", "W2-mix", "W3", "W4"):
        if wl not in res:
            continue
        base = "none" if "none" in res[wl] else "bare"
        b = med(res[wl].get(base, {}).get("rss_kib", []))
        for c in res[wl]:
            if not c.startswith("hc"):
                continue
            r = med(res[wl][c].get("rss_kib", []))
            if r is None or b is None:
                continue
            over = (r - b) * 1024 > sizes[wl] * 1.1
            w("| %s | %s | %d MiB | %.1f MiB | %.1f MiB | %.1f MiB%s |" % (
                wl, c, sizes[wl] >> 20, r / 1024, b / 1024, (r - b) / 1024,
                " **over budget**" if over else ""))
    w("")
    w("- CPU per I/O: the `CPU µs/IO` columns above; for qemu-img bench "
      "the whole process's user+system time (wait4) over the request "
      "count, for qemu-storage-daemon the daemon's utime+stime "
      "(/proc/PID/stat, 10 ms ticks) over the I/Os fio counted (ramp-up "
      "excluded from the count, so slightly high).")
    # ---------------------------------------------------------- notes
    w("")
    w("## How each figure was obtained, and what limits it")
    w("")
    notes = NOTES(info, res)
    for n in notes:
        w("- " + n)
    w("")
    if info.get("failures"):
        w("## Failures in this run")
        w("")
        for f in info["failures"]:
            w("- " + f)
        w("")
    with open(out_md, "w") as f:
        f.write("\n".join(L) + "\n")
    print("wrote %s and plots in %s" % (out_md, plotdir))


def NOTES(info, res):
    pp = info["profile_params"]
    n = []
    n.append("W1: one qemu-img bench process per configuration and "
             "repetition on a %d MiB image; qemu-img bench reads sequential "
             "offsets that wrap at the image size, so each run makes %d "
             "passes (%d requests for cached stacks, %d for cache=none and "
             "hc-none, whose rate is lower).  The cache starts cold in each process: the "
             "first pass (or two, with the default admission) are misses "
             "and are included in the figure, a few percent of the "
             "requests." % (pp["w1_img"] >> 20,
                            pp["w1_fast"] * 4096 // pp["w1_img"],
                            pp["w1_fast"], pp["w1_slow"]))
    n.append("W2/W3/W4 on the host: qemu-storage-daemon exports the top "
             "node over a unix-socket NBD export; fio 3.33's nbd engine "
             "(libnbd) drives it with 4 jobs x QD 8 (W4: 1 job, QD 32). "
             "Each repetition starts a fresh daemon, so the cache starts "
             "cold; fio's %d s ramp is excluded.  Child reads/writes are "
             "counted independently of the driver with `perf stat -e "
             "io_uring:io_uring_submit_req` filtered on READ/READV and "
             "WRITE/WRITEV opcodes on the daemon (for cache=writeback those "
             "are page-cache reads, not device reads)." % pp["fio_ramp"])
    n.append("The NBD path caps the host figures: fio + libnbd + the NBD "
             "server use both cores at a few tens of thousands of IOPS, so "
             "a cache hit saves the O_DIRECT read but the request still pays "
             "the NBD round trip.  The child-read column shows what the "
             "cache removes from the storage; the IOPS ratio is bounded by "
             "NBD, not by hypercache.  Where the W2 target is missed on the "
             "host, that is the reason found: cache=none on this machine's "
             "virtio disk is fast enough that NBD, not storage, is the "
             "bottleneck.")
    n.append("W2 in the guest: the e2e demo guest under TCG (one vCPU, no "
             "KVM); emulation caps IOPS at a few thousand, so the ratios are "
             "relative effects only.")
    n.append("W3: uniform random reads over %d MiB with a %s cache: almost "
             "every read misses; the ratio to the bare child is the price "
             "of the lookup, admission bookkeeping and bounce buffer." %
             (pp["w3_disk"] >> 20, pp["w3_cache"]))
    n.append("W4: guest writes are fio's write count; child writes the "
             "io_uring write submissions of the daemon (perf), which also "
             "include the final write-back that fio's end_fsync forces. "
             "x-hypercache-query writeback-requests is listed in the raw "
             "results and agrees.")
    w5 = info.get("W5")
    if w5:
        n.append("W5: the trace (%d requests, %d reads, %d writes, %d "
                 "distinct 4 KiB blocks) becomes a qemu-io command file of "
                 "`read`/`write` with the recorded byte offsets (lbn x 512) "
                 "and sizes, run at QD 1 by one qemu-io process per "
                 "configuration over a sparse %d GiB raw image whose touched "
                 "blocks were written beforehand.  Cache size %d MiB = 10 %% "
                 "of the distinct blocks.  The hit ratio comes from a second "
                 "pass of the same script through qemu-storage-daemon "
                 "(qemu-io has no monitor), read from x-hypercache-query; "
                 "compare with ../shared/anchors.md's libCacheSim miss ratios "
                 "at 10 %% (LRU .874, S3-FIFO .811 counting reads and "
                 "writes; reads only LRU .916), keeping in mind that the "
                 "driver's hit ratio counts read requests only." %
                 (w5["requests"], w5["reads"], w5["writes"], w5["blocks"],
                  w5["disk"] >> 30, w5["cache_bytes"] >> 20))
    n.append("**tuned = default for admission**: this build's default "
             "admit-threshold is already 1 (x-hypercache-query config shows "
             "it; commit f6293bf set the defaults by measurement), so every "
             "`*-tuned` column except W4's is a second sample of the default "
             "settings, and its difference from the default column is noise. "
             "A later run should tune something that differs (policy "
             "lru/s3fifo, seq-cutoff).")
    n.append("W3 through NBD is noise-dominated on this shared machine (bare "
             "child min – max spans 2x), so its ratio neither meets nor "
             "misses the ≥ 0.95x target convincingly.  The direct "
             "measurement below, without NBD, gives **0.71x: the W3 target "
             "is missed** when the filter's cost is not hidden behind NBD.")
    n.append("**Stock QEMU bug hit by the cache=writeback baseline**: "
             "`qemu-img bench` on `driver=file,cache.direct=off,aio=io_uring` "
             "segfaults about one run in seven (2 M reads of a page-cached "
             "64 MiB file): a stack overflow from unbounded recursion "
             "luring_process_completions → defer_call_end → ioq_submit → "
             "luring_process_completions (block/io_uring.c:231/276, "
             "util/defer-call.c:148; 98,000 frames in the core), because "
             "page-cache reads complete at submission.  No hypercache code "
             "is involved; failed repetitions are listed under Failures and "
             "the medians use the others.")
    n.append("Miss-path cost, measured by hand with perf (not part of "
             "run.sh; 2026-11-24, same machine, build of 16:15): `qemu-img "
             "bench -c 100000 -d 32 -s 4k -S 64k` over a 64 MiB image "
             "(every read a miss) took 2.15 s bare, 3.02 s through "
             "hypercache with size=1M (0.71x) and 2.62 s with mode=none "
             "(0.82x).  `perf record -g` of the hypercache run: libc "
             "memmove 10 % of samples (the bounce buffer copied to the "
             "caller and again into the cache by hc_cache::read_fill, 1.8 "
             "%), std::unordered_map::find 2.5 %, malloc/free ~3 % "
             "(qemu_try_blockalign per missed run, plan allocation), "
             "hc_cache::read_begin 1.1 %.  mode=none still takes the "
             "read_begin → bounce → copy path (memmove 3 %).  This is the "
             "W3 gap: a miss that will not be admitted (or mode=none) could "
             "read straight into the caller's buffer, and the bounce buffer "
             "could come from a pool; those are driver changes, reported, "
             "not made here.")
    w6 = info.get("W6")
    if w6:
        if w6["method"] == "relay":
            n.append("W6: **netem is not available here**: `tc qdisc add dev "
                     "... root netem delay 200us` fails with \"%s\" because "
                     "this kernel (%s) is built without CONFIG_NET_SCH_NETEM "
                     "and has no loadable modules (/proc/config.gz).  The "
                     "script still builds the namespace and the veth pair "
                     "(10.231.77.1/30 ↔ 10.231.77.2/30) and puts "
                     "qemu-storage-daemon inside it; the 200 µs delay is "
                     "added by tests/bench/delay-relay.c, a TCP relay in the "
                     "namespace that holds each client-to-server chunk for "
                     "200 µs (what netem on one end of the pair does).  "
                     "`none-nodelay` is the same server reached without the "
                     "relay.  Stock QEMU's NBD client over TCP reaches only "
                     "~15–20 k IOPS here even without delay, so the headline "
                     "ratio measures a cache hit against a network round "
                     "trip, as in the paper's SAN setting." %
                     (w6.get("netem_error") or "?",
                      info["machine"]["uname"]))
        else:
            n.append("W6: netem delay %d µs on the host end of the veth "
                     "pair." % w6["delay_us"])
    return n


if __name__ == "__main__":
    main()
