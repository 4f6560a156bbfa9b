#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# w2i.sh: W2 (and W3) without the NBD cap.  4 KiB random reads, zipf(1.2)
# and uniform, issued inside QEMU by test-hypercache-mq --bench --file from
# one iothread at QD 32 over an O_DIRECT raw file: hypercache over the file
# against the file alone and against null-co, in turns, in one process.
# Writes the raw results to $W2I_OUT/w2i.json, a plot to $W2I_OUT/w2i.png
# and a markdown table to stdout; progress goes to stderr.
#
#   tests/bench/w2i.sh [--secs S] [--reps N] [--qd N] [--warm S]
#                      [--cache-size SIZE] [--footprint SIZE]
#                      [--workload zipf-read|uniform-read]
#
# Environment: QEMU_BUILD (else taken from ./configure-qemu.sh env),
# HC_BENCH_DIR (scratch, default /var/tmp/hypercache-bench: the image,
# W2I_MIB MiB of random data, default 320 as in W2), W2I_OUT (folder for
# the JSON and PNG, default docs/bench), W2I_BIN (the test binary),
# W2I_BEFORE_BIN (an older build of it, run in turns with W2I_BIN; its
# figures go to w2i-before.json).
#
# Sizes: exact zipf(1.2) over 320 MiB is more skewed than fio's (W2 got a
# hit ratio of 0.86 with a 32 MiB cache).  Measured on the cache code of
# 2026-12-01: 4 MiB hit 0.844, 6 MiB 0.864, 8 MiB 0.877 (a cache holding
# exactly the hottest blocks: 0.856, 0.875, 0.888); 5 MiB (1.6 % of the
# footprint) it is.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${W2I_BIN:-}" ]; then
    if [ -z "${QEMU_BUILD:-}" ]; then
        eval "$("$TOP/configure-qemu.sh" env)"
    fi
    W2I_BIN=$QEMU_BUILD/tests/unit/test-hypercache-mq
fi
[ -x "$W2I_BIN" ] || { echo "w2i.sh: $W2I_BIN not built; run ./configure-qemu.sh build" >&2; exit 1; }
SCRATCH=${HC_BENCH_DIR:-/var/tmp/hypercache-bench}
OUT=${W2I_OUT:-$TOP/docs/bench}
MIB=${W2I_MIB:-320}
mkdir -p "$SCRATCH" "$OUT"
IMG=$SCRATCH/w2i-$MIB.raw
if [ ! -f "$IMG.ok" ] || [ "$(stat -c %s "$IMG")" != $((MIB << 20)) ]; then
    echo "w2i.sh: filling $IMG ($MIB MiB of random data)" >&2
    dd if=/dev/urandom of="$IMG.tmp" bs=1M count="$MIB" status=none
    mv "$IMG.tmp" "$IMG"
    touch "$IMG.ok"
fi
JSON=$OUT/w2i.json
PNG=$OUT/w2i.png

w2i() { # BINARY JSON ARGS...
    "$1" --bench --file "$IMG" --cache-size 5M --json "$2" "${@:3}" >&2
}
merge() { # OUT.json LABEL IN.json...: the repetitions of several runs
    /usr/bin/python3 - "$@" <<'EOF'
import json
import statistics
import sys

out, label, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
base = json.load(open(paths[0]))
for p in paths[1:]:
    for r, r2 in zip(base["results"], json.load(open(p))["results"]):
        for k, v in r2.items():
            if isinstance(v, list):
                r[k] += v
for r in base["results"]:
    r["median"] = statistics.median(r["iops"])
base["reps"] = len(paths)
if label:
    base["commit"] = label
json.dump(base, open(out, "w"), indent=1)
EOF
}
if [ -n "${W2I_BEFORE_BIN:-}" ]; then
    # Older cache code too (cost.sh): one repetition of each binary in
    # turn, each in a process of its own, then the repetitions merged.
    reps=5 args=("$@")
    for ((i = 0; i + 1 < ${#args[@]}; i++)); do
        [ "${args[i]}" = --reps ] && reps=${args[i + 1]}
    done
    now=() old=()
    for ((r = 1; r <= reps; r++)); do
        now+=("$SCRATCH/w2i-now-$r.json")
        old+=("$SCRATCH/w2i-old-$r.json")
        w2i "$W2I_BIN" "${now[-1]}" "$@" --reps 1
        w2i "$W2I_BEFORE_BIN" "${old[-1]}" "$@" --reps 1
    done
    merge "$JSON" "" "${now[@]}"
    merge "$OUT/w2i-before.json" "${HC_BEFORE_CODE:-$W2I_BEFORE_BIN}" \
        "${old[@]}"
    rm -f "${now[@]}" "${old[@]}"
else
    rm -f "$OUT/w2i-before.json"
    w2i "$W2I_BIN" "$JSON" "$@"
fi

/usr/bin/python3 - "$JSON" "$PNG" "$TOP" <<'EOF'
import json
import statistics
import subprocess
import sys
import time

res = json.load(open(sys.argv[1]))
png = sys.argv[2]
res["date"] = time.strftime("%Y-%m-%d %H:%M")
res["commit"] = subprocess.run(
    ["git", "-C", sys.argv[3], "rev-parse", "--short", "HEAD"],
    capture_output=True, text=True).stdout.strip()
with open(sys.argv[1], "w") as f:
    json.dump(res, f, indent=1)
by = {(r["workload"], r["backend"]): r for r in res["results"]}
wls = list(dict.fromkeys(r["workload"] for r in res["results"]))


def mm(v, fmt="{:,.0f}"):
    return "%s (%s – %s)" % (fmt.format(statistics.median(v)),
                             fmt.format(min(v)), fmt.format(max(v)))


print("4 KiB random reads, 1 iothread, QD %d, %g s per run after %g s of "
      "warm-up, median of %d runs, %d CPUs; footprint %d MiB, cache %s; "
      "aio=%s." % (res["qd"], res["secs"], res["warm_secs"], res["reps"],
                   res["cpus"], res["footprint_bytes"] >> 20,
                   res["cache_size"], res["aio"]))
print()
print("| workload | backend | IOPS | CPU µs/IO | hit ratio | / file |")
print("|---|---|---:|---:|---:|---:|")
for wl in wls:
    f = by[(wl, "file")]["median"]
    for be in ("hypercache", "file", "null-co"):
        r = by[(wl, be)]
        print("| %s | %s | %s | %s | %s | %.2fx |" % (
            wl, be, mm(r["iops"]), mm(r["cpu_us_per_io"], "{:.2f}"),
            mm(r["hit_ratio"], "{:.3f}") if "hit_ratio" in r else "-",
            r["median"] / f))

try:
    import matplotlib
except ImportError:
    sys.exit(0)
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(7, 4))
colors = {"hypercache": "#1f77b4", "file": "#888888", "null-co": "#cccccc"}
width = 0.27
for k, be in enumerate(("hypercache", "file", "null-co")):
    xs = [i + (k - 1) * width for i in range(len(wls))]
    v = [by[(wl, be)]["iops"] for wl in wls]
    meds = [statistics.median(x) for x in v]
    ax.bar(xs, meds, width, color=colors[be], label=be,
           yerr=[[m - min(x) for m, x in zip(meds, v)],
                 [max(x) - m for m, x in zip(meds, v)]], capsize=3)
    for x, m, wl in zip(xs, meds, wls):
        t = "%.2fx" % (m / by[(wl, "file")]["median"])
        if be == "hypercache":
            t += "\nhit %.2f" % statistics.median(by[(wl, be)]["hit_ratio"])
        ax.text(x, m, t, ha="center", va="bottom", fontsize=7)
ax.set_xticks(range(len(wls)))
ax.set_xticklabels(["%s (%s)" % (wl, "zipf %.1f" % res["theta"]
                                 if wl == "zipf-read" else "no locality")
                    for wl in wls], fontsize=8)
ax.set_yscale("log")
ax.set_ylabel("IOPS (median, min–max; log scale)")
ax.set_title("W2i: 4 KiB random reads in-process, QD %d, O_DIRECT file "
             "%d MiB, cache %s" % (res["qd"], res["footprint_bytes"] >> 20,
                                   res["cache_size"]), fontsize=9)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(png, dpi=90)
plt.close(fig)
EOF
echo "w2i.sh: wrote $JSON${PNG:+ and $PNG}" >&2
