# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers shared by the simulator's tests."""
import json
import os
import subprocess
import sys


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


# Where the project's shared folder lives on its machines.
SHARED_TRACES = "/work/shared/traces"


def traces_dir():
    """The shared traces: $HYPERCACHE_TRACES, else the path meson computed
    from the source root.  Missing traces are a failure, never a skip: a
    green run must mean the anchors were checked."""
    d = os.environ.get("HYPERCACHE_TRACES") or os.environ.get(
        "HYPERCACHE_TRACES_DEFAULT")
    if not d:
        fail("neither HYPERCACHE_TRACES nor HYPERCACHE_TRACES_DEFAULT is set")
    if not os.environ.get("HYPERCACHE_TRACES") and not os.path.isdir(d) \
            and os.path.isdir(SHARED_TRACES):
        # A clone elsewhere than beside shared/ (CI's, say): the project's
        # shared folder on this machine.
        print("traces: %s not found, using %s" % (d, SHARED_TRACES),
              file=sys.stderr)
        d = SHARED_TRACES
    if not os.path.isdir(d):
        fail("trace directory %s does not exist; set HYPERCACHE_TRACES to the "
             "directory holding OLTP.lis.xz and cloudPhysicsIO.csv.xz" % d)
    return d


def trace(name):
    path = os.path.join(traces_dir(), name)
    if not os.path.isfile(path):
        fail("trace %s is missing; set HYPERCACHE_TRACES" % path)
    return path


def run_json(sim, args):
    p = subprocess.run([sim, "--json"] + args, capture_output=True, text=True)
    if p.returncode != 0:
        fail("%s %s exited %d:\n%s" % (sim, " ".join(args), p.returncode,
                                       p.stderr))
    return json.loads(p.stdout)["reports"]
