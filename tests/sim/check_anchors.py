# SPDX-License-Identifier: GPL-2.0-or-later
"""The simulator counts blocks the way the published figures do: its LRU and
ARC references reproduce the miss ratios in shared/anchors.md within 0.005
(OLTP: LRU and ARC at 1000..15000 pages; cloudPhysicsIO: LRU at 1..20 % of
the working set, plus ARC and the reads-only rows as further checks).

Usage: check_anchors.py SIMULATOR oltp|cloudphysics"""
import sys

from simtest import fail, run_json, trace

TOLERANCE = 0.005

# shared/anchors.md, "Hit ratio on real block traces".
ANCHORS = {
    "oltp": {
        "file": "OLTP.lis.xz",
        "args": [],
        "sizes": ["1000", "2000", "5000", "10000", "15000"],
        "ref-lru": [.672, .575, .464, .393, .354],
        "ref-arc": [.611, .539, .448, .381, .346],
        "working_set": 186880,
        "accesses": 914145,
    },
    "cloudphysics": {
        "file": "cloudPhysicsIO.csv.xz",
        "args": [],
        "sizes": ["1%", "5%", "10%", "20%"],
        "ref-lru": [.897, .887, .874, .813],
        "ref-arc": [.898, .856, .825, .781],
        "working_set": 269210,
        "accesses": 1141869,
    },
    "cloudphysics-reads": {
        "file": "cloudPhysicsIO.csv.xz",
        "args": ["--reads-only"],
        "sizes": ["10%", "20%"],
        "ref-lru": [.916, .877],
        "ref-arc": [.858, .801],
        "accesses": 485700,
    },
}


def check(case):
    a = ANCHORS[case]
    rep = run_json(sys.argv[1], a["args"] + [
        "-p", "ref-lru,ref-arc", "-s", ",".join(a["sizes"]),
        trace(a["file"])])[0]
    errors = []
    if rep["accesses"] != a["accesses"]:
        errors.append("accesses %d, expected %d" % (rep["accesses"],
                                                   a["accesses"]))
    if "working_set" in a and rep["working_set_blocks"] != a["working_set"]:
        errors.append("working set %d, expected %d" % (
            rep["working_set_blocks"], a["working_set"]))
    got = {(r["policy"], r["size"]): r["miss_ratio"] for r in rep["runs"]}
    for pol in ("ref-lru", "ref-arc"):
        for size, want in zip(a["sizes"], a[pol]):
            have = got.get((pol, size))
            status = "ok"
            if have is None or abs(have - want) > TOLERANCE:
                status = "MISMATCH"
                errors.append("%s %s at %s: %s, anchors.md says %.3f" % (
                    case, pol, size, have, want))
            print("%-19s %-8s %6s  sim %.4f  anchor %.3f  %s" % (
                case, pol, size, have or -1, want, status))
    return errors


def main():
    case = sys.argv[2]
    errors = check(case)
    if case == "cloudphysics":
        errors += check("cloudphysics-reads")
    if errors:
        fail("\n".join(errors))
    print("PASS")


main()
