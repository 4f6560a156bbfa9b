# SPDX-License-Identifier: GPL-2.0-or-later
"""Malformed traces get an error naming file, line and field, and a nonzero
exit status (2), never a crash, a hang or a silent success.

Usage: check_parser_errors.py SIMULATOR DATA_DIR"""
import gzip
import lzma
import os
import subprocess
import sys
import tempfile

from simtest import fail

CP_HEADER = "version,time,op,size,lbn\n"
BLK_OK = "  8,0    3        1     0.000000000  697  Q  WS 223490 + 8 [k]\n"

# name, --format (None = guess), content, text the error must contain
# ({f} is the file's path).
CASES = [
    ("nblocks.lis", "arc", "1 2 0 0\n3 x 0 1\n", "{f}:2: nblocks: "),
    ("fields.lis", "arc", "1 2 0\n", "{f}:1: line: expected 4 fields"),
    ("extra.lis", "arc", "1 2 0 0 9\n", "{f}:1: line: more than 4"),
    ("huge.lis", "arc", "99999999999999999999 1 0 0\n",
     "{f}:1: start: number too large"),
    ("overflow.lis", "arc", "18446744073709551 1 0 0\n", "{f}:1: start: "),
    ("zero.lis", "arc", "1 1 0 0\n\n5 0 0 1\n", "{f}:3: nblocks: "),
    ("negative.lis", "arc", "-1 1 0 0\n", "{f}:1: start: "),
    ("op.csv", "cloudphysics", CP_HEADER + "1,100,zz,4096,0\n",
     "{f}:2: op: expected a hexadecimal"),
    ("short.csv", "cloudphysics", CP_HEADER + "1,100,28,4096\n",
     "{f}:2: line: "),
    ("size.csv", "cloudphysics", CP_HEADER + "1,100,28,-5,0\n",
     "{f}:2: size: "),
    ("lbn.csv", "cloudphysics",
     CP_HEADER + "1,100,28,4096,0\n1,1,28,1,99999999999999999\n",
     "{f}:3: lbn: "),
    ("type.csv", "msr", "128166372003061629,hm,1,Reed,0,4096,1\n",
     "{f}:1: Type: expected Read or Write"),
    ("ts.csv", "msr", "x,hm,1,Read,0,4096,1\n", "{f}:1: Timestamp: "),
    ("msrshort.csv", "msr", "1,hm,1,Read,0,4096\n", "{f}:1: line: "),
    ("host.csv", "msr", "1,,1,Read,0,4096,1\n", "{f}:1: Hostname: "),
    ("offset.csv", "msr", "1,hm,1,Write,4611686018427387904,4096,1\n",
     "{f}:1: Size: "),
    ("time.blk", "blkparse", BLK_OK + "  8,0 3 1 abc 697 Q WS 1 + 8 [k]\n",
     "{f}:2: time: "),
    ("inf.blk", "blkparse", "  8,0 3 1 inf 697 Q WS 1 + 8 [k]\n",
     "{f}:1: time: "),
    ("plus.blk", "blkparse", "  8,0 3 1 0.1 697 Q WS 1 - 8 [k]\n",
     "{f}:1: sector: "),
    ("dev.blk", "blkparse", "garbage line here\n", "{f}:1: device: "),
    ("nsec.blk", "blkparse", "  8,0 3 1 0.1 697 Q R 1 + x [k]\n",
     "{f}:1: nsectors: "),
    ("few.blk", "blkparse", "  8,0 3 1 0.1 697\n", "{f}:1: line: "),
    ("guess.txt", None, "hello world\n", "{f}:1: format: "),
    ("empty.lis", "arc", "", "{f}: no requests"),
    ("long.lis", "arc", "1 " * 70000 + "\n", "{f}:1: line too long"),
    ("binary.lis", "arc", "\x00\xff\xfe garbage\x01\n", "{f}:1: "),
    ("nul.csv", "msr", "1,hm,1,Read,0\x00,4096,1\n", "{f}:1: Offset: "),
]


def write(path, content):
    with open(path, "wb") as f:
        f.write(content.encode("latin-1") if isinstance(content, str)
                else content)


def run(sim, args):
    p = subprocess.run([sim] + args, capture_output=True, text=True,
                       errors="replace", timeout=30)
    return p.returncode, p.stderr


def expect_error(sim, path, fmt, needle, errors):
    args = ["-p", "ref-lru", "-s", "10"]
    if fmt:
        args += ["--format", fmt]
    rc, err = run(sim, args + [path])
    ok = rc == 2 and needle in err
    print("%-14s rc=%-3d %s" % (os.path.basename(path), rc,
                                 err.strip().splitlines()[0] if err else ""))
    if rc < 0:
        errors.append("%s: killed by signal %d" % (path, -rc))
    elif not ok:
        errors.append("%s: want exit 2 and %r in stderr, got exit %d: %s" % (
            path, needle, rc, err.strip()))


def main():
    sim, data = sys.argv[1], sys.argv[2]
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, fmt, content, needle in CASES:
            path = os.path.join(tmp, name)
            write(path, content)
            expect_error(sim, path, fmt, needle.format(f=path), errors)

        # Damaged compressed input: the decoder's error, with the file name.
        good = open(os.path.join(data, "sample.msr.csv"), "rb").read() * 50
        xz = lzma.compress(good)
        gz = gzip.compress(good)
        damaged = [
            ("cut.xz", xz[:len(xz) // 2], "xz data"),
            ("flip.xz", xz[:40] + bytes([xz[40] ^ 0xff]) + xz[41:], "xz"),
            ("cut.gz", gz[:len(gz) // 2], "truncated gzip"),
            ("flip.gz", gz[:20] + b"\xff\xff\xff" + gz[23:], "gzip"),
            ("cut.zst", open(os.path.join(data, "sample.msr.csv.zst"),
                             "rb").read()[:30], "zstd"),
        ]
        for name, blob, needle in damaged:
            path = os.path.join(tmp, name)
            write(path, blob)
            expect_error(sim, path, "msr", path + ":", errors)
            rc, err = run(sim, ["--format", "msr", path])
            if needle not in err:
                errors.append("%s: error does not mention %r: %s" % (
                    name, needle, err.strip()))

        # A good line after a bad one must not matter: the first bad line
        # is reported, with its number, inside compressed input too.
        bad = CP_HEADER + "1,1,28,512,0\n" * 1000 + "1,1,28,512,x\n"
        path = os.path.join(tmp, "late.csv.gz")
        write(path, gzip.compress(bad.encode()))
        expect_error(sim, path, None, path + ":1002: lbn: ", errors)

        missing = os.path.join(tmp, "missing.lis")
        rc, err = run(sim, [missing])
        if rc != 2 or missing not in err:
            errors.append("missing file: exit %d, %s" % (rc, err.strip()))

        # Usage errors exit 1 and name the option.
        for args, needle in [(["--sizes", "abc", missing], "abc"),
                             (["--block-size", "1000", missing], "block-size"),
                             (["--format", "nope", missing], "nope"),
                             (["-p", "mru", missing], "mru"),
                             (["--bogus"], "--bogus"),
                             # The core's ranges, named as options.
                             (["--dirty-high", "0", missing],
                              "--dirty-high must be from 1 to 100, not 0"),
                             (["--dirty-high", "30", missing],
                              "--dirty-low (45) must be below "
                              "dirty-high (30)"),
                             (["--dirty-max", "40", missing],
                              "--dirty-max must be from dirty-high (50) to "
                              "100, not 40"),
                             (["--dirty-low", "x", missing],
                              "--dirty-low: expected a number"),
                             (["--max-dirty-age", "99999999999", missing],
                              "--max-dirty-age: must be 0 (no limit) .. "),
                             (["--time-scale", "-1", missing],
                              "--time-scale: must be")]:
            rc, err = run(sim, args)
            if rc != 1 or needle not in err:
                errors.append("%s: exit %d, %s" % (args, rc, err.strip()))
    if errors:
        fail("\n".join(errors))
    print("PASS")


main()
