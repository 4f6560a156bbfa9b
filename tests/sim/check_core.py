# SPDX-License-Identifier: GPL-2.0-or-later
"""The simulator drives the real core correctly:
 - the core's LRU policy, given every access as a lookup and no sequential
   bypass, reproduces the published LRU figures for OLTP within 0.005 (so the
   per-block hc_read_begin/fill/end loop counts as the anchors do);
 - a write-back replay of cloudPhysicsIO accounts for every guest write and
   ends with nothing dirty (the simulator fails otherwise);
 - --dirty-high/--dirty-low reach the core: lower watermarks write back
   earlier, in more and smaller requests, and the causes add up;

Usage: check_core.py SIMULATOR"""
import sys

from simtest import fail, run_json, trace

TOLERANCE = 0.005
OLTP_SIZES = ["1000", "2000", "5000", "10000", "15000"]
OLTP_LRU = [.672, .575, .464, .393, .354]


def writeback_run(sim, extra):
    rep = run_json(sim, ["-p", "lru", "-s", "5%", "--writeback",
                         "--mrc-factors", "1", "--max-dirty-age", "0"] +
                   extra + [trace("cloudPhysicsIO.csv.xz")])[0]
    return [r for r in rep["runs"] if r["mode"] == "writeback"][0]


def check_watermarks(sim):
    errors = []
    default = writeback_run(sim, [])
    low = writeback_run(sim, ["--dirty-high", "10", "--dirty-low", "5"])
    for name, r in [("50/45", default), ("10/5", low)]:
        by = r["writeback_by_cause"]
        print("lru 5%% dirty %s: %d write-back requests (%d watermark), "
              "peak %d dirty" % (name, r["writeback_requests"],
                                 by["watermark"]["requests"],
                                 r["peak_dirty_blocks"]))
        if sum(c["requests"] for c in by.values()) != r["writeback_requests"]:
            errors.append("%s: write-back causes do not add up" % name)
        if sum(c["blocks"] for c in by.values()) != r["writeback_blocks"]:
            errors.append("%s: write-back blocks do not add up" % name)
        if by["age"]["requests"]:
            errors.append("%s: age write-back with --max-dirty-age 0" % name)
    if low["writeback_requests"] <= default["writeback_requests"]:
        errors.append("dirty 10/5 made %d write-back requests, 50/45 %d: "
                      "the watermarks do not reach the core" % (
                          low["writeback_requests"],
                          default["writeback_requests"]))
    # 10 % of the cache, plus at most one request's blocks (17 here).
    if low["peak_dirty_blocks"] > low["size_blocks"] // 10 + 64:
        errors.append("dirty 10/5 peaked at %d dirty blocks of %d" % (
            low["peak_dirty_blocks"], low["size_blocks"]))
    return errors


def main():
    sim = sys.argv[1]
    errors = []
    rep = run_json(sim, ["-p", "lru", "--seq-cutoff", "0",
                         "--mrc-factors", "1", "-s", ",".join(OLTP_SIZES),
                         trace("OLTP.lis.xz")])[0]
    got = {(r["policy"], r["size"]): r["miss_ratio"] for r in rep["runs"]}
    for size, want in zip(OLTP_SIZES, OLTP_LRU):
        have = got.get(("lru", size))
        ok = have is not None and abs(have - want) <= TOLERANCE
        print("oltp core lru %6s  %.4f  anchor %.3f  %s" % (
            size, have or -1, want, "ok" if ok else "MISMATCH"))
        if not ok:
            errors.append("core lru at %s: %s, anchors.md LRU %.3f" % (
                size, have, want))

    rep = run_json(sim, ["-p", "lru", "-s", "1%", "--writeback",
                         "--mrc-factors", "1",
                         trace("cloudPhysicsIO.csv.xz")])[0]
    wb = [r for r in rep["runs"] if r["mode"] == "writeback"]
    if len(wb) != 1:
        errors.append("expected one write-back run, got %d" % len(wb))
    else:
        r = wb[0]
        print("cloudphysics write-back lru 1%%: %d guest write blocks, %d "
              "written back in %d extents, %d written through" % (
                  r["guest_write_blocks"], r["writeback_blocks"],
                  r["writeback_requests"], r["child_write_blocks"]))
        if r["guest_write_blocks"] != rep["write_accesses"]:
            errors.append("write-back replay saw %d write blocks, trace has "
                          "%d" % (r["guest_write_blocks"],
                                  rep["write_accesses"]))
        if r["accesses"] != rep["read_accesses"]:
            errors.append("write-back replay saw %d read blocks, trace has "
                          "%d" % (r["accesses"], rep["read_accesses"]))
        if r["writeback_blocks"] + r["child_write_blocks"] == 0:
            errors.append("no write ever reached the child")
        if r["writeback_blocks"] > r["guest_write_blocks"]:
            errors.append("more blocks written back than the guest wrote")
    errors += check_watermarks(sim)
    if errors:
        fail("\n".join(errors))
    print("PASS")


main()
