#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Sweep the core's dirty-data settings (dirty-high/-low, max-dirty-age)
through hypercache-sim --writeback on cloudPhysicsIO, and write a plot and
a markdown table (docs/bench/dirty-sweep.{png,md}).

The watermarks are swept twice: at the default max-dirty-age, and with no
age limit (what a burst faster than the age limit sees).  Runs one
simulator at a time (each run replays every size and policy), so it takes
a few minutes; the figures are also saved as JSON, and --replot redraws
from them without running anything.  /usr/bin/python3 because that is
where python3-matplotlib is.  The markdown's "## Conclusion" section and what
follows it are kept when the file is rewritten: the figures are the
script's, the reading of them is a person's.

Usage: sweep-dirty.py [--sim PATH] [--trace PATH] [--out-dir DIR]
                      [--replot]"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

PAIRS = [(20, 10), (30, 20), (40, 30), (50, 45), (60, 50), (70, 60),
         (80, 70)]
AGES = [1000, 5000, 10000, 30000, 60000, 0]  # ms; 0 = no age limit
DEFAULT = (50, 45, 30000)
PAIR_AGES = [DEFAULT[2], 0]  # the watermark sweep's ages
SIZES = ["5%", "10%", "20%"]
POLICIES = ["freq", "lru"]


def sim_args(sim, trace, high, low, age):
    return [sim, "--json", "--writeback", "-p", ",".join(POLICIES),
            "-s", ",".join(SIZES), "--mrc-factors", "1",
            "--dirty-high", str(high),
            "--dirty-low", str(low), "--max-dirty-age", str(age), trace]


def point(run):
    """The figures of one write-back run."""
    wb_req, wb_blk = run["writeback_requests"], run["writeback_blocks"]
    guest = run["guest_write_blocks"]
    return {
        "policy": run["policy"],
        "size": run["size"],
        "size_blocks": run["size_blocks"],
        "miss": run["miss_ratio"],
        "child_reqs": wb_req + run["child_write_requests"],
        "per_guest": (wb_blk + run["child_write_blocks"]) / guest,
        "merge": wb_blk / wb_req if wb_req else 0.0,
        "stalled": run["writes_stalled"],
        "enospc": run["enospc"],
        "peak_dirty": run["peak_dirty_blocks"] / run["size_blocks"],
        "by_cause": {k: v["requests"]
                     for k, v in run["writeback_by_cause"].items()},
    }


def run_sim(sim, trace, high, low, age, n, total):
    args = sim_args(sim, trace, high, low, age)
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("sweep-dirty: %s exited %d:\n%s" % (
            shlex.join(args), p.returncode, p.stderr))
    rep = json.loads(p.stdout)["reports"][0]
    pts = [point(r) for r in rep["runs"] if r["mode"] == "writeback"]
    f5 = next(x for x in pts if x["policy"] == "freq" and x["size"] == "5%")
    print("[%2d/%d] high %2d low %2d age %5d ms: %5.1fs  freq 5%%: miss "
          "%.4f, %d child writes, %d stalled" % (
              n, total, high, low, age, time.monotonic() - t0, f5["miss"],
              f5["child_reqs"], f5["stalled"]), flush=True)
    return rep, pts


def best_pair(results):
    """The pair with the fewest child write requests, summed over FREQ's
    sizes, among those whose read miss ratio is nowhere worse than the
    default's by more than .001."""
    def freq(key):
        return [x for x in results[key] if x["policy"] == "freq"]
    base = {x["size"]: x["miss"] for x in freq(DEFAULT)}
    ok = [(h, l) for h, l in PAIRS
          if all(x["miss"] <= base[x["size"]] + .001
                 for x in freq((h, l, DEFAULT[2])))]
    return min(ok, key=lambda hl: sum(x["child_reqs"]
                                      for x in freq(hl + (DEFAULT[2],))))


def table(results, keys):
    base = {(x["policy"], x["size"]): x for x in results[DEFAULT]}
    rows = ["| high/low | age ms | policy | size | read miss | child write "
            "reqs (vs default) | child blocks / guest block | blocks / "
            "write-back | stalled writes | -ENOSPC | peak dirty | "
            "write-back by cause: watermark / age / full |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key in keys:
        h, l, age = key
        for x in results[key]:
            b = base[(x["policy"], x["size"])]
            c = x["by_cause"]
            rows.append(
                "| %s%d/%d%s | %s | %s | %s | %.4f | %d (%.2f) | %.3f | %.1f "
                "| %d | %d | %.0f %% | %d / %d / %d |" % (
                    "**" if key == DEFAULT else "", h, l,
                    "**" if key == DEFAULT else "", age or "off",
                    x["policy"], x["size"], x["miss"], x["child_reqs"],
                    x["child_reqs"] / b["child_reqs"], x["per_guest"],
                    x["merge"], x["stalled"], x["enospc"],
                    100 * x["peak_dirty"], c["watermark"], c["age"],
                    c["full"]))
    return "\n".join(rows)


def plot(results, path):
    try:
        import matplotlib
    except ImportError:
        sys.exit("sweep-dirty: no matplotlib in %s; run it with "
                 "/usr/bin/python3 (python3-matplotlib)" % sys.executable)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    highs = [h for h, _ in PAIRS]
    panels = [("child_reqs", "child write requests\n(write-back + "
               "write-through)"),
              ("miss", "read miss ratio"),
              ("stalled", "guest writes stalled (-ENOSPC)")]
    fig, axes = plt.subplots(len(PAIR_AGES), 3, figsize=(15, 8.5))
    for row, age in zip(axes, PAIR_AGES):
        for ax, (field, label) in zip(row, panels):
            for i, size in enumerate(SIZES):
                for pol, style in [("freq", "-"), ("lru", ":")]:
                    ys = [next(x[field] for x in results[(h, l, age)]
                               if x["policy"] == pol and x["size"] == size)
                          for h, l in PAIRS]
                    ax.plot(highs, ys, style, marker="o", color="C%d" % i,
                            label="%s %s" % (pol, size))
            ax.axvline(DEFAULT[0], color="grey", lw=0.8, ls="--")
            ax.set_xlabel("dirty-high %% (dirty-low below it: %s)" %
                          ", ".join("%d/%d" % p for p in PAIRS[::2]))
            ax.set_ylabel(label)
            ax.set_title("max-dirty-age %s" % ("%d ms" % age if age
                                               else "off"), fontsize=10)
            ax.set_xticks(highs)
            ax.grid(alpha=0.3)
        row[0].legend(fontsize=8, ncol=2)
    fig.suptitle("cloudPhysicsIO, write-back replay: dirty watermarks "
                 "(default 50/45 dashed; freq solid, lru dotted)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_md(path, command, results, pair_keys, age_keys, best, elapsed):
    keep = ""
    if os.path.exists(path):
        text = open(path).read()
        i = text.find("\n## Conclusion")
        if i >= 0:
            keep = text[i + 1:]
    with open(path, "w") as f:
        f.write("<!-- SPDX-License-Identifier: GPL-2.0-or-later -->\n"
                "# Dirty-data defaults by measurement\n\n"
                "Made by `%s` in %.0f s (each line: one write-back replay "
                "of cloudPhysicsIO, 113,872 requests, 59 %% writes, two "
                "hours of trace time).\n\n"
                "- child write requests: write-back extents + writes "
                "through; (ratio to the default %d/%d/%d at the same "
                "policy and size)\n"
                "- child blocks / guest block: blocks written to the "
                "child per block the guest wrote; below 1 = overwrites of "
                "dirty blocks absorbed\n"
                "- stalled writes: guest write requests refused with "
                "-ENOSPC at least once (they wait for write-back)\n"
                "- peak dirty: most of the cache dirty at once, i.e. the "
                "longest flush\n\n"
                "![dirty sweep](dirty-sweep.png)\n\n"
                % ((command, elapsed) + DEFAULT))
        for age in PAIR_AGES:
            f.write("## Watermarks, max-dirty-age %s\n\n%s\n\n" % (
                "%d ms" % age if age else "off",
                table(results, [k for k in pair_keys if k[2] == age])))
        f.write("## Age at the best pair (%d/%d)\n\n%s\n\n" % (
            best[0], best[1], table(results, age_keys)))
        f.write(keep or "## Conclusion\n\n(to be written)\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sim", default=os.path.join(
        ROOT, "build-test", "tools", "hypercache-sim", "hypercache-sim"))
    ap.add_argument("--trace", default=os.path.join(
        os.path.dirname(ROOT), "shared", "traces", "cloudPhysicsIO.csv.xz"))
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "docs", "bench"))
    ap.add_argument("--replot", action="store_true",
                    help="redraw from the saved JSON, run nothing")
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    png = os.path.join(a.out_dir, "dirty-sweep.png")
    md = os.path.join(a.out_dir, "dirty-sweep.md")
    saved = os.path.join(a.out_dir, "dirty-sweep.json")
    t0 = time.monotonic()
    pair_keys = [(h, l, age) for age in PAIR_AGES for h, l in PAIRS]
    if a.replot:
        with open(saved) as f:
            doc = json.load(f)
        results = {tuple(r["key"]): r["points"] for r in doc["runs"]}
        elapsed = doc["elapsed_seconds"]
    else:
        for p in (a.sim, a.trace):
            if not os.path.exists(p):
                sys.exit("sweep-dirty: %s does not exist" % p)
        results = {}
        total = len(pair_keys) + len(AGES) - len(PAIR_AGES)
        for n, key in enumerate(pair_keys, 1):
            results[key] = run_sim(a.sim, a.trace, *key, n, total)[1]
    best = best_pair(results)
    print("best pair: %d/%d" % best, flush=True)
    age_keys = [best + (age,) for age in AGES]
    if not a.replot:
        n = len(pair_keys)
        for key in age_keys:
            if key not in results:
                n += 1
                results[key] = run_sim(a.sim, a.trace, *key, n, total)[1]
        elapsed = time.monotonic() - t0
        with open(saved, "w") as f:
            json.dump({"command": sim_args("hypercache-sim", "TRACE",
                                           *DEFAULT),
                       "elapsed_seconds": elapsed,
                       "runs": [{"key": list(k), "points": v}
                                for k, v in results.items()]}, f, indent=1)
    write_md(md, "tools/hypercache-sim/sweep-dirty.py", results, pair_keys,
             age_keys, best, elapsed)
    plot(results, png)
    print("wrote %s, %s and %s in %.0f s; each run: %s" % (
        md, png, saved, time.monotonic() - t0,
        shlex.join(sim_args("hypercache-sim", "TRACE", "H", "L", "AGE"))))


main()
