#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""docs/bench/hotset.md from tests/bench/hotset.py's JSON.

  tests/bench/hotset-report.py [docs/bench/hotset.json] [docs/bench/hotset.md]
"""
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def rng(xs):
    return "%.3f – %.3f" % (min(xs), max(xs)) if xs else "-"


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        TOP, "docs", "bench", "hotset.json")
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        TOP, "docs", "bench", "hotset.md")
    r = json.load(open(src))
    out = ["<!-- SPDX-License-Identifier: GPL-2.0-or-later -->",
           "# Warm cache after restart and migration (issue 16)", "",
           "Made by `tests/bench/hotset.py` (raw results: `hotset.json`) and "
           "`tests/bench/hotset-report.py`, all in one run, on the 2-CPU "
           "development machine (kernel %s), which other jobs shared: "
           "medians of %d repetitions (IOPS: %s), ranges after them." % (
               r.get("host", "?"), r["reps"],
               ", ".join("%d" % len(v["ratios"])
                         for v in r.get("iops", {}).values()) or "-"), ""]
    if "restart" in r:
        out += ["## Restart", "",
                "qemu-storage-daemon exports a hypercache node (size=128M, "
                "file child with O_DIRECT and io_uring) over NBD; fio's nbd "
                "engine reads 4 KiB blocks at queue depth 16.  After a "
                "warm-up the hot set is saved (`x-hypercache-save-hotset`) "
                "and the block hit ratio of the next %d reads measured "
                "(never stopped); the daemon is then restarted with that "
                "hot set as its `hotset-file` and the same %d reads "
                "start at once, while the load runs (warm); once more after "
                "the load finished (warm, loaded); and with no hot set "
                "(cold).  Target: warm >= 0.9 x never stopped." % (
                    r["window"], r["window"]), "",
                "| workload | never stopped | warm | warm / never | warm, "
                "loaded | cold | hot set | file | bytes/block | load time |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for name, runs in r["restart"].items():
            never = [x["never"] for x in runs]
            warm = [x["warm"] for x in runs]
            rel = [x["warm"] / x["never"] for x in runs]
            out.append(
                "| %s | %.4f | %.4f (%s) | **%.3f** | %.4f | %.4f (%s) | "
                "%d blocks | %d B | %.2f | %.2f s |" % (
                    name, med(never), med(warm), rng(warm), med(rel),
                    med([x["warm_loaded"] for x in runs]),
                    med([x["cold"] for x in runs]),
                    rng([x["cold"] for x in runs]),
                    med([x["hotset_blocks"] for x in runs]),
                    med([x["hotset_bytes"] for x in runs]),
                    med([x["hotset_bytes"] / max(x["hotset_blocks"], 1)
                         for x in runs]),
                    med([x["load_s"] for x in runs])))
        out.append("")
    if "migrate" in r:
        m = r["migrate"]
        out += ["## Live migration", "",
                "Two qemu-system-x86_64 processes, each with a hypercache "
                "node (size=128M, `hotset-file` on the same path) over the "
                "same NBD export of a qemu-storage-daemon (the shared "
                "storage) under a virtio-blk device; fio reads through an "
                "NBD export of the hypercache node: zipf(0.9) over 1 GiB, "
                "4 KiB, queue depth 16.  The source is warmed up, measured "
                "for 10 s, migrated, and the destination measured for 10 s "
                "from the moment it runs.  Hit ratio per second on the "
                "destination (medians over the repetitions):", "",
                "| | source, 10 s | " + " | ".join(
                    "%d s" % (i + 1) for i in range(10)) + " | destination, "
                "10 s |", "|---|---|" + "---|" * 10 + "---|"]
        for name in ("warm", "cold"):
            runs = m[name]
            per = [med([x["dest_per_s"][i] for x in runs])
                   for i in range(len(runs[0]["dest_per_s"]))]
            out.append("| %s | %.3f | %s | %.3f |" % (
                name if name == "cold" else "warm (hotset-file)",
                med([x["source"] for x in runs]),
                " | ".join("%.3f" % v for v in per),
                med([x["dest"] for x in runs])))
        first = []
        for x in m["warm"]:
            hit = [i + 1 for i, v in enumerate(x["dest_per_s"])
                   if v >= x["source"]]
            first.append(hit[0] if hit else None)
        cold_reached = [any(v >= x["source"] for v in x["dest_per_s"])
                        for x in m["cold"]]
        warm10 = med([x["dest"] for x in m["warm"]])
        cold10 = med([x["dest"] for x in m["cold"]])
        out += ["", "First 10 s on the destination: warm %.3f, cold %.3f "
                "(warm / cold **%.2f**), source before the migration %.3f.  "
                "The destination reads another stream of the same "
                "distribution (fio seed 3) than the source's measured "
                "10 s (seed 2): reading the source's own stream again would "
                "find exactly the blocks in its hot set." % (
                    warm10, cold10, warm10 / cold10,
                    med([x["source"] for x in m["warm"] + m["cold"]]))]
        out += ["", "The warm destination's hit ratio in a second first "
                "reached the source's at second %s; the cold one %s within "
                "10 s.  Loads on the warm destination: %s." % (
                    ", ".join(str(f) for f in first),
                    "did in %d of %d runs" % (sum(cold_reached),
                                              len(cold_reached))
                    if any(cold_reached) else "never did",
                    "; ".join("%d loaded, %d skipped" % (
                        x["load"]["loaded"], x["load"]["skipped"])
                        for x in m["warm"] if x.get("load"))), ""]
    if "iops" in r:
        out += ["## Guest IOPS during a load", "",
                "qemu-storage-daemon, hypercache size=3G over a 4 GiB file "
                "(O_DIRECT); fio reads 4 KiB at random from the last GiB "
                "(queue depth 16) for 8 s; 1 s after its first read a 3 GiB "
                "hot set of the first 3 GiB starts loading, or not.  IOPS "
                "of seconds 3 to 7 from fio's log, the two runs of each "
                "repetition one after the other; the ratio per repetition, "
                "then the median.  Target: >= 0.9.", "",
                "| hot set | without a load (IOPS) | with a load (IOPS) | "
                "ratio, median | ratios | blocks loaded meanwhile |",
                "|---|---|---|---|---|---|"]
        for shape, v in r["iops"].items():
            out.append("| %s | %.0f | %.0f | **%.3f** | %s | %s |" % (
                shape, med(v["no_load"]), med(v["load"]), v["ratio"],
                rng(v["ratios"]),
                "%d – %d" % (min(x["loaded"] for x in v["loads"]),
                             max(x["loaded"] for x in v["loads"]))))
        out.append("")
    with open(dst, "w") as f:
        f.write("\n".join(out))
    print("wrote %s" % dst)


if __name__ == "__main__":
    main()
