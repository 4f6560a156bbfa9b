#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""W9 boot storm (issue 14): docs/bench/w9.json, docs/bench/w9.png and the
W9 section of docs/BENCHMARKS.md.

  w9_report.py extract RESULTS.json W9.json   keep bench.py's W9 figures
  w9_report.py splice W9.json OUT.md PLOTDIR  write the plot and replace
                                              (or add) the W9 section
  w9_report.py print W9.json                  print the section
  w9_report.py variant RESULTS.json W9.json LABEL
                                              add another setting's
                                              headline figures (a run with
                                              W9_* overrides, --no-report)

report.py calls w9_section() when it writes the whole document; run.sh
--only W9 splices the section into the existing document instead, so that
rerunning W9 alone keeps every other workload's figures.
"""
import json
import os
import statistics
import sys

BEGIN, END = "<!-- W9 begin -->", "<!-- W9 end -->"
CFG_LABEL = {
    "pool": "pool: hypercache-pool, members on the base and under each "
            "overlay's qcow2 (the deployment of docs/system/hypercache.rst)",
    "per-vm": "per-VM: a hypercache node of TOTAL/8 on each overlay",
    "stock": "stock qemu-storage-daemon, no hypercache",
    "shared": "shared: one hypercache node of TOTAL on the base",
}
COLORS = {"pool": "#1f77b4", "per-vm": "#9ecae1", "stock": "#888888",
          "shared": "#2ca02c"}


def med(v):
    v = [x for x in v or [] if x is not None]
    return statistics.median(v) if v else None


def get(res, cfg, key):
    return [x for x in res.get(cfg, {}).get(key, []) if x is not None]


def cell(v, digits=1):
    v = [x for x in v if x is not None]
    if not v:
        return "-"
    f = "{:,.%df}" % digits
    if len(v) == 1:
        return f.format(v[0])
    return "%s (%s – %s)" % (f.format(med(v)), f.format(min(v)),
                             f.format(max(v)))


def ratio(res, a, b, key="read_mib_s"):
    """(ratio of medians, [per-repetition ratios]) of configs a / b."""
    x, y = get(res, a, key), get(res, b, key)
    if not x or not y:
        return None, []
    reps = [p / q for p, q in zip(x, y) if q] if len(x) == len(y) else []
    return med(x) / med(y), reps


def targets(res):
    """[(what, value, reps, goal, 'le'|'ge')]"""
    out = []
    b = get(res, "pool", "base_x_distinct")
    if b:
        out.append(("pool: reads reaching the base / distinct blocks of the "
                    "boot set", med(b), b, 1.05, "le"))
    for other, goal, what in (("per-vm", 3, "8 separate per-VM caches of "
                               "the same total memory"),
                              ("stock", 5, "stock qemu-storage-daemon")):
        r, reps = ratio(res, "pool", other)
        if r is not None:
            out.append(("pool: aggregate read throughput / %s" % what, r,
                        reps, goal, "ge"))
    return out


def reference(res):
    out = []
    for a, b in (("shared", "stock"), ("shared", "per-vm"), ("pool", "shared"),
                 ("per-vm", "stock")):
        r, reps = ratio(res, a, b)
        if r is not None:
            out.append(("%s / %s" % (a, b), r, reps))
    return out


def met(v, goal, kind):
    ok = v <= goal if kind == "le" else v >= goal
    return "yes" if ok else "**no**"


def spread(reps):
    return " (%.2f – %.2f)" % (min(reps), max(reps)) if len(reps) > 1 else ""


# ------------------------------------------------------------------ plot
def plot(data, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    res, info = data["results"], data["info"]
    p = info["W9"]
    cfgs = [c for c in ("pool", "per-vm", "stock", "shared") if c in res]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.8),
                                  gridspec_kw={"width_ratios": [1, 1.4]})
    meds = [med(get(res, c, "read_mib_s")) or 0 for c in cfgs]
    lo = [m - min(get(res, c, "read_mib_s") or [m]) for m, c in
          zip(meds, cfgs)]
    hi = [max(get(res, c, "read_mib_s") or [m]) - m for m, c in
          zip(meds, cfgs)]
    ax.bar(cfgs, meds, yerr=[lo, hi], capsize=4,
           color=[COLORS[c] for c in cfgs])
    stock = med(get(res, "stock", "read_mib_s"))
    for i, c in enumerate(cfgs):
        bx = med(get(res, c, "base_x_distinct"))
        lab = "%.1f MiB/s" % meds[i]
        if stock:
            lab += "\n%.2fx stock" % (meds[i] / stock)
        if bx is not None:
            lab += "\nbase %.2fx" % bx
        ax.text(i, meds[i] + hi[i], lab, ha="center", va="bottom",
                fontsize=7)
    top = max([m + h for m, h in zip(meds, hi)] + [1])
    pv = med(get(res, "per-vm", "read_mib_s"))
    for base_v, k, what, ls in ((stock, 5, "stock", "--"),
                                (pv, 3, "per-VM", ":")):
        if base_v:
            ax.axhline(k * base_v, color="red", linestyle=ls, linewidth=0.8,
                       label="target for pool: %dx %s" % (k, what))
            top = max(top, k * base_v)
    ax.set_ylim(0, top * 1.35)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_ylabel("aggregate read MiB/s of 8 clients (median, min–max)")
    ax.set_title("W9 boot storm: %d clients x %d MiB boot set, base %d IOPS,"
                 "\ncache %d MiB in total; 'base' = base reads / distinct "
                 "blocks" % (p["clients"], p["boot"] >> 20, p["iops"],
                             p["total"] >> 20), fontsize=9)
    tr = (p.get("traces") or [None])[0]
    if tr:
        t = [s["t"] for s in tr["samples"]]
        nodes = sorted(tr["samples"][0]["cap"], key=lambda n: (
            n != "hcbase", len(n), n))
        ys = [[s["cap"].get(n, 0) / (1 << 20) for s in tr["samples"]]
              for n in nodes]
        cols = ["#2ca02c" if n == "hcbase" else plt.cm.Blues(
            0.35 + 0.08 * i) for i, n in enumerate(nodes)]
        ax2.stackplot(t, ys, labels=[("base (golden)" if n == "hcbase"
                                      else n) for n in nodes], colors=cols,
                      linewidth=0.3, edgecolor="white", step="post")
        ax2.axvline(tr["boot_s"], color="black", linestyle="--",
                    linewidth=0.8)
        ax2.text(tr["boot_s"], p["total"] / (1 << 20) * 1.02,
                 "last client done ", fontsize=7, va="bottom", ha="right")
        ax2.set_xlabel("seconds since the clients started")
        ax2.set_ylabel("capacity-bytes, MiB (stacked)")
        ax2.set_ylim(0, p["total"] / (1 << 20) * 1.12)
        ax2.set_title("pool shares over time (x-hypercache-query every "
                      "0.25 s), repetition %d" % (tr["rep"] + 1), fontsize=9)
        ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax2.text(0.5, 0.5, "no pool trace", ha="center")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ------------------------------------------------------------------ text
def w9_section(w, data, rel, png="w9.png"):
    if not data or not data.get("results"):
        return
    res, info = data["results"], data["info"]
    p = info["W9"]
    m = info.get("machine", {})
    cfgs = [c for c in ("pool", "per-vm", "stock", "shared") if c in res]
    w(BEGIN)
    w("")
    w("### W9 boot storm: %d clients read the same golden image at once "
      "and write to their own overlays, base on slow storage (issue 14)" %
      p["clients"])
    w("")
    w("Run by `tests/bench/run.sh` (alone: `--only W9`; profile %s, %s, "
      "commit %s, %s; %d repetition(s), configurations alternating within each, order "
      "reversed every other repetition; medians (min – max), ratios of "
      "medians with the per-repetition range).  Load average at the "
      "start: %s." % (info.get("profile", "?"), info.get("start", "?"),
                      m.get("commit", "?"), m.get("qemu", "?"), p["reps"],
                      m.get("loadavg", "?")))
    b = p.get("build") or {}
    if b:
        w("")
        w("The measured binaries were built at %s%s." % (
            b.get("qsd_mtime", "?"),
            " from the hypercache sources in %s (whose HEAD was %s when "
            "the run started%s; the build may predate it)" % (
                b["src"], b.get("src_head", "?"),
                ", block/ with uncommitted changes" if b.get("src_dirty")
                else "") if b.get("src") else ""))
    w("")
    w("Setup: a base server (qemu-storage-daemon) holds the %d MiB golden "
      "raw image (O_DIRECT) behind a `throttle` filter (`throttle-group` "
      "limits.iops-total=%d) and exports it read-only over NBD; it is the "
      "slow storage, and the same for every configuration.  The measured "
      "qemu-storage-daemon reaches it through an `nbd` node, has %d qcow2 "
      "overlays backed by it (extended_l2=on, so a 4 KiB write copies "
      "nothing from the base) and exports each overlay over NBD.  fio "
      "(nbd engine) runs %d clients at once: each reads the boot set, the "
      "first %d MiB of the image (%d blocks of 4 KiB), every block once in "
      "a random order of its own (fixed seed per client), at QD %d, and "
      "writes %d KiB of 4 KiB random writes at QD 1 into its own overlay, "
      "away from the boot set.  Total cache memory TOTAL = %d MiB (the "
      "boot set is %d%% of it)." % (
          p["golden"] >> 20, p["iops"], p["clients"], p["clients"],
          p["boot"] >> 20, p["boot"] // p["bs"], p["qd"],
          p["write"] >> 10, p["total"] >> 20,
          round(100 * p["boot"] / p["total"])))
    w("")
    for c in cfgs:
        w("- `%s`: %s" % (c, CFG_LABEL[c].split(": ", 1)[-1]))
    w("")
    w("| target | measured (per-repetition range) | goal | met? |")
    w("|---|---|---|---|")
    for what, v, reps, goal, kind in targets(res):
        w("| %s | %.2fx%s | %s %.2fx | %s |" % (
            what, v, spread(reps), "≤" if kind == "le" else "≥", goal,
            met(v, goal, kind)))
    w("")
    ref = reference(res)
    if ref:
        w("For reference (no target), aggregate read throughput: " +
          "; ".join("%s %.2fx%s" % (n, v, spread(r)) for n, v, r in ref) +
          ".")
        w("")
    cols = [("read_mib_s", "read MiB/s", 1),
            ("read_iops", "read IOPS", 0),
            ("boot_s", "last client done, s", 1),
            ("base_reads", "base reads", 0),
            ("base_x_distinct", "base blocks read / distinct", 2),
            ("base_hit_ratio", "hit ratio, base node", 3),
            ("overlay_hit_ratio", "hit ratio, overlay nodes", 3),
            ("write_iops", "write IOPS", 0),
            ("qsd_cpu", "daemon CPU s", 2),
            ("rss_kib", "peak RSS MiB", 1)]
    present = [c for c in cols if any(get(res, cf, c[0]) for cf in cfgs)]
    w("| config | " + " | ".join(c[1] for c in present) + " |")
    w("|---|" + "---|" * len(present))
    for cf in cfgs:
        vals = []
        for key, _, dg in present:
            v = get(res, cf, key)
            if key == "rss_kib":
                v = [x / 1024 for x in v]
            vals.append(cell(v, dg))
        w("| %s | %s |" % (cf, " | ".join(vals)))
    w("")
    w("![W9](%s/%s)" % (rel, png))
    w("")
    # memory
    sr = med(get(res, "stock", "rss_kib"))
    if sr:
        L = []
        for cf in cfgs:
            r = med(get(res, cf, "rss_kib"))
            cap = med(get(res, cf, "capacity_bytes"))
            md = med(get(res, cf, "metadata_bytes"))
            if cf == "stock" or r is None or cap is None:
                continue
            L.append("%s %.1f MiB (capacity %.1f + metadata %.1f = %.1f "
                     "MiB)" % (cf, (r - sr) / 1024, cap / (1 << 20),
                               (md or 0) / (1 << 20),
                               (cap + (md or 0)) / (1 << 20)))
        w("Peak RSS of the measured daemon above stock's (%.1f MiB), "
          "against the cache's capacity-bytes plus metadata-bytes summed "
          "over its hypercache nodes at the end of the run (medians): %s." %
          (sr / 1024, "; ".join(L)))
        w("")
    history_table(w, data)
    traces = sorted(p.get("traces") or [], key=lambda t: t["rep"])
    if traces and "hcbase" in traces[0]["samples"][0]["cap"]:
        w("The base member's share of the pool over each pool repetition "
          "(MiB at the first sample where it changed, from the 0.25 s "
          "samples), and how many overlay members held less than their "
          "starting share then:")
        w("")
        for tr in traces:
            sm = tr["samples"]
            ov0 = {n: v for n, v in sm[0]["cap"].items() if n != "hcbase"}
            steps, last = [], sm[0]["cap"]["hcbase"]
            for x in sm:
                c = x["cap"]["hcbase"]
                if c != last:
                    shrunk = sum(1 for n, v in x["cap"].items()
                                 if n in ov0 and v < ov0[n])
                    steps.append("%.1f MiB at %.1f s (%d shrunk)" % (
                        c / (1 << 20), x["t"], shrunk))
                    last = c
            w("- repetition %d: %.1f MiB at the start; %s; last client "
              "done at %.1f s." % (tr["rep"] + 1,
                                   sm[0]["cap"]["hcbase"] / (1 << 20),
                                   ", ".join(steps) or "never changed",
                                   tr["boot_s"]))
        w("")
    fs = get(res, "pool", "first_shift_s")
    if fs:
        w("The pool first moved memory between its members %s s after the "
          "clients started (median; per repetition %s); it starts every "
          "member at an equal share." % (
              "%.1f" % med(fs), ", ".join("%.1f" % v for v in fs)))
        w("")
    w("How the figures are obtained: read MiB/s is the bytes all read jobs "
      "read divided by the longest read job's run time (fio `runtime`, "
      "the time until the last client has its boot set), so it is the "
      "boot storm's aggregate rate.  Base reads are counted outside QEMU, "
      "on the base server process: read operations are its io_uring "
      "READ/READV submissions (`perf stat -e io_uring:io_uring_submit_req`, "
      "as in W2–W4), bytes its `read_bytes` in /proc/PID/io, both before "
      "and after the clients ran; base blocks read = bytes / 4096.  Pool "
      "shares are each member's `capacity-bytes` from x-hypercache-query, "
      "sampled every 0.25 s over a second QMP monitor; the plot shows the "
      "repetition with the median boot time.")
    w("")
    w("What limits these figures: the clients are fio over NBD, not "
      "vhost-user-blk guests: the machine has /dev/kvm, but 8 guests on 2 "
      "shared CPUs would measure vCPU scheduling and guest page caches "
      "more than the storage daemon.  Everything, the clients included, "
      "shares 2 CPUs with other engineers' work: hits are capped by the "
      "CPU (fio + libnbd + the NBD server, a few thousand 4 KiB requests "
      "per second here), so the cached configurations are CPU-bound and "
      "their ratios to stock understate what a faster host would show. " +
      "The base's %d IOPS are slow storage only while the daemon's own "
      "CPU-bound path is faster: stock without any throttle reached "
      "3,700–4,700 IOPS here under a load average of 5–6, so under heavy "
      "load stock falls short of the "
      "throttle (its read IOPS column shows whether it got what it was "
      "allowed) and its ratios flatter the caches.  The pool starts every "
      "member at an equal share and rebalances once a second; until its "
      "first rebalance the golden image's member holds only its equal "
      "share, so the smaller the boot set, the larger the part of it read "
      "before the pool adapts.  " % p["iops"] +
      "W9_IOPS, W9_BOOT_MIB, W9_TOTAL_MIB, W9_WRITE_MIB, W9_REPS "
      "and W9_CONFIGS change the setup.  Each client reads each block "
      "once, so per-VM caches cannot hit on reads whatever their size: "
      "the per-VM configuration measures their cost, and only a cache "
      "below the overlays can share the golden blocks.")
    w("")
    cmds = data.get("commands") or []
    if cmds:
        w("<details><summary>exact commands (the base server, the measured "
          "daemon in each configuration, the fio job file)</summary>")
        w("")
        w("```")
        for c in cmds[:6]:
            w(c)
        if p.get("jobfile"):
            w("")
            w("# $SCRATCH/w9.fio (first client; the others differ in vmN "
              "and randseed), run as: fio --output-format=json "
              "$SCRATCH/w9.fio")
            jf = p["jobfile"].split("\n[read1]")[0].rstrip()
            w(jf)
        w("```")
        w("</details>")
        w("")
    if info.get("failures"):
        w("Failures in this run: " + "; ".join(info["failures"]))
        w("")
    w(END)


def summary(data):
    """One run's headline figures (a row of the earlier-runs table)."""
    res, info = data["results"], data["info"]
    p = info["W9"]
    b = p.get("build") or {}
    out = dict(start=info.get("start"), profile=info.get("profile"),
               reps=p["reps"], iops=p["iops"], boot=p["boot"],
               total=p["total"], build=b.get("qsd_mtime"),
               src_head=b.get("src_head"), src_dirty=b.get("src_dirty"),
               mib_s={c: med(get(res, c, "read_mib_s")) for c in res},
               pool_base_x=med(get(res, "pool", "base_x_distinct")))
    for a, bb in (("pool", "per-vm"), ("pool", "stock"), ("shared", "stock")):
        out["%s/%s" % (a, bb)] = ratio(res, a, bb)[0]
    return out


def history_table(w, data):
    rows = data.get("history") or []
    if rows:
        w("Earlier runs kept in docs/bench/w9.json (each its own medians; "
          "compare ratios, the machine's load differs between runs).  The "
          "runs before 2026-12-05 08:26 put the pool's VM members above "
          "the overlays, where each cached its own copy of the golden "
          "blocks, and ran the pool before two changes of that day: memory "
          "no curve wants goes to members whose blocks come back, and a "
          "member without a curve yet keeps only what it holds:")
        w("")
        runs_table(w, rows + [summary(data)], summary_of=data)
    var = data.get("variants") or []
    if var:
        w("Other settings, each run separately with W9_* overrides and "
          "`--no-report` and added by `w9_report.py variant` (so not "
          "alternated with the run above):")
        w("")
        runs_table(w, var, label=True)


def runs_table(w, rows, summary_of=None, label=False):
    cur = rows[-1] if summary_of else None
    w("| %srun | binaries built | base IOPS, boot set, cache | pool MiB/s | "
      "pool base reads / distinct | pool / per-VM | pool / stock | "
      "shared / stock |" % ("setting | " if label else ""))
    w("|%s---|---|---|---|---|---|---|---|" % ("---|" if label else ""))
    for r in rows:
        def x(k):
            return "-" if r.get(k) is None else "%.2fx" % r[k]
        w("| %s%s%s | %s | %d, %d MiB, %d MiB | %s | %s | %s | %s | "
          "%s |" % ("%s (%d rep%s) | " % (r.get("label", "?"), r["reps"],
                                          "s" if r["reps"] != 1 else "")
                    if label else "", r["start"],
                    " (this run)" if r is cur else "",
                    r.get("build") or "?", r["iops"],
                    r["boot"] >> 20, r["total"] >> 20,
                    "-" if r["mib_s"].get("pool") is None else
                    "%.1f" % r["mib_s"]["pool"],
                    "-" if r.get("pool_base_x") is None else
                    "%.2fx" % r["pool_base_x"], x("pool/per-vm"),
                    x("pool/stock"), x("shared/stock")))
    w("")


def add_variant(results_path, w9_path, label):
    """Adds another setting's headline figures (a run with W9_* overrides
    and --no-report) to W9.json's variants, replacing one of that label."""
    tmp = w9_path + ".variant.tmp"
    if extract(results_path, tmp, keep_history=False):
        return 1
    with open(tmp) as f:
        v = summary(json.load(f))
    os.unlink(tmp)
    v["label"] = label
    with open(w9_path) as f:
        data = json.load(f)
    data["variants"] = [x for x in data.get("variants", [])
                        if x.get("label") != label] + [v]
    with open(w9_path, "w") as f:
        json.dump(data, f, indent=1)
    print("added variant %r to %s" % (label, w9_path))
    return 0


def extract(results_path, out, keep_history=True):
    with open(results_path) as f:
        d = json.load(f)
    if "W9" not in d["results"]:
        print("w9_report: no W9 results in %s" % results_path,
              file=sys.stderr)
        return 1
    info = {k: d["info"].get(k) for k in ("profile", "machine", "start",
                                          "end", "aio", "W9")}
    # An --only run merges into older results and keeps their start.
    info["start"] = (info.get("W9") or {}).get("start") or info["start"]
    info["failures"] = [x for x in d["info"].get("failures", [])
                        if x.startswith("W9")]
    info["duration_s"] = d["info"].get("durations", {}).get("W9")
    # The earlier runs' headline figures, for run-to-run comparison.
    history, variants = [], []
    if keep_history and os.path.exists(out):
        with open(out) as f:
            old = json.load(f)
        if old.get("info", {}).get("start") != info.get("start"):
            history = old.get("history", []) + [summary(old)]
        variants = old.get("variants", [])
    with open(out, "w") as f:
        json.dump(dict(info=info, results=d["results"]["W9"],
                       commands=d["commands"].get("W9", []),
                       history=history[-8:], variants=variants), f,
                  indent=1)
    print("wrote %s" % out)
    return 0


def splice(w9_path, out_md, plotdir):
    with open(w9_path) as f:
        data = json.load(f)
    rel = os.path.relpath(plotdir, os.path.dirname(out_md))
    plot(data, os.path.join(plotdir, "w9.png"))
    L = []
    w9_section(L.append, data, rel)
    sec = "\n".join(L)
    doc = open(out_md).read() if os.path.exists(out_md) else \
        "# hypercache benchmarks\n\n"
    if BEGIN in doc and END in doc:
        a, b = doc.index(BEGIN), doc.index(END) + len(END)
        doc = doc[:a] + sec + doc[b:]
    elif "\n## Metadata, memory, CPU" in doc:
        a = doc.index("\n## Metadata, memory, CPU")
        doc = doc[:a] + "\n" + sec + "\n" + doc[a:]
    else:
        doc = doc.rstrip("\n") + "\n\n" + sec + "\n"
    with open(out_md, "w") as f:
        f.write(doc)
    print("wrote the W9 section of %s and %s/w9.png" % (out_md, plotdir))


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "extract":
        return extract(sys.argv[2], sys.argv[3])
    if len(sys.argv) >= 5 and sys.argv[1] == "splice":
        splice(*sys.argv[2:5])
        return 0
    if len(sys.argv) >= 5 and sys.argv[1] == "variant":
        return add_variant(*sys.argv[2:5])
    if len(sys.argv) >= 3 and sys.argv[1] == "print":
        with open(sys.argv[2]) as f:
            data = json.load(f)
        L = []
        w9_section(L.append, data, "bench")
        print("\n".join(L))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
