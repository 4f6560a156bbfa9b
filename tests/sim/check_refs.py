# SPDX-License-Identifier: GPL-2.0-or-later
"""The reference policies of hypercache-sim against published figures.

  anchors   LIRS, 2Q, SIEVE, S3-FIFO and Belady's MIN against shared/anchors.md
            (libCacheSim's figures on cloudPhysicsIO, all accesses and reads
            only, and OLTP), within 0.005.
  arcpaper  ref-lru and ref-arc against the ARC paper's hit ratios on its
            P traces (Megiddo & Modha, FAST'03: Table VIII, c = 32768 pages
            for P2, P6, P12; the P12 rows of its Table IV, c = 1024..131072),
            within 0.05 percentage points (the paper prints two decimals).
  shape     what has no figure to match: Belady's MIN is a floor for every
            policy at every point; the adaptive W-TinyLFU window beats the
            fixed 1 % window on OLTP, where anchors.md says the fixed window
            does poorly; on the LIRS paper's `loop` trace (a loop longer than
            the cache) LRU misses every access and LIRS does not (the LIRS
            paper's point; its figures are curves, not numbers to match);
            the prototype ref-afreq-ms adapts (on zigzag it leaves the fixed
            FREQ model well behind).

Not checked against any figure: ref-wtinylfu (no published figure with an
adaptive window on these traces) and ref-wtinylfu-1pct, which does not
reproduce anchors.md's fixed-window W-TinyLFU row (libCacheSim's): ours is
.005 to .048 lower on all accesses and .012 to .014 higher reads only; see
docs/SIMULATOR.md.

Usage: check_refs.py SIMULATOR anchors|arcpaper|shape"""
import sys

from simtest import fail, run_json, trace

TOLERANCE = 0.005

ANCHORS = [
    ("cloudPhysicsIO.csv.xz", [], ["1%", "5%", "10%", "20%"], {
        "ref-lirs": [.908, .853, .815, .773],
        "ref-2q": [.894, .876, .844, .724],
        "ref-sieve": [.903, .865, .833, .746],
        "ref-s3fifo": [.893, .865, .811, .726],
        "ref-opt": [.865, .770, .676, .547],
    }),
    ("cloudPhysicsIO.csv.xz", ["--reads-only"], ["10%", "20%"], {
        "ref-s3fifo": [.886, .830],
        "ref-opt": [.787, .743],
    }),
    ("OLTP.lis.xz", [], ["1000", "2000", "5000", "10000", "15000"], {
        "ref-2q": [.595, .535, .443, .374, .343],
        "ref-s3fifo": [.592, .530, .441, .374, .340],
        "ref-opt": [.464, .396, .317, .270, .249],
    }),
]

# ARC paper, hit ratios in percent.
ARC_TOLERANCE = 0.0005
ARC_PAPER = [
    ("P2.lis.zst", ["32768"], {"ref-lru": [18.47], "ref-arc": [27.38]}),
    ("P6.lis.zst", ["32768"], {"ref-lru": [4.24], "ref-arc": [23.84]}),
    ("P12.lis.zst",
     ["1024", "2048", "4096", "8192", "16384", "32768", "65536", "131072"], {
         "ref-lru": [4.09, 4.84, 5.61, 6.22, 7.09, 8.93, 14.43, 29.21],
         "ref-arc": [4.16, 4.89, 5.76, 7.14, 10.12, 15.94, 26.09, 38.68],
     }),
]


def miss_table(sim, path, args, sizes, policies):
    rep = run_json(sim, args + ["--mrc-factors", "1", "-p",
                                ",".join(policies), "-s", ",".join(sizes),
                                path])[0]
    return {(r["policy"], r["size"]): r["miss_ratio"] for r in rep["runs"]}


def compare(sim, cases, tolerance, as_hit_percent):
    errors = []
    for file, args, sizes, want in cases:
        got = miss_table(sim, trace(file), args, sizes, list(want))
        for pol, figures in want.items():
            for size, fig in zip(sizes, figures):
                have = got[(pol, size)]
                ref = 1 - fig / 100 if as_hit_percent else fig
                ok = abs(have - ref) <= tolerance
                print("%-22s %-4s %-11s %7s  sim %.4f  published %.4f  %s" % (
                    file, " ".join(args)[:4], pol, size, have, ref,
                    "ok" if ok else "MISMATCH"))
                if not ok:
                    errors.append("%s %s %s at %s: %.4f, published %.4f" % (
                        file, " ".join(args), pol, size, have, ref))
    return errors


def shape(sim):
    errors = []
    every = ["ref-lru", "ref-arc", "ref-lirs", "ref-2q", "ref-wtinylfu",
             "ref-wtinylfu-1pct", "ref-sieve", "ref-s3fifo", "ref-opt",
             "freq"]
    for file, sizes in (("OLTP.lis.xz", ["1000", "5000", "15000"]),
                        ("cloudPhysicsIO.csv.xz", ["1%", "10%", "20%"]),
                        ("lirs/sprite.lis.gz", ["10%", "40%"]),
                        ("lirs/zigzag.lis.gz", ["20%", "60%"])):
        got = miss_table(sim, trace(file), [], sizes, every)
        for s in sizes:
            floor = got[("ref-opt", s)]
            for p in every:
                if got[(p, s)] < floor:
                    errors.append("%s at %s: %s %.4f below Belady %.4f" % (
                        file, s, p, got[(p, s)], floor))
        print("%s: Belady below every policy at %s" % (file, ",".join(sizes)))
    sizes = ["1000", "2000", "5000", "10000", "15000"]
    got = miss_table(sim, trace("OLTP.lis.xz"), [], sizes,
                     ["ref-wtinylfu", "ref-wtinylfu-1pct"])
    for s in sizes:
        a, f = got[("ref-wtinylfu", s)], got[("ref-wtinylfu-1pct", s)]
        print("OLTP %6s: W-TinyLFU adaptive %.4f, 1 %% window %.4f" % (s, a, f))
        if a >= f:
            errors.append("OLTP at %s: adaptive W-TinyLFU %.4f not below the "
                          "fixed window's %.4f" % (s, a, f))
    got = miss_table(sim, trace("lirs/loop.lis.gz"), [], ["40%"],
                     ["ref-lru", "ref-lirs"])
    lru, lirs = got[("ref-lru", "40%")], got[("ref-lirs", "40%")]
    print("loop 40 %%: LRU %.4f, LIRS %.4f" % (lru, lirs))
    if lru < 0.99 or lirs > lru - 0.2:
        errors.append("loop at 40 %%: LRU %.4f (expected > .99), LIRS %.4f "
                      "(expected at least .2 below)" % (lru, lirs))
    # The miniature-simulation prototype must actually adapt: on zigzag,
    # where FREQ's fixed 15 % probation is far behind LRU, the mini-caches
    # find a larger probation (docs/POLICY.md, Prototypes).
    got = miss_table(sim, trace("lirs/zigzag.lis.gz"), [], ["40%"],
                     ["ref-freq-model", "ref-afreq-ms", "ref-opt"])
    fixed, ms = got[("ref-freq-model", "40%")], got[("ref-afreq-ms", "40%")]
    print("zigzag 40 %%: FREQ model %.4f, mini-simulated share %.4f" % (
        fixed, ms))
    if ms > fixed - 0.1 or ms < got[("ref-opt", "40%")]:
        errors.append("zigzag at 40 %%: ref-afreq-ms %.4f (expected at least "
                      ".1 below ref-freq-model's %.4f, above Belady)" % (
                          ms, fixed))
    return errors


def main():
    sim, what = sys.argv[1], sys.argv[2]
    if what == "anchors":
        errors = compare(sim, ANCHORS, TOLERANCE, False)
    elif what == "arcpaper":
        errors = compare(sim, [(f, [], s, w) for f, s, w in ARC_PAPER],
                         ARC_TOLERANCE, True)
    elif what == "shape":
        errors = shape(sim)
    else:
        fail("unknown check " + what)
    if errors:
        fail("\n".join(errors))
    print("PASS")


main()
