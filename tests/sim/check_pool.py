# SPDX-License-Identifier: GPL-2.0-or-later
"""--pool: several traces replayed round robin into one budget, three ways
(one unified cache, a static equal split, a pool rebalanced from the
members' miss-ratio curves).  Checks what the pool promises: the members
never hold more than the budget, every member keeps at least its floor,
every access is counted once in each arm, the replay is deterministic, and
the pool is never above the equal split (by more than 1 %), and on the
mixes with unlike members where the curves are clear it has at least 10 %
fewer misses than the equal split.  (It is not below the
unified cache: see docs/SIMULATOR.md, "Pools".)

Usage: check_pool.py SIMULATOR"""
import json
import os
import subprocess
import sys

from simtest import fail, traces_dir

# mix, and the size at which the pool must beat the equal split by 10 %
# (None: no such size, the members are too alike).
GAINS = [
    (["lirs/loop.lis.gz", "lirs/cpp.lis.gz", "lirs/sprite.lis.gz"], "25%"),
    (["lirs/multi1.lis.gz", "lirs/zigzag.lis.gz"], "50%"),
    (["lirs/multi2.lis.gz", "lirs/sprite.lis.gz"], None),
]


def pool(sim, traces, sizes):
    p = subprocess.run([sim, "--json", "--pool", "--pool-interval", "20000",
                        "-s", sizes] + traces, capture_output=True, text=True)
    if p.returncode != 0:
        fail("%s --pool exited %d:\n%s" % (sim, p.returncode, p.stderr))
    return json.loads(p.stdout)["pool"]


def main():
    sim = sys.argv[1]
    d = traces_dir()
    errors = []
    for mix, size in GAINS:
        paths = [os.path.join(d, t) for t in mix]
        runs = pool(sim, paths, "10%,25%,50%")
        again = pool(sim, paths, "10%,25%,50%")
        if runs != again:
            errors.append("%s: two replays differ" % mix)
        for r in runs:
            n = r["accesses"]
            total = sum(m["accesses"] for m in r["members"])
            shares = [m["share"] for m in r["members"]]
            print("%s at %s: miss ratio unified %.4f equal %.4f pool %.4f, "
                  "shares %s of %d" % (
                      "+".join(os.path.basename(t) for t in mix), r["size"],
                      r["unified_misses"] / n, r["equal_misses"] / n,
                      r["pool_misses"] / n, shares, r["blocks"]))
            if n != total:
                errors.append("%s %s: %d accesses counted, traces have %d"
                              % (mix, r["size"], n, total))
            if sum(shares) > r["blocks"]:
                errors.append("%s %s: shares %s above the pool's %d blocks"
                              % (mix, r["size"], shares, r["blocks"]))
            if min(shares) < 8:
                errors.append("%s %s: a share below 8 blocks: %s"
                              % (mix, r["size"], shares))
            if r["pool_misses"] != sum(m["pool_misses"]
                                       for m in r["members"]):
                errors.append("%s %s: member misses do not add up"
                              % (mix, r["size"]))
            if r["size"] == size and \
                    r["pool_misses"] > 0.9 * r["equal_misses"]:
                errors.append("%s %s: pool %d misses, not 10 %% below the "
                              "equal split's %d" % (mix, size,
                                                    r["pool_misses"],
                                                    r["equal_misses"]))
            # Never worse than not sharing at all (1 % for the curves'
            # sampling noise).
            if r["pool_misses"] > 1.01 * r["equal_misses"]:
                errors.append("%s %s: pool %d misses, above the equal "
                              "split's %d" % (mix, r["size"],
                                              r["pool_misses"],
                                              r["equal_misses"]))
    p = subprocess.run([sim, "--pool", "-s", "25%", paths[0]],
                       capture_output=True, text=True)
    if p.returncode == 0 or "two traces" not in p.stderr:
        errors.append("--pool with one trace: %d %s" % (p.returncode,
                                                        p.stderr))
    if errors:
        fail("\n".join(errors))
    print("ok")


main()
