# SPDX-License-Identifier: GPL-2.0-or-later
"""Each parser counts the hand-made samples in data/ as data/README.md says,
and compressed copies read exactly like the plain files.

Usage: check_formats.py SIMULATOR DATA_DIR"""
import os
import sys

from simtest import fail, run_json

# file, format (None = let the simulator guess), requests, accesses,
# distinct blocks, write accesses
SAMPLES = [
    ("sample.lis", None, 3, 4, 3, 0),
    ("sample.lis.xz", None, 3, 4, 3, 0),
    ("sample.cloudphysics.csv", None, 3, 3, 3, 1),
    ("sample.msr.csv", None, 4, 27, 19, 3),
    ("sample.msr.csv.zst", "msr", 4, 27, 19, 3),
    ("sample.blkparse.txt", "blkparse", 3, 5, 5, 2),
    ("sample.blkparse.txt.gz", None, 3, 5, 5, 2),
]


def main():
    sim, data = sys.argv[1], sys.argv[2]
    errors = []
    for name, fmt, reqs, acc, distinct, writes in SAMPLES:
        args = ["-p", "ref-lru", "-s", "2"]
        if fmt:
            args += ["--format", fmt]
        rep = run_json(sim, args + [os.path.join(data, name)])[0]
        got = (rep["requests"], rep["accesses"], rep["working_set_blocks"],
               rep["write_accesses"])
        want = (reqs, acc, distinct, writes)
        print("%-26s %-13s %s" % (name, rep["format"],
                                  "ok" if got == want else "got %s" % (got,)))
        if got != want:
            errors.append("%s: (requests, accesses, distinct, writes) = %s, "
                          "expected %s" % (name, got, want))
    if errors:
        fail("\n".join(errors))
    print("PASS")


main()
