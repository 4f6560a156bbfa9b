#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Turns bench.py's results JSON into docs/BENCHMARKS.md and PNG plots.

  report.py RESULTS.json OUT.md PLOTDIR
  report.py --save-cost RESULTS.json W2I.json OUT.json LABEL
  report.py --cost OUT.md PLOTDIR BEFORE.json [AFTER.json]

The last two keep and compare issue 13's figures (tests/bench/cost.sh).
"""
import json
import os
import statistics
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import w8_rows  # noqa: E402
from rbd_report import rbd_section  # noqa: E402
from w9_report import plot as w9_plot, w9_section  # noqa: E402

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


# ------------------------------------------------------------ issue 13: W8
# What the cache cannot serve must cost (almost) nothing: the cost matrix
# (W8, bench.py), W2i (tests/bench/w2i.sh) and the targets of issue 13.
CACHE_BLOCK = 4096
W8_SIZE_BYTES = {"4k": 4096, "64k": 65536, "1m": 1 << 20}


def w8_ids(res):
    return [r[0] for r in w8_rows() if "W8-" + r[0] in res]


def w8_parse(rid):
    """'64k-write-miss-flush16m' -> ('64k', 'write', 'miss', 16)"""
    parts = rid.split("-")
    fl = int(parts[3][5:-1]) if len(parts) > 3 else 0
    return parts[0], parts[1], parts[2], fl


def w8_label(rid):
    sname, op, state, fl = w8_parse(rid)
    return "%s %s %s%s" % (sname.replace("k", " KiB").replace("1m", "1 MiB"),
                           op, "all-miss" if state == "miss" else "all-hit",
                           ", flush/%d MiB" % fl if fl else "")


def paired(a, b, f):
    """f over the repetitions of a and b run back to back (same index)."""
    if not a or not b or len(a) != len(b):
        return []
    return [f(x, y) for x, y in zip(a, b) if x and y]


def w8_ratio(res, rid, a, b, metric="iops"):
    """(ratio of medians, [per-repetition ratios]) of configs a / b."""
    d = res.get("W8-" + rid, {})
    x, y = d.get(a, {}).get(metric), d.get(b, {}).get(metric)
    if not x or not y:
        return None, []
    return med(x) / med(y), paired(x, y, lambda p, q: p / q)


def cpu_per_block(res, sname, op="read"):
    """issue 13's (1/IOPS_hc - 1/IOPS_null) / blocks per request, µs, from
    hypercache (seq-cutoff=0) over null-co against null-co alone, every
    request a miss: (median-based, [per repetition], rusage-based)."""
    d = res.get("W8-%s-%s-miss" % (sname, op), {})
    h, n = d.get("hc-null", {}), d.get("null-co", {})
    if not h.get("iops") or not n.get("iops"):
        return None, [], None
    bpr = W8_SIZE_BYTES[sname] // CACHE_BLOCK

    def f(a, b):
        return (1 / a - 1 / b) / bpr * 1e6
    ru = None
    if h.get("cpu_us_per_io") and n.get("cpu_us_per_io"):
        ru = (med(h["cpu_us_per_io"]) - med(n["cpu_us_per_io"])) / bpr
    return f(med(h["iops"]), med(n["iops"])), paired(h["iops"], n["iops"],
                                                     f), ru


def w2i_pick(w2i, wl, be, metric="iops"):
    for r in (w2i or {}).get("results", []):
        if r["workload"] == wl and r["backend"] == be:
            return r.get(metric)
    return None


def w2i_ratio(w2i, wl, a="hypercache", b="file"):
    x, y = w2i_pick(w2i, wl, a), w2i_pick(w2i, wl, b)
    if not x or not y:
        return None, []
    return med(x) / med(y), paired(x, y, lambda p, q: p / q)


def issue13_targets(cur):
    """[(id, what, (value, [per rep]), goal, 'ge'|'le')] for one run
    (cur: dict with 'results' from bench.py and 'w2i' from w2i.sh)."""
    res, w2i = cur.get("results", {}), cur.get("w2i")
    out = []
    for rid in w8_ids(res):
        sname, op, state, fl = w8_parse(rid)
        if state == "miss" or op == "write":
            out.append(("W8 " + rid, "hypercache / bare child (%s)" %
                        w8_label(rid), w8_ratio(res, rid, "hc", "bare"),
                        0.95, "ge"))
    if "W3" in res:
        r = ratio(res, "W3", "hc-wb", "bare")
        out.append(("W3", "hc-wb / bare child, random 4 KiB, no locality, "
                    "through NBD", (r, paired(
                        res["W3"].get("hc-wb", {}).get("iops"),
                        res["W3"].get("bare", {}).get("iops"),
                        lambda p, q: p / q)), 0.95, "ge"))
    if w2i_pick(w2i, "uniform-read", "hypercache"):
        out.append(("W2i uniform-read", "hypercache / file, random 4 KiB, "
                    "no locality, in-process",
                    w2i_ratio(w2i, "uniform-read"), 0.95, "ge"))
    for sname in ("4k", "64k", "1m"):
        v, reps, _ = cpu_per_block(res, sname)
        if v is not None:
            out.append(("W8 %s-read-miss" % sname, "CPU µs per missed 4 KiB "
                        "block over null-co, seq-cutoff=0, %s requests" %
                        sname.replace("k", " KiB").replace("1m", "1 MiB"),
                        (v, reps), 0.6, "le"))
    if "W1" in res and "null-co" in res["W1"]:
        out.append(("W1", "hc-wb / null-co, steady hot re-read (64 MiB, "
                    "4 KiB, QD 32)", (ratio(res, "W1", "hc-wb", "null-co"),
                                      []), 0.85, "ge"))
    if "W8-4k-read-hit" in res:
        out.append(("W8 4k-read-hit", "hypercache / null-co, hot re-read "
                    "in W8 (the same as W1)",
                    w8_ratio(res, "4k-read-hit", "hc", "null-co"), 0.85,
                    "ge"))
    if w2i_pick(w2i, "zipf-read", "hypercache"):
        hr = w2i_pick(w2i, "zipf-read", "hypercache", "hit_ratio")
        out.append(("W2i zipf-read", "hypercache / file, zipf(%.1f) 4 KiB "
                    "reads in-process, hit ratio %.3f" %
                    (w2i.get("theta", 1.2), med(hr) if hr else 0),
                    w2i_ratio(w2i, "zipf-read"), 3.0, "ge"))
    return out


def met(v, goal, kind):
    if v is None:
        return "—"
    ok = v >= goal if kind == "ge" else v <= goal
    return "yes" if ok else "**no**"


def vfmt(v, kind, reps=None):
    if v is None:
        return "-"
    unit = "x" if kind == "ge" else " µs"
    s = "%.2f%s" % (v, unit)
    if reps and len(reps) > 1:
        s += " (%.2f – %.2f)" % (min(reps), max(reps))
    return s


def issue13_table(w, cur, before=None):
    """The targets of issue 13, with the before figures if given."""
    old = {(t[0], t[1].split(",")[0]): t for t in
           issue13_targets(before)} if before else {}
    w("| workload | target | measured (per-rep min – max) |%s met? |" %
      (" before |" if before else ""))
    w("|---|---|---|%s---|" % ("---|" if before else ""))
    for tid, what, (v, reps), goal, kind in issue13_targets(cur):
        b = ""
        if before:
            o = old.get((tid, what.split(",")[0]))
            b = " %s |" % (vfmt(o[2][0], kind) if o else "-")
        w("| %s | %s %s %.2f%s | %s |%s %s |" % (
            tid, what, "≥" if kind == "ge" else "≤", goal,
            "x" if kind == "ge" else " µs", vfmt(v, kind, reps), b,
            met(v, goal, kind)))


def w8_plot(cur, before, path):
    res = cur["results"]
    ids = w8_ids(res)
    bres = (before or {}).get("results", {})
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={
        "width_ratios": [3, 1]})
    xs = range(len(ids))
    for i, rid in enumerate(ids):
        v, reps = w8_ratio(res, rid, "hc", "bare")
        if v is None:
            continue
        _, op, state, _ = w8_parse(rid)
        color = "#1f77b4" if state == "miss" or op == "write" else "#9ecae1"
        lo = v - min(reps) if reps else 0
        hi = max(reps) - v if reps else 0
        ax.bar(i, v, 0.7, color=color, yerr=[[max(lo, 0)], [max(hi, 0)]],
               capsize=3)
        ax.text(i, v, "%.2f" % v, ha="center", va="bottom", fontsize=7)
        pv, _ = w8_ratio(res, rid, "hc-prealloc", "bare")
        if pv is not None:
            ax.plot([i], [pv], marker="o", color="#ff7f0e", markersize=4)
        if bres:
            bv, _ = w8_ratio(bres, rid, "hc", "bare")
            if bv is not None:
                ax.plot([i - 0.35, i + 0.35], [bv, bv], color="black",
                        linewidth=1.5)
    ax.axhline(0.95, color="red", linewidth=0.8, linestyle="--")
    ax.axhline(1.0, color="black", linewidth=0.4)
    ax.set_yscale("log")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([w8_label(r) for r in ids], rotation=60, ha="right",
                       fontsize=7)
    ax.set_ylabel("hypercache / bare child IOPS (log scale)")
    ax.set_title("W8 cost matrix, ratio of medians, bars per-rep min–max; "
                 "dark: target ≥ 0.95x (red); orange dots: prealloc=on%s" %
                 ("; black ticks: before" if bres else ""), fontsize=9)
    sizes = [s for s in ("4k", "64k", "1m")
             if cpu_per_block(res, s)[0] is not None]
    for i, s in enumerate(sizes):
        v, reps, _ = cpu_per_block(res, s)
        lo = v - min(reps) if reps else 0
        hi = max(reps) - v if reps else 0
        ax2.bar(i, v, 0.6, color="#1f77b4",
                yerr=[[max(lo, 0)], [max(hi, 0)]], capsize=3)
        ax2.text(i, v, "%.2f" % v, ha="center", va="bottom", fontsize=7)
        if bres:
            bv = cpu_per_block(bres, s)[0]
            if bv is not None:
                ax2.plot([i - 0.3, i + 0.3], [bv, bv], color="black",
                         linewidth=1.5)
    ax2.axhline(0.6, color="red", linewidth=0.8, linestyle="--")
    ax2.axhline(0.3, color="green", linewidth=0.8, linestyle=":")
    ax2.set_xticks(range(len(sizes)))
    ax2.set_xticklabels([s.replace("k", " KiB").replace("1m", "1 MiB")
                         for s in sizes], fontsize=8)
    ax2.set_ylabel("µs per missed 4 KiB block (over null-co)")
    ax2.set_title("CPU per missed block: target ≤ 0.6 µs (red),\n"
                  "goal 0.3 (green)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def w8_section(w, cur, before, plotdir, rel, cmds=None, png="w8.png"):
    res = cur["results"]
    ids = w8_ids(res)
    if not ids:
        return
    bres = (before or {}).get("results", {})
    bi = (before or {}).get("info", {})
    i8 = cur.get("info", {}).get("W8", {})
    w("")
    w("### W8 cost matrix: what the cache cannot serve (issue 13), "
      "qemu-img bench")
    w("")
    w("Every request size x read/write x all-miss/all-hit, writes unflushed "
      "and with a flush every 16 MiB; hypercache at its defaults with "
      "size=%s over the bare child (raw file, cache.direct=on, "
      "aio=io_uring), against that child alone and against null-co, one "
      "qemu-img bench process per configuration, configurations alternating "
      "row by row, repetition after repetition.  All-miss: one pass over "
      "a %d MiB image in a fresh process, so no request can hit; all-hit: "
      "%d MiB re-read or re-written (%d MiB per run through hypercache and "
      "null-co, the first pass cold and included; %d MiB for the bare "
      "child).  hc-null is hypercache with seq-cutoff=0 over null-co (an "
      "infinitely fast child): its difference to null-co is the CPU "
      "hypercache spends per request." % (
          i8.get("cache", "256M"), i8.get("miss_bytes", 0) >> 20,
          i8.get("hot_bytes", 0) >> 20, i8.get("hit_fast", 0) >> 20,
          i8.get("hit_slow", 0) >> 20))
    w("")
    if bres and bi.get("label") == "same run":
        w("The before columns are the older cache code (%s), run in this "
          "same run beside the current one, each right after its current "
          "twin, with the same options, images and counts." %
          bi.get("cache_code", "?"))
        w("")
    elif bres:
        w("The before column is docs/bench/cost-%s.json (profile %s, "
          "cache code %s, %s), a run of its own: compare ratios, which "
          "each run measured against its own bare child, rather than "
          "IOPS or µs, which follow the machine's load." % (
              bi.get("label", "before"), bi.get("profile", "?"),
              bi.get("cache_code", bi.get("machine", {}).get("commit", "?")),
              bi.get("start", "?")))
        w("")
    w("| row | QD | bare child IOPS | hypercache IOPS | null-co IOPS | "
      "hc-null IOPS | hc / bare | hc / bare incl. close | hc / null-co | "
      "hc prealloc=on / bare (incl. open) |%s"
      % (" before: hc / bare |" if bres else ""))
    w("|---|---|---|---|---|---|---|---|---|---|%s" % ("---|" if bres else ""))
    for rid in ids:
        d = res["W8-" + rid]
        qd = dict((r[0], r[3]) for r in w8_rows())[rid]
        r, reps = w8_ratio(res, rid, "hc", "bare")
        rc, _ = w8_ratio(res, rid, "hc", "bare", "iops_incl_close")
        rn, _ = w8_ratio(res, rid, "hc", "null-co")
        rp, _ = w8_ratio(res, rid, "hc-prealloc", "bare")
        rpo, _ = w8_ratio(res, rid, "hc-prealloc", "bare", "iops_incl_close")
        pre = "-" if rp is None else "%.2fx (%.2fx)" % (rp, rpo)
        tail = ""
        if bres:
            bv, _ = w8_ratio(bres, rid, "hc", "bare")
            tail = " %s |" % ("-" if bv is None else "%.2fx" % bv)
        w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |%s" % (
            w8_label(rid), qd, cell(d.get("bare", {}).get("iops", [])),
            cell(d.get("hc", {}).get("iops", [])),
            cell(d.get("null-co", {}).get("iops", [])),
            cell(d.get("hc-null", {}).get("iops", [])),
            vfmt(r, "ge", reps), "-" if rc is None or "write" not in rid
            else "%.2fx" % rc, "-" if rn is None else "%.2fx" % rn, pre,
            tail))
    w("")
    w("CPU per missed block, `(1/IOPS_hc-null − 1/IOPS_null-co) / blocks "
      "per request` with 4 KiB cache blocks, from the all-miss rows; the "
      "last column is the same from the processes' user+system time "
      "(wait4), a cross-check:")
    w("")
    w("| request | operation | µs per missed block (per-rep min – max) |%s "
      "from CPU time |" % (" before |" if bres else ""))
    w("|---|---|---|%s---|" % ("---|" if bres else ""))
    for op in ("read", "write"):
        for s in ("4k", "64k", "1m"):
            v, reps, ru = cpu_per_block(res, s, op)
            if v is None:
                continue
            b = ""
            if bres:
                bv = cpu_per_block(bres, s, op)[0]
                b = " %s |" % ("-" if bv is None else "%.2f" % bv)
            w("| %s | %s%s | %s |%s %s |" % (
                s.replace("k", " KiB").replace("1m", "1 MiB"), op,
                "" if op == "read" else " (unflushed; no target)",
                vfmt(v, "le", reps), b, "-" if ru is None else "%.2f" % ru))
    w("")
    w8_plot(cur, before, os.path.join(plotdir, png))
    w("![W8](%s/%s)" % (rel, png))
    if cmds:
        w("")
        w("<details><summary>exact commands of three rows (the others "
          "differ in -c, -d, -s, -w and --flush-interval)</summary>")
        w("")
        w("```")
        for c in cmds[:16]:
            w(c)
        w("```")
        w("</details>")


def w2i_section(w, w2i, before_w2i, rel):
    """W2i: W2 and W3 without NBD (tests/bench/w2i.sh's JSON)."""
    if not w2i:
        return
    w("")
    w("### W2i zipf(%.1f) and uniform 4 KiB random reads inside QEMU: W2 "
      "and W3 without the NBD cap (test-hypercache-mq --bench --file)" %
      w2i.get("theta", 1.2))
    w("")
    w("Run by `tests/bench/w2i.sh` (%s, commit %s, %d CPUs): one "
      "BlockBackend in one iothread, %d coroutines each reading one 4 KiB "
      "block at a time (QD %d), over a %d MiB raw file opened with "
      "cache.direct=on, aio=%s; hypercache (size=%s, other options at "
      "their defaults) over the file, the file alone and null-co take "
      "turns, %g s each, %d repetitions, after %g s of warm-up through "
      "hypercache.  zipf: rank k has weight 1/(k+1)^%.1f, ranks scattered "
      "over the blocks; a cache that held exactly the hottest %d blocks "
      "would hit %.3f.  The cache size was chosen for a hit ratio near "
      "0.85 (exact zipf(1.2) is more skewed than fio's, which gave W2 0.86 "
      "with 10 %% of the disk cached)." % (
          w2i.get("date", "?"), w2i.get("commit", "?"), w2i["cpus"],
          w2i["qd"], w2i["qd"], w2i["footprint_bytes"] >> 20, w2i["aio"],
          w2i["cache_size"], w2i["secs"], w2i["reps"], w2i["warm_secs"],
          w2i["theta"], w2i["cache_bytes"] // 4096,
          w2i["zipf_ideal_hit_ratio"]))
    w("")
    w("| workload | backend | IOPS | CPU µs/IO | hit ratio | / file |%s" %
      (" before: / file |" if before_w2i else ""))
    w("|---|---|---|---|---|---|%s" % ("---|" if before_w2i else ""))
    for r in w2i["results"]:
        f = w2i_pick(w2i, r["workload"], "file")
        tail = ""
        if before_w2i:
            bx = w2i_pick(before_w2i, r["workload"], r["backend"])
            bf = w2i_pick(before_w2i, r["workload"], "file")
            tail = " %s |" % ("%.2fx" % (med(bx) / med(bf))
                              if bx and bf else "-")
        w("| %s | %s | %s | %s | %s | %.2fx |%s" % (
            r["workload"], r["backend"], cell(r["iops"]),
            cell(r["cpu_us_per_io"], 2),
            cell(r["hit_ratio"], 3) if "hit_ratio" in r else "-",
            med(r["iops"]) / med(f), tail))
    w("")
    w("![W2i](%s/w2i.png)" % rel)


def same_run_before(cur, kept=None):
    """The older cache code measured in the same run as cur (W8's hc*-before
    configurations, W2i's w2i_before) as a run of its own, or None; W1 and
    W3, which have no such twin, from the kept before figures."""
    res = cur.get("results", {})
    out = {}
    for k, d in res.items():
        if k.startswith("W8-") and "hc-before" in d:
            nd = {c: v for c, v in d.items() if not c.startswith("hc")}
            for c in ("hc", "hc-null"):
                if c + "-before" in d:
                    nd[c] = d[c + "-before"]
            out[k] = nd
    if not out and not cur.get("w2i_before"):
        return None
    for k in ("W1", "W3"):
        if kept and k in kept.get("results", {}):
            out[k] = kept["results"][k]
    ci = cur.get("info", {})
    code = (ci.get("W8") or {}).get("before") or \
        (cur.get("w2i_before") or {}).get("commit", "?")
    return dict(results=out, w2i=cur.get("w2i_before") or
                (kept or {}).get("w2i"),
                info=dict(label="same run", profile=ci.get("profile"),
                          cache_code=code, start=ci.get("start")))


def load_json(path):
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return None


def save_cost(results_path, w2i_path, out, label):
    """The slice of one run that issue 13 is judged on, kept as
    docs/bench/cost-LABEL.json."""
    data = load_json(results_path)
    keep = {k: v for k, v in data["results"].items()
            if k.startswith("W8-") or k in ("W1", "W3")}
    info = {k: data["info"].get(k) for k in (
        "profile", "profile_params", "aio", "machine", "start", "end",
        "total_s", "failures", "W8", "loadavg_end")}
    info["label"] = label
    # Which cache code ran: the binaries may come from another checkout
    # than the one whose commit machine() recorded.
    info["cache_code"] = os.environ.get("HC_COST_CODE") or \
        data["info"]["machine"]["commit"]
    cmds = {k: v for k, v in data["commands"].items()
            if k in ("W1", "W3", "W8")}
    w2i = load_json(w2i_path)
    if w2i and os.environ.get("HC_COST_CODE"):
        w2i["commit"] = info["cache_code"]
    with open(out, "w") as f:
        json.dump(dict(info=info, results=keep, commands=cmds, w2i=w2i,
                       w2i_before=load_json(os.path.join(
                           os.path.dirname(w2i_path), "w2i-before.json"))),
                  f, indent=1)
    print("wrote %s" % out)


def cost_doc(out_md, plotdir, before_path, after_path=None):
    """docs/bench/cost.md: issue 13's targets and tables, before [and
    after]."""
    before = load_json(before_path)
    after = load_json(after_path)
    cur, old = (after, before) if after else (before, None)
    same = same_run_before(cur, old)
    if same:
        old = same
    rel = os.path.relpath(plotdir, os.path.dirname(out_md))
    L = []
    w = L.append
    ci = cur["info"]
    w("# Issue 13: the cost of what the cache cannot serve")
    w("")
    w("Generated by `tests/bench/cost.sh` from `%s`%s: profile %s, cache "
      "code %s, %s, %.0f s; figures are medians (min – max) over the "
      "repetitions, ratios are ratios of medians, configurations ran "
      "alternately in the same run." % (
          os.path.basename(after_path or before_path),
          "" if not old else " against the older code in the same run "
          "(W8, W2i; W1 and W3 from `%s`)" % os.path.basename(before_path)
          if same else " against `%s`" % os.path.basename(before_path),
          ci["profile"], ci.get("cache_code", ci["machine"]["commit"]),
          ci["start"], ci.get("total_s", 0)))
    w("")
    w("## Targets")
    w("")
    issue13_table(w, cur, old)
    w8_section(w, cur, old, plotdir, rel, cur.get("commands", {}).get("W8"),
               png="cost.png")
    w2i_section(w, cur.get("w2i"), (old or {}).get("w2i"), rel)
    w("")
    if ci.get("failures"):
        w("## Failures in this run")
        w("")
        for f in ci["failures"]:
            w("- " + f)
        w("")
    with open(out_md, "w") as f:
        f.write("\n".join(L) + "\n")
    print("wrote %s" % out_md)


def main():
    if sys.argv[1] == "--save-cost":
        save_cost(*sys.argv[2:6])
        return
    if sys.argv[1] == "--cost":
        cost_doc(*sys.argv[2:6])
        return
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
    if os.path.exists(os.path.join(plotdir, "w9.json")):
        w("W9 (issue 14, boot storm) has its targets in its own section "
          "below, which `run.sh --only W9` rewrites alone.")
        w("")
    if best_w1:
        w("Best hypercache configuration in W1: `%s`." % best_w1)
        w("")
    before = load_json(os.path.join(plotdir, "cost-before.json"))
    if before and before["info"].get("start") == info.get("start"):
        before = None
    cur = dict(results=res, info=info,
               w2i=load_json(os.path.join(plotdir, "w2i.json")),
               w2i_before=load_json(os.path.join(plotdir,
                                                 "w2i-before.json")))
    before = same_run_before(cur, before) or before
    if issue13_targets(cur):
        w("Issue 13 (what the cache cannot serve must cost almost nothing), "
          "from W1, W3, W8 and W2i%s:" % (
              "; before: docs/bench/cost-before.json" if before else ""))
        w("")
        issue13_table(w, cur, before)
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
    w8_section(w, cur, before, plotdir, rel, cmds.get("W8"))
    mq_section(w, plotdir, rel)
    w2i_section(w, cur["w2i"], (before or {}).get("w2i"), rel)
    rbd_section(w, load_json(os.path.join(plotdir, "rbd.json")), rel)
    w9 = load_json(os.path.join(plotdir, "w9.json"))
    if w9:
        w9_plot(w9, os.path.join(plotdir, "w9.png"))
        w("")
        w9_section(w, w9, rel)
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
    w8 = info.get("W8")
    if w8:
        n.append("W8: qemu-img bench reads or writes sequential offsets "
                 "that wrap at the image size, -c requests, -d in flight.  "
                 "The IOPS are qemu-img's own figure (\"Run completed in\", "
                 "millisecond resolution), which starts after the open and "
                 "stops before the close, as in issue 13; \"incl. close\" "
                 "divides by the whole process's wall time instead, which "
                 "adds the start-up (tens of ms, the same for all) and the "
                 "close, where hypercache writes back what is still dirty "
                 "and flushes: for unflushed writes that is the fairer "
                 "figure.  The targets use the first.  Flushed rows send a "
                 "flush every 16 MiB (--flush-interval, qemu-img drains the "
                 "queue first).  null-co runs %s so that its time is "
                 "measurable.  The all-hit rows re-read "
                 "sequentially; a default sequential cutoff would make them "
                 "misses, which their hc / null-co column would show." %
                 ("at least %d requests per row" % w8["null_reqs"]
                  if w8.get("null_reqs") else
                  "at least %d MiB per row (too few 1 MiB requests for "
                  "qemu-img's clock: its 1 MiB figures are only a lower "
                  "bound)" % (max(w8["hit_fast"], w8["miss_bytes"]) >> 20)))
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
