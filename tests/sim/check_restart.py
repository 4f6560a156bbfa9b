# SPDX-License-Identifier: GPL-2.0-or-later
"""--restart: a warm restart (the hot set saved by the first half, encoded,
parsed, checked and prefetched as QEMU does) must bring the hit ratio of
the first accesses after the restart back to that of a cache that never
stopped (at least 0.9 of it), well above a cold restart's, on a uniform
96 MiB hot set in a 128 MiB cache and on OLTP; and the file must cost at
most 8 bytes per block.

Usage: check_restart.py SIMULATOR SYNTH_TRACE_PY"""
import json
import os
import subprocess
import sys
import tempfile

from simtest import fail, trace


def restart(sim, args):
    p = subprocess.run([sim, "--json", "--restart"] + args,
                       capture_output=True, text=True)
    if p.returncode != 0:
        fail("%s --restart %s exited %d:\n%s" % (sim, " ".join(args),
                                                  p.returncode, p.stderr))
    return json.loads(p.stdout)["restarts"]


def check(name, runs, errors):
    for r in runs:
        win = r["window_hit_ratio"]
        print("%s %s %s: first %d after the restart: never %.4f cold %.4f "
              "warm %.4f; hot set %d blocks in %d bytes" % (
                  name, r["policy"], r["size"], r["window"],
                  win["never_stopped"], win["cold"], win["warm"],
                  r["hotset_blocks"], r["hotset_bytes"]))
        if win["warm"] < 0.9 * win["never_stopped"]:
            errors.append("%s %s: warm %.4f below 0.9 of never-stopped %.4f"
                          % (name, r["policy"], win["warm"],
                             win["never_stopped"]))
        if win["warm"] <= win["cold"]:
            errors.append("%s %s: warm %.4f not above cold %.4f" % (
                name, r["policy"], win["warm"], win["cold"]))
        if r["hotset_bytes"] > 64 + 8 * max(r["hotset_blocks"], 1) + 64:
            errors.append("%s %s: %d bytes for %d blocks" % (
                name, r["policy"], r["hotset_bytes"], r["hotset_blocks"]))
        if r["loaded"] != r["hotset_blocks"]:
            errors.append("%s %s: loaded %d of %d blocks into an empty cache"
                          % (name, r["policy"], r["loaded"],
                             r["hotset_blocks"]))


def main():
    sim, synth = sys.argv[1], sys.argv[2]
    errors = []
    with tempfile.TemporaryDirectory() as d:
        uniform = os.path.join(d, "uniform.lis")
        with open(uniform, "w") as f:
            subprocess.run([sys.executable, synth, "uniform", "24576",
                            "100000", "1"], stdout=f, check=True)
        check("uniform 96M", restart(sim, ["-s", "128M", uniform]), errors)
    check("OLTP", restart(sim, ["-p", "freq,lru", "-s", "5000",
                                trace("OLTP.lis.xz")]), errors)
    # Bad input is refused with a usage error, not a crash.
    p = subprocess.run([sim, "--restart", "--restart-window", "x",
                        trace("OLTP.lis.xz")], capture_output=True, text=True)
    if p.returncode != 1 or "restart-window" not in p.stderr:
        errors.append("--restart-window x: exit %d, %r" % (p.returncode,
                                                           p.stderr))
    if errors:
        fail("; ".join(errors))
    print("ok")


if __name__ == "__main__":
    main()
