#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""rbd-merge-inproc.py RBD.json RUN.json...: put the in-process runs of
test-hypercache-mq --bench --rbd (tests/bench/rbd.sh) into rbd.json under
"inproc", keyed by workload, for rbd_report.py."""
import json
import sys


def main():
    with open(sys.argv[1]) as f:
        d = json.load(f)
    d["inproc"] = {}
    for path in sys.argv[2:]:
        with open(path) as f:
            r = json.load(f)
        d["inproc"][r["results"][0]["workload"]] = r
    with open(sys.argv[1], "w") as f:
        json.dump(d, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
