#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Plot hypercache-sim --pool on several trace mixes: the miss ratio of one
unified cache, a static equal split and the pool, side by side for each
mix and size, with the pool's change against the equal split written over
its bar.  The numbers behind docs/SIMULATOR.md's "Pools" tables.

Usage: pool-plot.py SIMULATOR TRACES_DIR OUT.png [--big]
  --big  also the OLTP+cloudPhysicsIO mix (about 3 minutes more)"""
import json
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# (label, traces, sizes, rebalance interval)
MIXES = [
    ("loop+cpp+sprite", ["lirs/loop.lis.gz", "lirs/cpp.lis.gz",
                         "lirs/sprite.lis.gz"], "10%,25%,50%", 20000),
    ("multi1+zigzag", ["lirs/multi1.lis.gz", "lirs/zigzag.lis.gz"],
     "10%,25%,50%", 20000),
    ("multi2+sprite", ["lirs/multi2.lis.gz", "lirs/sprite.lis.gz"],
     "10%,25%,50%", 20000),
]
BIG = ("OLTP+cloudPhysicsIO", ["OLTP.lis.xz", "cloudPhysicsIO.csv.xz"],
       "1%,5%,10%,20%", 50000)


def run(sim, tdir, traces, sizes, interval):
    p = subprocess.run([sim, "--json", "--pool", "--pool-interval",
                        str(interval), "-s", sizes] +
                       [os.path.join(tdir, t) for t in traces],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout)["pool"]


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    sim, tdir, out = sys.argv[1:4]
    mixes = MIXES + ([BIG] if "--big" in sys.argv[4:] else [])
    rows = []
    for label, traces, sizes, interval in mixes:
        print("pool-plot: %s at %s ..." % (label, sizes), flush=True)
        for r in run(sim, tdir, traces, sizes, interval):
            n = r["accesses"]
            rows.append(("%s %s" % (label, r["size"]),
                         r["unified_misses"] / n, r["equal_misses"] / n,
                         r["pool_misses"] / n))
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(rows)), 4.8))
    w = 0.27
    xs = range(len(rows))
    for k, (name, color) in enumerate([("unified cache", "#999999"),
                                       ("equal split", "#6a9fd8"),
                                       ("pool", "#d9822b")]):
        ax.bar([x + (k - 1) * w for x in xs], [r[1 + k] for r in rows], w,
               label=name, color=color)
    for x, r in zip(xs, rows):
        change = (r[3] - r[2]) / r[2] * 100 if r[2] else 0
        ax.annotate("%+.0f%%" % change, (x + w, r[3]), ha="center",
                    va="bottom", fontsize=7)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([r[0] for r in rows], fontsize=7, rotation=30,
                       ha="right")
    ax.set_ylabel("miss ratio (lower is better)")
    ax.set_title("hypercache-sim --pool: one budget shared three ways "
                 "(label: pool vs equal split)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print("pool-plot: wrote %s" % out)


main()
