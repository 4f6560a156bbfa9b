#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mq.sh: multi-iothread scaling of one hypercache node, against the same
# null-co node without hypercache, measured in one process by
# test-hypercache-mq --bench (QEMU's unit-test harness, iothreads as
# virtio-blk iothread-vq-mapping uses them).  Writes the raw results to
# docs/bench/mq-scaling.json, a plot to docs/bench/mq-scaling.png and a
# markdown table to stdout; progress goes to stderr.
#
#   tests/bench/mq.sh [--secs S] [--reps N] [--qd N] [--threads N]
#                     [--workload NAME]   (one of them only)
#
# Environment: QEMU_BUILD (else taken from ./configure-qemu.sh env),
# MQ_OUT (folder for the JSON and PNG, default docs/bench).
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${QEMU_BUILD:-}" ]; then
    eval "$("$TOP/configure-qemu.sh" env)"
fi
BIN=$QEMU_BUILD/tests/unit/test-hypercache-mq
[ -x "$BIN" ] || { echo "mq.sh: $BIN not built; run ./configure-qemu.sh build" >&2; exit 1; }
OUT=${MQ_OUT:-$TOP/docs/bench}
mkdir -p "$OUT"
JSON=$OUT/mq-scaling.json
PNG=$OUT/mq-scaling.png

"$BIN" --bench --json "$JSON" "$@" >&2

/usr/bin/python3 - "$JSON" "$PNG" "$TOP" <<'EOF'
import json
import subprocess
import sys
import time

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

res = json.load(open(sys.argv[1]))
png = sys.argv[2]
# Where the figures came from, for docs/BENCHMARKS.md.
res["date"] = time.strftime("%Y-%m-%d %H:%M")
res["commit"] = subprocess.run(
    ["git", "-C", sys.argv[3], "rev-parse", "--short", "HEAD"],
    capture_output=True, text=True).stdout.strip()
with open(sys.argv[1], "w") as f:
    json.dump(res, f, indent=1)
n = res["threads"][1]
rows = res["results"]
wls = list(dict.fromkeys(r["workload"] for r in rows))
by = {(r["workload"], r["backend"]): r for r in rows}
backends = ["hypercache", "null-co"]
label = {"hypercache": "hypercache over null-co", "null-co": "null-co alone"}

print("Multi-iothread scaling: %d coroutines (QD) per iothread, 4 KiB "
      "requests, %g s per run, median of %d runs, %d CPUs; min-max in "
      "parentheses." % (res["qd_per_thread"], res["secs"], res["reps"],
                        res["cpus"]))
print()
print("| workload | backend | 1 iothread IOPS | %d iothreads IOPS | "
      "scaling (%dT/1T) |" % (n, n))
print("|---|---|---:|---:|---:|")
for wl in wls:
    for be in backends:
        r = by[(wl, be)]
        one, many = r["iops_1t"], r["iops_%dt" % n]
        print("| %s | %s | %s (%s-%s) | %s (%s-%s) | %.2fx |" % (
            wl, label[be],
            "{:,.0f}".format(r["median_1t"]), "{:,.0f}".format(min(one)),
            "{:,.0f}".format(max(one)),
            "{:,.0f}".format(r["median_%dt" % n]),
            "{:,.0f}".format(min(many)), "{:,.0f}".format(max(many)),
            r["scaling"]))
print()
for wl in wls:
    r = by[(wl, "hypercache")]
    print("- %s through hypercache: hit ratio %.3f, %d write-back requests "
          "during the timed runs" % (wl, r["hit_ratio"], r["writebacks"]))

fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4),
                              gridspec_kw={"width_ratios": [2, 1]})
colors = {("hypercache", 0): "#9ecae1", ("hypercache", 1): "#1f77b4",
          ("null-co", 0): "#cccccc", ("null-co", 1): "#888888"}
width = 0.2
for k, (be, t) in enumerate([(b, t) for b in backends for t in (0, 1)]):
    key = "iops_1t" if t == 0 else "iops_%dt" % n
    mkey = "median_1t" if t == 0 else "median_%dt" % n
    xs = [i + (k - 1.5) * width for i in range(len(wls))]
    meds = [by[(wl, be)][mkey] for wl in wls]
    lo = [m - min(by[(wl, be)][key]) for m, wl in zip(meds, wls)]
    hi = [max(by[(wl, be)][key]) - m for m, wl in zip(meds, wls)]
    ax.bar(xs, meds, width, yerr=[lo, hi], capsize=3, color=colors[(be, t)],
           label="%s, %d iothread%s" % (label[be], 1 if t == 0 else n,
                                        "" if t == 0 else "s"))
ax.set_xticks(range(len(wls)))
ax.set_xticklabels(wls, fontsize=8)
ax.set_ylabel("IOPS (median, min-max)")
ax.set_title("4 KiB requests, QD %d per iothread, %d CPUs" %
             (res["qd_per_thread"], res["cpus"]), fontsize=9)
ax.legend(fontsize=7)
for k, be in enumerate(backends):
    xs = [i + (k - 0.5) * 0.35 for i in range(len(wls))]
    vals = [by[(wl, be)]["scaling"] for wl in wls]
    ax2.bar(xs, vals, 0.35, color=colors[(be, 1)], label=label[be])
    for x, v in zip(xs, vals):
        ax2.text(x, v, "%.2f" % v, ha="center", va="bottom", fontsize=7)
ax2.axhline(1.0, color="black", linewidth=0.5)
ax2.axhline(float(n), color="black", linewidth=0.5, linestyle="--")
ax2.set_xticks(range(len(wls)))
ax2.set_xticklabels(wls, fontsize=8)
ax2.set_ylabel("scaling, %d iothreads / 1 (dashed: ideal)" % n)
ax2.set_ylim(0, n * 1.15)
ax2.legend(fontsize=7)
fig.tight_layout()
fig.savefig(png, dpi=90)
plt.close(fig)
EOF
echo "mq.sh: wrote $JSON and $PNG" >&2
