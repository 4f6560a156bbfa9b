# SPDX-License-Identifier: GPL-2.0-or-later
"""--io replays a trace prefix against a real file with io_uring and
O_DIRECT: the cached run issues fewer I/Os than the uncached one, and the
report carries both wall times.  The file lives in the build directory
(tmpfs would refuse O_DIRECT).

Usage: check_io.py SIMULATOR"""
import os
import sys
import tempfile

from simtest import fail, run_json, trace


def main():
    sim = sys.argv[1]
    with tempfile.TemporaryDirectory(dir=os.getcwd()) as tmp:
        img = os.path.join(tmp, "io.img")
        rep = run_json(sim, ["-p", "freq", "-s", "5000", "--io", img,
                             "--io-size", "64M", "--io-limit", "20000",
                             "--mrc-factors", "1", trace("OLTP.lis.xz")])[0]
    if len(rep["io"]) != 1:
        fail("expected one --io result, got %d" % len(rep["io"]))
    io = rep["io"][0]
    print("no cache %d I/Os %.3fs, cached %d I/Os %.3fs (core alone %.3fs)" %
          (io["baseline_ios"], io["baseline_seconds"], io["cached_ios"],
           io["cached_seconds"], io["core_only_seconds"]))
    if io["requests"] != 20000 or io["baseline_ios"] != 20000:
        fail("baseline should issue the 20000 requests, issued %d" %
             io["baseline_ios"])
    if not 0 < io["cached_ios"] < io["baseline_ios"]:
        fail("cached run issued %d I/Os" % io["cached_ios"])
    if io["baseline_seconds"] <= 0 or io["cached_seconds"] <= 0:
        fail("wall times missing")
    print("PASS")


main()
