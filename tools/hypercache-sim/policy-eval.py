#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The policy evaluation set (issue 17): every trace in shared/traces, all
accesses and (where a trace has a direction) reads only, at 1/5/10/20 % of
the working set (the LIRS traces at 10/20/40/60 %), through the core's
default policy and every reference policy of hypercache-sim.  Writes
docs/POLICY.md (a table per trace and a summary), a PNG per trace under
docs/policy/ and the raw figures in docs/policy/results.json.

Usage: tools/hypercache-sim/policy-eval.py [--sim BIN] [--traces DIR]
           [--out docs/POLICY.md] [--jobs N] [--from-json FILE]
           [--core freq[,s3fifo,...]] [--extra ref-afreq,...]

--extra adds prototype policies (default: the adaptive-FREQ prototypes of
ref_afreq.cc and ref_afreq_ms.cc) as rows of their own; they never count
as the best reference, and a section of POLICY.md compares them with the
default."""
import argparse
import concurrent.futures
import datetime
import gzip
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Every reference but the fixed-window W-TinyLFU, which is there to check
# the counting against anchors.md, not to compete.
REFS = ["ref-lru", "ref-arc", "ref-lirs", "ref-2q", "ref-wtinylfu",
        "ref-sieve", "ref-s3fifo"]
ORACLE = "ref-opt"
SIZES = ["1%", "5%", "10%", "20%"]
LIRS_SIZES = ["10%", "20%", "40%", "60%"]

# (name, file, has a read/write direction, sizes)
TRACES = [
    ("cloudPhysicsIO", "cloudPhysicsIO.csv.xz", True, SIZES),
    ("OLTP", "OLTP.lis.xz", False, SIZES),
    ("P2", "P2.lis.zst", False, SIZES),
    ("P6", "P6.lis.zst", False, SIZES),
    ("P12", "P12.lis.zst", False, SIZES),
] + [("lirs/" + n, "lirs/%s.lis.gz" % n, False, LIRS_SIZES)
     for n in ("2_pools", "cpp", "loop", "multi1", "multi2", "multi3", "ps",
               "sprite", "zigzag")]


def traces_dir(arg):
    for d in (arg, os.environ.get("HYPERCACHE_TRACES"),
              os.path.join(ROOT, "..", "shared", "traces"),
              "/work/shared/traces"):
        if d and os.path.isdir(d):
            return d
    sys.exit("policy-eval: no trace directory; use --traces")


def clean_lis(path, tmpdir):
    """2_pools.lis carries two lines whose page is '*' (markers of the
    original trace, not pages); the simulator rightly refuses them, so they
    are dropped here and counted."""
    if not path.endswith(".gz"):
        return path, 0
    with gzip.open(path, "rt") as f:
        lines = f.readlines()
    bad = [l for l in lines if not l.split()[0].isdigit()]
    if not bad:
        return path, 0
    out = os.path.join(tmpdir, os.path.basename(path)[:-3])
    with open(out, "w") as f:
        f.writelines(l for l in lines if l.split()[0].isdigit())
    return out, len(bad)


def run_case(sim, path, reads_only, sizes, policies):
    args = ["nice", sim, "--json", "--mrc-factors", "1", "-p",
            ",".join(policies), "-s", ",".join(sizes), path]
    if reads_only:
        args.insert(3, "--reads-only")
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("policy-eval: %s failed (%d):\n%s" % (" ".join(args),
                                                       p.returncode, p.stderr))
    rep = json.loads(p.stdout)["reports"][0]
    return {
        "accesses": rep["accesses"],
        "working_set": rep["working_set_blocks"],
        "sizes": sizes,
        "size_blocks": {r["size"]: r["size_blocks"] for r in rep["runs"]},
        "miss": {"%s@%s" % (r["policy"], r["size"]): r["miss_ratio"]
                 for r in rep["runs"] if r["mode"] == "count"},
    }


def measure(args):
    tdir = traces_dir(args.traces)
    core = args.core.split(",")
    extra = [p for p in args.extra.split(",") if p]
    policies = core + REFS + [ORACLE] + extra
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for name, file, directed, sizes in TRACES:
            path, dropped = clean_lis(os.path.join(tdir, file), tmp)
            for reads in ([False, True] if directed else [False]):
                jobs.append((name, file, reads, dropped, path, sizes))
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
            futs = [ex.submit(run_case, args.sim, j[4], j[2], j[5], policies)
                    for j in jobs]
            for j, f in zip(jobs, futs):
                c = f.result()
                c.update(trace=j[0], file=j[1], reads_only=j[2],
                         dropped_lines=j[3])
                cases.append(c)
                print("policy-eval: %s%s done" % (
                    j[0], " (reads only)" if j[2] else ""), file=sys.stderr)
    return {"core": core, "refs": REFS, "oracle": ORACLE, "extra": extra,
            "date": datetime.date.today().isoformat(),
            "commit": git_head(), "cases": cases}


def git_head():
    p = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True)
    return p.stdout.strip() or "?"


def label(c):
    return c["trace"] + (" (reads only)" if c["reads_only"] else "")


def slug(c):
    return c["trace"].replace("/", "-") + ("-reads" if c["reads_only"] else "")


def best_ref(c, size):
    pol = min(REFS, key=lambda p: c["miss"]["%s@%s" % (p, size)])
    return pol, c["miss"]["%s@%s" % (pol, size)]


def plot(c, core, extra, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    xs = [c["size_blocks"][s] / c["working_set"] for s in c["sizes"]]
    for p in core + REFS + [ORACLE] + extra:
        ys = [c["miss"]["%s@%s" % (p, s)] for s in c["sizes"]]
        style = dict(marker="o")
        if p in extra:
            style.update(linestyle=":", marker="x")
        elif p in core:
            style.update(linewidth=2.5, color="black")
        elif p == ORACLE:
            style.update(linestyle="--", color="0.5")
        ax.plot(xs, ys, label=p, **style)
    ax.set_title(label(c))
    ax.set_xlabel("cache size / working set (%d blocks)" % c["working_set"])
    ax.set_ylabel("miss ratio")
    ax.set_xticks(xs)
    ax.set_xticklabels(c["sizes"])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def prototypes(data, w):
    """How the prototypes fare against the default on the same yardstick."""
    default, extra = data["core"][0], data["extra"]
    w("## Prototypes")
    w("")
    w("Policies that are not (yet) the core's, measured on the same set: "
      "`ref-freq-model` re-implements today's `%s` over the simulator's "
      "lists (it differs from the core by the sketch's hashing and the "
      "ghost's exactness), `ref-afreq` moves its probation share by ghost "
      "hits (ARC's rule), `ref-afreq-hc` hill-climbs a sketch threshold that "
      "admits probation's victims to main (tools/hypercache-sim/"
      "ref_afreq.cc), `ref-afreq-ms` picks the probation share among 1, 5, "
      "15, 30, 50 and 90 %% by miniature simulations (Waldspurger et al., "
      "ATC'17) on a hash-sampled stream, each mini-cache about 1,024 blocks "
      "(ref_afreq_ms.cc; why it falls short: docs/policy/afreq-ms.md). "
      "Columns: points above min(LRU, ARC) of %d; mean gap "
      "to the best reference by size column; worst change against `%s` on "
      "cloudPhysicsIO and OLTP (all accesses; issue 17 allows +.003); "
      "points better than `%s`." % (
          default, sum(len(c["sizes"]) for c in data["cases"]), default,
          default))
    w("")
    w("| policy | above min(LRU, ARC) | mean gap by column | worst vs %s "
      "(cloudPhysicsIO, OLTP) | better than %s |" % (default, default))
    w("|---|---|---|---|---|")
    for p in [default] + extra:
        above, better, regress, gaps = 0, 0, [], {}
        for c in data["cases"]:
            for i, s in enumerate(c["sizes"]):
                v = c["miss"]["%s@%s" % (p, s)]
                f = c["miss"]["%s@%s" % (default, s)]
                m = min(c["miss"]["ref-lru@" + s], c["miss"]["ref-arc@" + s])
                above += v > m
                better += v < f
                gaps.setdefault(i, []).append(v - best_ref(c, s)[1])
                if c["trace"] in ("cloudPhysicsIO", "OLTP") and \
                        not c["reads_only"]:
                    regress.append(v - f)
        w("| %s | %d | %s | %+.4f | %d |" % (
            p, above, " ".join("%+.4f" % (sum(g) / len(g))
                               for _, g in sorted(gaps.items())),
            max(regress), better))
    w("")
    w("| trace | size | %s | %s |" % (default, " | ".join(extra)))
    w("|---|---|---|" + "---|" * len(extra))
    for c in data["cases"]:
        for s in c["sizes"]:
            w("| %s | %s | %.4f | %s |" % (
                label(c), s, c["miss"]["%s@%s" % (default, s)],
                " | ".join("%.4f" % c["miss"]["%s@%s" % (p, s)]
                           for p in extra)))
    w("")


def write_markdown(data, out, plots_rel):
    core = data["core"]
    default = core[0]
    L = []
    w = L.append
    w("<!-- SPDX-License-Identifier: GPL-2.0-or-later -->")
    w("<!-- Generated by tools/hypercache-sim/policy-eval.py; do not edit. -->")
    w("# Policy evaluation set")
    w("")
    w("Miss ratios of the core's default policy (`%s`) against the reference "
      "policies of `hypercache-sim` (docs/SIMULATOR.md) on every trace in "
      "`shared/traces`, 4 KiB blocks, every access counted (compulsory misses "
      "included). Sizes are shares of each trace's working set: 1/5/10/20 %%; "
      "for the small LIRS traces (1,000 to 10,000 blocks) 10/20/40/60 %%, so "
      "that their caches hold a hundred to a few thousand blocks, the scale "
      "of the LIRS paper's figures (whose exact sizes are not copied here). "
      "cloudPhysicsIO "
      "is also run reads only; the `.lis` traces carry no direction, so for "
      "them all accesses are reads. `ref-opt` is Belady's MIN, the floor; "
      "**bold** marks the best non-oracle figure per column." % default)
    w("")
    w("Regenerate (a few minutes on 2 cores): "
      "`tools/hypercache-sim/policy-eval.py` from a build with the simulator "
      "(`meson setup build && meson compile -C build`). Core at %s, %s." % (
          data["commit"], data["date"]))
    w("")
    w("References (sources and their checks against published figures: "
      "tests/sim/check_refs.py, docs/SIMULATOR.md):")
    w("")
    w("| name | policy |")
    w("|---|---|")
    for n, d in (
            ("ref-lru", "LRU"),
            ("ref-arc", "ARC, Megiddo & Modha, FAST'03"),
            ("ref-lirs", "LIRS, Jiang & Zhang, SIGMETRICS'02 (HIR 1 %, "
             "non-resident entries bounded to the cache size)"),
            ("ref-2q", "2Q, Johnson & Shasha, VLDB'94 (Kin 25 %, Kout 50 %)"),
            ("ref-wtinylfu", "W-TinyLFU, Einziger, Friedman & Manes, ToS 2017,"
             " with Caffeine's hill-climbed window"),
            ("ref-sieve", "SIEVE, Zhang et al., NSDI'24"),
            ("ref-s3fifo", "S3-FIFO, Yang et al., SOSP'23"),
            ("ref-opt", "Belady's MIN (oracle)")):
        w("| %s | %s |" % (n, d))
    w("")

    # Summary.
    w("## Summary")
    w("")
    w("Gap = `%s` miss ratio minus the best non-oracle reference's at the "
      "same point (negative: `%s` is better). **Loses** marks the points "
      "where `%s` is above min(LRU, ARC)." % (default, default, default))
    w("")
    w("| trace | size | %s | best reference | gap | min(LRU, ARC) | "
      "vs min(LRU, ARC) |" % default)
    w("|---|---|---|---|---|---|---|")
    loses = []
    gaps_by_size = {}
    for c in data["cases"]:
        for i, s in enumerate(c["sizes"]):
            f = c["miss"]["%s@%s" % (default, s)]
            bp, bv = best_ref(c, s)
            m = min(c["miss"]["ref-lru@" + s], c["miss"]["ref-arc@" + s])
            gap = f - bv
            gaps_by_size.setdefault(i, []).append(gap)
            lose = f > m
            if lose:
                loses.append((label(c), s, f, m))
            w("| %s | %s | %.4f | %.4f %s | %+.4f | %.4f | %s |" % (
                label(c), s, f, bv, bp, gap, m,
                "**loses** by %.4f" % (f - m) if lose else "ok"))
    w("")
    w("Mean gap over the set, by size column (1st column = 1 %, or 10 % for "
      "the LIRS traces): " + ", ".join(
          "%+.4f" % (sum(g) / len(g)) for _, g in sorted(gaps_by_size.items()))
      + ".")
    w("")
    w("Points where `%s` is above min(LRU, ARC): %d of %d." % (
        default, len(loses), sum(len(c["sizes"]) for c in data["cases"])))
    w("")
    for lab, s, f, m in loses:
        w("- %s at %s: %.4f against %.4f (+%.4f)" % (lab, s, f, m, f - m))
    w("")

    if data.get("extra"):
        prototypes(data, w)

    # Per trace.
    w("## Per trace")
    for c in data["cases"]:
        w("")
        w("### %s" % label(c))
        w("")
        extra = ""
        if c["dropped_lines"]:
            extra = (" %d lines whose page is `*` were dropped." %
                     c["dropped_lines"])
        w("%s accesses, working set %s blocks.%s" % (
            format(c["accesses"], ","), format(c["working_set"], ","), extra))
        w("")
        w("| policy | " + " | ".join(
            "%s (%s)" % (s, format(c["size_blocks"][s], ","))
            for s in c["sizes"]) + " |")
        w("|---|" + "---|" * len(c["sizes"]))
        best = {s: best_ref(c, s)[1] for s in c["sizes"]}
        for p in core:
            best = {s: min(best[s], c["miss"]["%s@%s" % (p, s)])
                    for s in c["sizes"]}
        for p in core + REFS + [ORACLE] + data.get("extra", []):
            cells = []
            for s in c["sizes"]:
                v = c["miss"]["%s@%s" % (p, s)]
                t = "%.4f" % v
                cells.append("**%s**" % t if p != ORACLE and v == best[s]
                             else t)
            name = "%s (core)" % p if p in core else p
            if p in data.get("extra", []):
                name = "_%s_ (prototype)" % p
            w("| %s | %s |" % (name, " | ".join(cells)))
        w("")
        w("![%s](%s/%s.png)" % (label(c), plots_rel, slug(c)))
    with open(out, "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sim", default=os.path.join(
        ROOT, "build", "tools", "hypercache-sim", "hypercache-sim"))
    ap.add_argument("--traces")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "POLICY.md"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--core", default="freq",
                    help="core policies, the first one the default")
    ap.add_argument("--extra",
                    default="ref-freq-model,ref-afreq,ref-afreq-hc,"
                    "ref-afreq-ms",
                    help="prototype policies shown beside the references")
    ap.add_argument("--from-json", help="redraw from saved results")
    args = ap.parse_args()
    plots = os.path.join(os.path.dirname(args.out), "policy")
    os.makedirs(plots, exist_ok=True)
    if args.from_json:
        with open(args.from_json) as f:
            data = json.load(f)
    else:
        data = measure(args)
        with open(os.path.join(plots, "results.json"), "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
    for c in data["cases"]:
        plot(c, data["core"], data.get("extra", []),
             os.path.join(plots, slug(c) + ".png"))
    write_markdown(data, args.out, "policy")
    print("policy-eval: wrote %s and %s/" % (args.out, plots),
          file=sys.stderr)


main()
