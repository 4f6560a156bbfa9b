#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""hypercache benchmarks: every workload, every configuration, one run.

Started by tests/bench/run.sh (which finds the binaries); see
tests/bench/README.md.  Writes raw results (results.json) and a log into
the scratch folder, and docs/BENCHMARKS.md plus docs/bench/*.png through
report.py unless --smoke.
"""
import argparse
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
from qmp import QMP  # noqa: E402

MiB = 1 << 20
T0 = time.monotonic()

# ---------------------------------------------------------------- profiles
PROFILES = {
    "full": dict(reps=5, guest_reps=3, trace_reps=3,
                 w1_img=64 * MiB, w1_fast=2_000_000, w1_slow=200_000,
                 w2_disk=320 * MiB, w2_cache="32M", fio_rt=3, fio_ramp=1,
                 w3_disk=800 * MiB, w3_cache="8M",
                 w4_bytes=128 * MiB, trace_limit=0,
                 w6_img=64 * MiB, w6_fast=1_000_000, w6_slow=30_000,
                 w8_miss=1024 * MiB, w8_hot=64 * MiB, w8_cache="256M",
                 w8_hit_fast=2048 * MiB, w8_hit_slow=256 * MiB,
                 w8_null_reqs=500_000,
                 guest=True, guest_read=6, guest_rw=5),
    "quick": dict(reps=3, guest_reps=1, trace_reps=1,
                  w1_img=64 * MiB, w1_fast=1_000_000, w1_slow=100_000,
                  w2_disk=320 * MiB, w2_cache="32M", fio_rt=2, fio_ramp=1,
                  w3_disk=800 * MiB, w3_cache="8M",
                  w4_bytes=64 * MiB, trace_limit=40_000,
                  w6_img=64 * MiB, w6_fast=500_000, w6_slow=20_000,
                  w8_miss=1024 * MiB, w8_hot=64 * MiB, w8_cache="256M",
                  w8_hit_fast=1024 * MiB, w8_hit_slow=256 * MiB,
                  w8_null_reqs=300_000,
                  guest=True, guest_read=5, guest_rw=4),
    "smoke": dict(reps=1, guest_reps=1, trace_reps=1,
                  w1_img=16 * MiB, w1_fast=100_000, w1_slow=10_000,
                  w2_disk=64 * MiB, w2_cache="8M", fio_rt=1, fio_ramp=0,
                  w3_disk=100 * MiB, w3_cache="1M",
                  w4_bytes=8 * MiB, trace_limit=8_000,
                  w6_img=8 * MiB, w6_fast=50_000, w6_slow=2_000,
                  w8_miss=32 * MiB, w8_hot=4 * MiB, w8_cache="8M",
                  w8_hit_fast=16 * MiB, w8_hit_slow=8 * MiB,
                  w8_null_reqs=5_000, w8_sizes=("64k",),
                  guest=False, guest_read=2, guest_rw=2),
}

TUNED = "admit-threshold=1"
FAILURES = []


def log(msg):
    print("[bench +%4ds] %s" % (time.monotonic() - T0, msg), flush=True)


def fail(msg):
    FAILURES.append(msg)
    log("FAILED: " + msg)


# ------------------------------------------------------------- configurations
# name -> (kind, hypercache options or None)
def hc_cfgs(modes=("writeback", "writethrough", "writearound", "none"),
            tuned=True, size=None):
    short = {"writeback": "wb", "writethrough": "wt", "writearound": "wa",
             "none": "none"}
    out = []
    for m in modes:
        base = "mode=%s" % m + (",size=%s" % size if size else "")
        out.append(("hc-%s" % short[m], base))
        if tuned and m != "none":
            out.append(("hc-%s-tuned" % short[m], base + "," + TUNED))
    return out


class Env:
    def __init__(self, args):
        self.args = args
        self.p = PROFILES[args.profile]
        self.dir = args.scratch
        os.makedirs(self.dir, exist_ok=True)
        self.img = os.environ["QEMU_IMG"]
        self.io = os.environ["QEMU_IO"]
        self.qsd = os.environ["QSD"]
        self.aio = "io_uring"
        self.results = {}      # wl -> cfg -> metric -> [values]
        self.info = {}         # free-form facts for the report
        self.commands = {}     # wl -> example command lines

    # -- results
    def add(self, wl, cfg, **metrics):
        d = self.results.setdefault(wl, {}).setdefault(cfg, {})
        for k, v in metrics.items():
            if v is not None:
                d.setdefault(k, []).append(v)

    def cmd_note(self, wl, argv):
        self.commands.setdefault(wl, [])
        s = " ".join(shlex.quote(a) for a in argv)
        for k in ("QEMU_IMG", "QEMU_IO", "QSD", "HC_BEFORE_QEMU_IMG"):
            if os.environ.get(k):
                s = s.replace(os.environ[k], "$" + k)
        s = s.replace(self.dir, "$SCRATCH")
        if s not in self.commands[wl] and len(self.commands[wl]) < 40:
            self.commands[wl].append(s)

    # -- images: non-sparse (NBD clients skip holes), reused across runs
    def image(self, name, size):
        path = os.path.join(self.dir, "%s-%d.raw" % (name, size // MiB))
        if os.path.exists(path) and os.path.getsize(path) == size \
                and os.path.exists(path + ".ok"):
            return path
        log("filling %s (%d MiB of non-zero data)" % (path, size // MiB))
        with open(path + ".tmp", "wb") as f:
            chunk = os.urandom(4 * MiB)
            for _ in range(size // (4 * MiB)):
                f.write(chunk)
            f.write(chunk[:size % (4 * MiB)])
        os.rename(path + ".tmp", path)
        open(path + ".ok", "w").close()
        return path

    def pick_aio(self, img):
        for aio in ("io_uring", "native", "threads"):
            r = subprocess.run([self.io, "-f", "raw", "-t", "none", "-i", aio,
                                "-c", "read 0 4k", img],
                               capture_output=True)
            if r.returncode == 0:
                return aio
        return "threads"

    # -- image-opts strings for qemu-img bench / qemu-io
    def file_opts(self, img, prefix="", direct=True):
        return ("{p}driver=file,{p}filename={f},{p}cache.direct={d},"
                "{p}aio={a}").format(p=prefix, f=img.replace(",", ",,"),
                                     d="on" if direct else "off", a=self.aio)

    def top_opts(self, cfg, img, size, child=None):
        """qemu-img --image-opts string for a named configuration."""
        kind, hc = cfg
        if kind == "null-co":
            return "driver=null-co,size=%d,read-zeroes=off" % size
        if child is None:
            child_direct = self.file_opts(img, "file.")
            child_plain = self.file_opts(img)
        else:
            child_direct = ",".join("file." + c for c in child.split(","))
            child_plain = child
        if kind == "none":
            return child_plain
        if kind == "writeback":
            o = self.file_opts(img, direct=False)
            if self.args.profile == "smoke":
                # QEMU 10.0's io_uring recurses without bound when page-cache
                # reads complete at submission and can crash (BENCHMARKS.md);
                # the smoke run must not be flaky because of it.
                o = o.replace("aio=" + self.aio, "aio=threads")
            return o
        return "driver=hypercache,%s,%s" % (hc, child_direct)


def cfg_table(names_hc, baselines=("none", "writeback", "null-co")):
    out = [(b, (b, None)) for b in baselines]
    out += [(n, ("hc", o)) for n, o in names_hc]
    return out


# ----------------------------------------------------------- process helpers
def run_rusage(argv, timeout):
    """Runs argv; returns (rc, stdout, stderr, CPU s, max RSS KiB, wall s)
    from wait4() of that one process."""
    import tempfile
    t0 = time.monotonic()
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        p = subprocess.Popen(argv, stdout=fo, stderr=fe, text=True)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        return (p.returncode, fo.read(), fe.read(), ru.ru_utime + ru.ru_stime,
                ru.ru_maxrss, time.monotonic() - t0)


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def proc_hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def perf_events_open(pid):
    """How many perf events process @pid holds open."""
    n = 0
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if "perf_event" in os.readlink("/proc/%d/fd/%s" % (pid, fd)):
                    n += 1
            except OSError:
                pass
    except OSError:
        pass
    return n


class PerfCount:
    """Counts child I/O submitted through io_uring by a process (perf)."""
    # IORING_OP_READV 1, WRITEV 2, READ 22, WRITE 23
    def __init__(self, pid, outfile):
        self.out = outfile
        self.p = None
        try:
            self.p = subprocess.Popen(
                ["perf", "stat", "-x", ",", "-o", outfile,
                 "-e", "io_uring:io_uring_submit_req",
                 "--filter", "opcode == 1 || opcode == 22",
                 "-e", "io_uring:io_uring_submit_req",
                 "--filter", "opcode == 2 || opcode == 23",
                 "-p", str(pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            self.p = None
            return
        # Counting starts once perf holds its events open: wait for that,
        # not for a guessed moment.
        deadline = time.monotonic() + 30
        while self.p.poll() is None and time.monotonic() < deadline:
            if perf_events_open(self.p.pid) >= 2:
                return
            time.sleep(0.01)
        self.stop()
        self.p = None

    def stop(self):
        """Returns (child reads, child writes) or (None, None)."""
        if not self.p:
            return None, None
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return None, None
        vals = []
        try:
            with open(self.out) as f:
                for line in f:
                    parts = line.strip().split(",")
                    if len(parts) > 2 and "io_uring_submit_req" in line:
                        vals.append(int(parts[0]) if parts[0].isdigit()
                                    else None)
        except OSError:
            pass
        if len(vals) != 2:
            return None, None
        return vals[0], vals[1]


def quit_daemon(proc, qmp, errf, what="qemu-storage-daemon"):
    """Ask a daemon to quit over QMP and wait for it; one that has not
    quit within 60 s is killed and fails the run."""
    try:
        if qmp:
            qmp.cmd("quit")
    except Exception:  # noqa: BLE001
        pass
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        fail("%s did not quit within 60 s" % what)
    errf.close()


class QSD:
    """A qemu-storage-daemon exporting one node over NBD (unix socket or
    TCP), with QMP."""
    def __init__(self, env, blockdevs, node, tag, netns=None, tcp=None,
                 writable=True):
        self.env = env
        d = env.dir
        self.sock = os.path.join(d, "nbd-%s.sock" % tag)
        self.qmp_path = os.path.join(d, "qmp-%s.sock" % tag)
        for pth in (self.sock, self.qmp_path):
            if os.path.exists(pth):
                os.unlink(pth)
        argv = [env.qsd]
        for b in blockdevs:
            argv += ["--blockdev", b]
        if tcp:
            argv += ["--nbd-server", "addr.type=inet,addr.host=%s,addr.port=%d"
                     % tcp]
        else:
            argv += ["--nbd-server", "addr.type=unix,addr.path=%s" % self.sock]
        argv += ["--export", "type=nbd,id=e0,node-name=%s,name=disk,"
                 "writable=%s" % (node, "on" if writable else "off"),
                 "--chardev", "socket,id=m0,path=%s,server=on,wait=off"
                 % self.qmp_path, "--monitor", "chardev=m0"]
        self.argv = argv
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        self.errf = open(os.path.join(d, "qsd-%s.err" % tag), "w")
        self.p = subprocess.Popen(argv, stdout=self.errf, stderr=self.errf)
        self.uri = "nbd+unix:///disk?socket=%s" % self.sock
        deadline = time.monotonic() + 60
        self.qmp = None
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError("qemu-storage-daemon exited: %s" %
                                   open(self.errf.name).read()[-500:])
            if os.path.exists(self.qmp_path) and \
                    (tcp or os.path.exists(self.sock)):
                try:
                    self.qmp = QMP(self.qmp_path, timeout=60)
                    break
                except OSError:
                    pass
            time.sleep(0.05)
        if not self.qmp:
            self.close()
            raise RuntimeError("qemu-storage-daemon did not come up")

    def hc(self):
        try:
            r = self.qmp.cmd("x-hypercache-query")
            return r[0]["stats"] if r else None
        except Exception:  # noqa: BLE001 - a bare child has no such node
            return None

    def top_ops(self, node):
        for s in self.qmp.cmd("query-blockstats", {"query-nodes": True}):
            if s.get("node-name") == node:
                return s
        return None

    def close(self):
        quit_daemon(self.p, self.qmp, self.errf)


def fio(env, uri, opts, tag, timeout=120):
    out = os.path.join(env.dir, "fio-%s.json" % tag)
    argv = ["fio", "--name=j", "--ioengine=nbd", "--uri=" + uri, "--bs=4k",
            "--group_reporting", "--output-format=json", "--output=" + out,
            "--eta=never"] + opts
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("fio failed: %s %s" % (r.stdout[-300:],
                                                  r.stderr[-300:]))
    with open(out) as f:
        txt = f.read()
    j = json.loads(txt[txt.index("{"):])["jobs"][0]
    return argv, j


# ------------------------------------------------------------------ W1
def w1(env):
    p = env.p
    size = p["w1_img"]
    img = env.image("w1", size)
    cfgs = cfg_table(hc_cfgs())
    log("W1 hot re-read: %d MiB image, 4 KiB reads, QD 32, qemu-img bench, "
        "%d configurations x %d reps" % (size // MiB, len(cfgs), p["reps"]))
    for rep in range(p["reps"]):
        for name, cfg in cfgs:
            # Uncached stacks are ~8x slower: fewer requests, similar time.
            count = p["w1_slow"] if name in ("none", "hc-none") \
                else p["w1_fast"]
            opts = env.top_opts(cfg, img, size)
            argv = [env.img, "bench", "--image-opts", "-c", str(count),
                    "-d", "32", "-s", "4k", opts]
            env.cmd_note("W1", argv)
            rc, out, err, cpu, rss, wall = run_rusage(argv, 300)
            secs = None
            for line in out.splitlines():
                if line.startswith("Run completed in"):
                    secs = float(line.split()[3])
            if rc != 0 or not secs:
                fail("W1 %s: qemu-img bench rc=%d %s" % (name, rc, err[-300:]))
                continue
            iops = count / secs
            env.add("W1", name, iops=iops, cpu_us_per_io=cpu / count * 1e6,
                    wall=wall, rss_kib=rss)
            log("W1 rep %d/%d %-15s %10.0f IOPS  %.2f us CPU/IO" %
                (rep + 1, p["reps"], name, iops, cpu / count * 1e6))


# ------------------------------------------------------------------ fio/NBD
def qsd_stack(env, cfg, img, size, cache_size=None, child=None):
    kind, hc = cfg
    if child is None:
        child = "driver=file,node-name=f0,filename=%s,cache.direct=on,aio=%s" \
            % (img.replace(",", ",,"), env.aio)
    if kind == "null-co":
        return ["driver=null-co,node-name=f0,size=%d,read-zeroes=off" % size], \
            "f0"
    if kind == "none":
        return [child], "f0"
    if kind == "writeback":
        return [child.replace("cache.direct=on", "cache.direct=off")], "f0"
    return [child, "driver=hypercache,node-name=hc0,file=f0,%s" % hc], "hc0"


def fio_one(env, wl, name, cfg, img, size, fio_opts, rep, reps, netns=None,
            child=None, tag=None):
    blockdevs, node = qsd_stack(env, cfg, img, size, child=child)
    q = QSD(env, blockdevs, node, tag or wl.lower())
    try:
        env.cmd_note(wl, q.argv)
        c0 = proc_cpu(q.p.pid)
        perf = PerfCount(q.p.pid, os.path.join(env.dir, "perf-%s.txt" % wl))
        argv, j = fio(env, q.uri, fio_opts, wl.lower())
        child_r, child_w = perf.stop()
        c1 = proc_cpu(q.p.pid)
        env.cmd_note(wl, [a.replace(q.uri, "$URI") for a in argv])
        st = q.top_ops(node) or {}
        ops = st.get("stats", {})
        hc = q.hc()
        hwm = proc_hwm(q.p.pid)
    finally:
        q.close()
    rd, wr = j["read"], j["write"]
    iops = rd["iops"] + wr["iops"]
    total = (ops.get("rd_operations", 0) + ops.get("wr_operations", 0)) \
        if node != "f0" else None
    res = dict(iops=iops, read_iops=rd["iops"], write_iops=wr["iops"],
               bw_mib=(rd["bw_bytes"] + wr["bw_bytes"]) / MiB,
               rss_kib=hwm, child_reads=child_r, child_writes=child_w,
               fio_reads=rd["total_ios"], fio_writes=wr["total_ios"],
               qsd_cpu=c1 - c0)
    nio = rd["total_ios"] + wr["total_ios"]
    if nio:
        res["cpu_us_per_io"] = (c1 - c0) / nio * 1e6
    if hc:
        res.update(hit_ratio=hc.get("hit-ratio"),
                   metadata_bytes=hc.get("metadata-bytes"),
                   cached_blocks=hc.get("cached-blocks"),
                   writeback_requests=hc.get("writeback-requests"),
                   merge_ratio=hc.get("merge-ratio"),
                   hc_write_requests=hc.get("write-requests"),
                   hc_read_requests=hc.get("read-requests"))
        if hc.get("cached-blocks"):
            res["md_per_block"] = hc["metadata-bytes"] / hc["cached-blocks"]
    env.add(wl, name, **res)
    hr = (" hit %.3f" % hc["hit-ratio"]) if hc else ""
    log("%s rep %d/%d %-15s %9.0f IOPS%s  child r/w %s/%s  RSS %d MiB" %
        (wl, rep + 1, reps, name, iops, hr, child_r, child_w, hwm // 1024))
    return res, total


def w2_host(env):
    p = env.p
    size = p["w2_disk"]
    img = env.image("w2", size)
    cs = p["w2_cache"]
    keep = ("none", "writeback", "null-co", "hc-wb", "hc-wb-tuned", "hc-wt",
            "hc-wa")
    if env.args.profile == "smoke":
        keep = ("none", "hc-wb", "hc-wa")
    cfgs = [c for c in cfg_table(hc_cfgs(modes=("writeback", "writethrough",
                                                "writearound"), size=cs))
            if c[0] in keep]
    common = ["--iodepth=8", "--numjobs=4", "--time_based",
              "--runtime=%d" % p["fio_rt"], "--ramp_time=%d" % p["fio_ramp"],
              "--random_distribution=zipf:1.2", "--norandommap",
              "--randrepeat=0"]
    log("W2 skewed (host, fio nbd engine, 4 jobs x QD 8): %d MiB disk, "
        "cache %s, %d configurations x 2 workloads x %d reps" %
        (size // MiB, cs, len(cfgs), p["reps"]))
    for rep in range(p["reps"]):
        for wl, rw in (("W2-read", ["--rw=randread"]),
                       ("W2-mix", ["--rw=randrw", "--rwmixread=70"])):
            for name, cfg in cfgs:
                try:
                    fio_one(env, wl, name, cfg, img, size, common + rw, rep,
                            p["reps"])
                except Exception as e:  # noqa: BLE001
                    fail("%s %s: %s" % (wl, name, e))


def w3(env):
    p = env.p
    size = p["w3_disk"]
    img = env.image("w3", size)
    cs = p["w3_cache"]
    cfgs = [("bare", ("none", None))] + \
        [(n, ("hc", o)) for n, o in hc_cfgs(modes=("writeback",), size=cs)]
    common = ["--iodepth=8", "--numjobs=4", "--time_based",
              "--runtime=%d" % p["fio_rt"], "--ramp_time=%d" % p["fio_ramp"],
              "--rw=randread", "--norandommap", "--randrepeat=0"]
    log("W3 no locality: uniform 4 KiB random reads, %d MiB disk, cache %s "
        "(%dx)" % (size // MiB, cs, size // (int(cs[:-1]) * MiB)))
    for rep in range(p["reps"]):
        for name, cfg in cfgs:
            try:
                fio_one(env, "W3", name, cfg, img, size, common, rep,
                        p["reps"])
            except Exception as e:  # noqa: BLE001
                fail("W3 %s: %s" % (name, e))


def w4(env):
    p = env.p
    size = p["w2_disk"]
    img = env.image("w4", size)
    cfgs = [("bare", ("none", None))] + \
        [(n, ("hc", o)) for n, o in
         (("hc-wb", "mode=writeback"),
          ("hc-wb-tuned", "mode=writeback,dirty-high=80,dirty-low=60,"
                          "max-merge=4194304"),
          ("hc-wt", "mode=writethrough"))]
    nbytes = min(p["w4_bytes"], size)
    opts = ["--rw=write", "--iodepth=32", "--numjobs=1",
            "--size=%d" % nbytes, "--end_fsync=1"]
    log("W4 small sequential writes: 4 KiB, QD 32, %d MiB then fsync, "
        "child writes counted by perf (io_uring WRITE/WRITEV submissions)"
        % (nbytes // MiB))
    for rep in range(p["reps"]):
        for name, cfg in cfgs:
            t0 = time.monotonic()
            try:
                res, _ = fio_one(env, "W4", name, cfg, img, size, opts, rep,
                                 p["reps"])
            except Exception as e:  # noqa: BLE001
                fail("W4 %s: %s" % (name, e))
                continue
            wall = time.monotonic() - t0
            cw = res.get("child_writes")
            if cw:
                env.add("W4", name, coalesce=res["fio_writes"] / cw)
            env.add("W4", name, wall_incl_flush=wall)


# ------------------------------------------------------------------ W5
def trace_script(env, limit):
    src = os.path.join(TOP, "..", "shared", "traces", "cloudPhysicsIO.csv.xz")
    if not os.path.exists(src):
        src = "/work/shared/traces/cloudPhysicsIO.csv.xz"
    tag = "all" if not limit else str(limit)
    path = os.path.join(env.dir, "trace-%s.qio" % tag)
    fill = os.path.join(env.dir, "trace-%s.fill" % tag)
    meta = path + ".json"
    if os.path.exists(meta):
        with open(meta) as f:
            return path, fill, json.load(f)
    import lzma
    cmds, blocks, maxend = [], set(), 0
    n = r = w = 0
    with lzma.open(src, "rt") as f:
        next(f)
        for line in f:
            _, _, op, sz, lbn = line.strip().split(",")
            sz, off = int(sz), int(lbn) * 512
            if sz <= 0 or op not in ("28", "2a"):
                continue
            if op == "28":
                cmds.append("read -q %d %d" % (off, sz))
                r += 1
            else:
                cmds.append("write -q %d %d" % (off, sz))
                w += 1
            for b in range(off // 4096, (off + sz - 1) // 4096 + 1):
                blocks.add(b)
            maxend = max(maxend, off + sz)
            n += 1
            if limit and n >= limit:
                break
    with open(path, "w") as f:
        f.write("\n".join(cmds) + "\n")
    # Pre-fill every touched block with data, as runs, so that reads do not
    # fall into holes (the bare child would answer those without I/O).
    runs, start, prev = [], None, None
    for b in sorted(blocks):
        if start is None:
            start = prev = b
        elif b == prev + 1 and (b - start) < 256:
            prev = b
        else:
            runs.append((start, prev))
            start = prev = b
    if start is not None:
        runs.append((start, prev))
    with open(fill, "w") as f:
        for a, b in runs:
            f.write("write -q -P 0x5a %d %d\n" % (a * 4096, (b - a + 1) * 4096))
    info = dict(requests=n, reads=r, writes=w, blocks=len(blocks),
                disk=(maxend + MiB - 1) // MiB * MiB)
    with open(meta, "w") as f:
        json.dump(info, f)
    return path, fill, info


def w5(env):
    p = env.p
    script, fill, info = trace_script(env, p["trace_limit"])
    img = os.path.join(env.dir, "trace-%d.raw" % info["disk"])
    if not os.path.exists(img + ".ok"):
        log("W5: creating %d GiB sparse image, pre-filling %d touched blocks"
            % (info["disk"] >> 30, info["blocks"]))
        subprocess.run([env.img, "create", "-q", "-f", "raw", img,
                        str(info["disk"])], check=True)
        with open(fill) as f:
            subprocess.run([env.io, "--image-opts", env.file_opts(img)],
                           stdin=f, check=True, stdout=subprocess.DEVNULL)
        open(img + ".ok", "w").close()
    # Cache: 10 % of the distinct blocks, as in ../anchors.md's table.
    cache = max(info["blocks"] // 10, 256) * 4096
    env.info["W5"] = dict(info, cache_bytes=cache)
    cfgs = [("bare", ("none", None)),
            ("hc-wb", ("hc", "size=%d" % cache)),
            ("hc-wb-tuned", ("hc", "size=%d,%s" % (cache, TUNED))),
            ]
    if env.args.profile == "smoke":
        cfgs = cfgs[:2]
    log("W5 trace replay: %d requests (%d reads, %d writes), QD 1 qemu-io "
        "script, cache %d MiB (10%% of %d distinct blocks)" %
        (info["requests"], info["reads"], info["writes"], cache // MiB,
         info["blocks"]))
    for rep in range(p["trace_reps"]):
        for name, cfg in cfgs:
            opts = env.top_opts(cfg, img, info["disk"])
            argv = [env.io, "--image-opts", opts]
            env.cmd_note("W5", argv + ["<", "$SCRATCH/" +
                                       os.path.basename(script)])
            t0 = time.monotonic()
            with open(script) as f:
                r = subprocess.run(argv, stdin=f, capture_output=True,
                                   text=True, timeout=900)
            secs = time.monotonic() - t0
            if r.returncode != 0 or "error" in r.stdout.lower():
                fail("W5 %s: qemu-io rc=%d %s" % (name, r.returncode,
                                                  (r.stdout + r.stderr)[-300:]))
                continue
            env.add("W5", name, rps=info["requests"] / secs, secs=secs)
            log("W5 rep %d/%d %-12s %8.0f requests/s (%.1f s)" %
                (rep + 1, p["trace_reps"], name, info["requests"] / secs,
                 secs))
    # Hit ratio: the same script through qemu-storage-daemon, whose QMP
    # answers x-hypercache-query (qemu-io alone has no monitor).
    for name, cfg in cfgs[1:]:
        blockdevs, node = qsd_stack(env, cfg, img, info["disk"])
        try:
            q = QSD(env, blockdevs, node, "w5")
        except Exception as e:  # noqa: BLE001
            fail("W5 stats %s: %s" % (name, e))
            continue
        try:
            with open(script) as f:
                r = subprocess.run([env.io, "-f", "raw", q.uri], stdin=f,
                                   capture_output=True, text=True, timeout=900)
            hc = q.hc()
        finally:
            q.close()
        if r.returncode != 0 or not hc:
            fail("W5 stats %s: rc=%d" % (name, r.returncode))
            continue
        hb, mb = hc.get("hit-blocks", 0), hc.get("miss-blocks", 0)
        env.add("W5", name, hit_ratio=hc.get("hit-ratio"),
                read_block_hit_ratio=hb / (hb + mb) if hb + mb else 0,
                writeback_requests=hc.get("writeback-requests"),
                hc_write_requests=hc.get("write-requests"))
        log("W5 stats %-12s hit-ratio %.3f (read blocks %d hit / %d miss)"
            % (name, hc.get("hit-ratio", 0), hb, mb))


# ------------------------------------------------------------------ W6
class Netns:
    def __init__(self, env):
        self.env = env
        self.ns = "hcbench%d" % os.getpid()
        self.veth = "hcb%dh" % (os.getpid() % 100000)
        self.peer = "hcb%dn" % (os.getpid() % 100000)
        self.host_ip, self.ns_ip = "10.231.77.1", "10.231.77.2"
        self.relay = None
        self.method = None

    def sh(self, *argv, check=True):
        r = subprocess.run(list(argv), capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(argv), r.stderr.strip()))
        return r

    def up(self, delay_us):
        self.sh("ip", "netns", "add", self.ns)
        self.sh("ip", "link", "add", self.veth, "type", "veth", "peer",
                "name", self.peer)
        self.sh("ip", "link", "set", self.peer, "netns", self.ns)
        self.sh("ip", "addr", "add", self.host_ip + "/30", "dev", self.veth)
        self.sh("ip", "link", "set", self.veth, "up")
        self.sh("ip", "-n", self.ns, "addr", "add", self.ns_ip + "/30", "dev",
                self.peer)
        self.sh("ip", "-n", self.ns, "link", "set", self.peer, "up")
        self.sh("ip", "-n", self.ns, "link", "set", "lo", "up")
        r = self.sh("tc", "qdisc", "add", "dev", self.veth, "root", "netem",
                    "delay", "%dus" % delay_us, check=False)
        if r.returncode == 0:
            self.method = "netem"
            self.port = 10809
            return
        self.netem_error = r.stderr.strip()
        # No sch_netem in this kernel: a userspace relay in the namespace
        # delays client-to-server data instead (tests/bench/delay-relay.c).
        exe = os.path.join(self.env.dir, "delay-relay")
        src = os.path.join(HERE, "delay-relay.c")
        if not os.path.exists(exe) or \
                os.path.getmtime(exe) < os.path.getmtime(src):
            self.sh("cc", "-O2", "-pthread", "-o", exe, src)
        self.relay = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, exe, self.ns_ip, "10810",
             "127.0.0.1", "10809", str(delay_us)])
        self.method = "relay"
        self.port = 10810
        # Wait until the relay listens, with a limit and a message.
        deadline = time.monotonic() + 30
        while True:
            r = subprocess.run(["ip", "netns", "exec", self.ns, "ss", "-Hltn",
                                "sport = :10810"], capture_output=True,
                               text=True, check=False)
            if r.stdout.strip():
                break
            if self.relay.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("delay relay in %s never listened on "
                                   "port 10810" % self.ns)
            time.sleep(0.02)

    def down(self):
        if self.relay:
            self.relay.terminate()
            try:
                self.relay.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.relay.kill()
        self.sh("ip", "link", "del", self.veth, check=False)
        self.sh("ip", "netns", "del", self.ns, check=False)


def w6(env):
    p = env.p
    size = p["w6_img"]
    img = env.image("w6", size)
    net = Netns(env)
    delay = 200
    try:
        net.up(delay)
    except Exception as e:  # noqa: BLE001
        net.down()
        fail("W6 network namespace: %s" % e)
        return
    env.info["W6"] = dict(method=net.method, delay_us=delay,
                          netem_error=getattr(net, "netem_error", None))
    log("W6 slow shared storage: NBD server in netns %s over veth, %d us "
        "delay by %s" % (net.ns, delay, net.method))
    srv = None
    try:
        listen = ("0.0.0.0", 10809)
        srv = QSD(env, ["driver=file,node-name=f0,filename=%s,"
                        "cache.direct=on,aio=%s" % (img, env.aio)], "f0",
                  "w6srv", netns=net.ns, tcp=listen)
        env.cmd_note("W6", ["ip", "netns", "exec", net.ns] + srv.argv)
        child = ("driver=nbd,server.type=inet,server.host=%s,"
                 "server.port=%d,export=disk" % (net.ns_ip, net.port))
        direct = ("driver=nbd,server.type=inet,server.host=%s,"
                  "server.port=10809,export=disk" % net.ns_ip)
        cfgs = [("none", ("none", None)), ("hc-wb", ("hc", "mode=writeback")),
                ("hc-wb-tuned", ("hc", "mode=writeback," + TUNED)),
                ("hc-wt", ("hc", "mode=writethrough"))]
        if net.method == "relay":
            # The same server without the relay: what the delay costs.
            cfgs.insert(1, ("none-nodelay", ("none", None)))
        for rep in range(p["reps"]):
            for name, cfg in cfgs:
                count = p["w6_slow"] if name.startswith("none") \
                    else p["w6_fast"]
                opts = env.top_opts(cfg, img, size, child=child)
                if name == "none-nodelay":
                    opts = direct
                argv = [env.img, "bench", "--image-opts", "-c", str(count),
                        "-d", "32", "-s", "4k", opts]
                env.cmd_note("W6", argv)
                rc, out, err, cpu, rss, wall = run_rusage(argv, 300)
                secs = None
                for line in out.splitlines():
                    if line.startswith("Run completed in"):
                        secs = float(line.split()[3])
                if rc != 0 or not secs:
                    fail("W6 %s: rc=%d %s" % (name, rc, err[-300:]))
                    continue
                env.add("W6", name, iops=count / secs,
                        cpu_us_per_io=cpu / count * 1e6)
                log("W6 rep %d/%d %-12s %10.0f IOPS" %
                    (rep + 1, p["reps"], name, count / secs))
    finally:
        if srv:
            srv.close()
        net.down()


# ------------------------------------------------------------------ W8
# The cost matrix (issue 13): what hypercache costs where it cannot help.
# (name, bytes, queue depth) of the request sizes; the issue measured 4 KiB
# at QD 32 and 1 MiB at QD 8, and 64 KiB writes against a child with 32
# writes in flight.
W8_SIZES = (("4k", 4096, 32), ("64k", 64 * 1024, 32), ("1m", MiB, 8))
# (operation, cache state, flush every N MiB or 0)
W8_KINDS = (("read", "miss", 0), ("read", "hit", 0),
            ("write", "miss", 0), ("write", "miss", 16),
            ("write", "hit", 0), ("write", "hit", 16))

# Rows whose commands the report lists; the others differ in -c/-d/-s/-w.
W8_SHOWN = ("4k-read-miss", "4k-read-hit", "64k-write-miss-flush16m")


def w8_rows(sizes=None):
    """(row id, size name, bytes, QD, op, state, flush MiB) of W8."""
    out = []
    for sname, sz, qd in W8_SIZES:
        if sizes and sname not in sizes:
            continue
        for op, state, fl in W8_KINDS:
            rid = "%s-%s-%s%s" % (sname, op, state,
                                  "-flush%dm" % fl if fl else "")
            out.append((rid, sname, sz, qd, op, state, fl))
    return out


def w8(env):
    p = env.p
    miss_r = env.image("w8r", p["w8_miss"])
    miss_w = env.image("w8w", p["w8_miss"])
    hot = env.image("w8h", p["w8_hot"])
    hc = "size=%s" % p["w8_cache"]
    # hypercache over an infinitely fast child, admission forced: the CPU
    # that hypercache itself spends per request (issue 13's µs per block).
    hc_null = "driver=null-co,size=%d,read-zeroes=off" % p["w8_miss"]
    # The smoke run: one request size is enough to see that all runs.
    rows = w8_rows(p.get("w8_sizes"))
    # Older cache code beside the current one, alternating in this run:
    # the hc* configurations again as hc*-before with that qemu-img.
    before = os.environ.get("HC_BEFORE_QEMU_IMG")
    env.info["W8"] = dict(before=os.environ.get("HC_BEFORE_CODE", before)
                          if before else None,
                          miss_bytes=p["w8_miss"], hot_bytes=p["w8_hot"],
                          cache=p["w8_cache"], hit_fast=p["w8_hit_fast"],
                          hit_slow=p["w8_hit_slow"],
                          null_reqs=p["w8_null_reqs"],
                          rows=[r[0] for r in rows])
    log("W8 cost matrix: qemu-img bench, %d rows (4k/64k/1m x read/write x "
        "miss/hit, writes unflushed and flushed every 16 MiB), one pass "
        "over %d MiB for misses, %d MiB re-read/re-written for hits, cache "
        "%s, %d reps" % (len(rows), p["w8_miss"] // MiB, p["w8_hot"] // MiB,
                         p["w8_cache"], p["reps"]))
    for rep in range(p["reps"]):
        for rid, sname, sz, qd, op, state, fl in rows:
            img = hot if state == "hit" else (miss_r if op == "read"
                                               else miss_w)
            isize = p["w8_hot"] if state == "hit" else p["w8_miss"]
            cfgs = [("bare", ("none", None)), ("hc", ("hc", hc)),
                    ("null-co", ("null-co", None))]
            if state == "miss":
                cfgs.append(("hc-null", ("hc", hc + ",seq-cutoff=0")))
                # The cache memory faulted in at open: what a miss costs
                # once the first touch of new memory is paid (prealloc
                # happens before qemu-img's clock starts; the wall time
                # with open and close includes it).
                cfgs.append(("hc-prealloc", ("hc", hc + ",prealloc=on")))
            if before:
                # Each right after its current twin (prealloc is newer
                # than any older code).
                cfgs = [x for n, c in cfgs for x in
                        ([(n, c), (n + "-before", c)]
                         if n.startswith("hc") and n != "hc-prealloc"
                         else [(n, c)])]
            for name, cfg in cfgs:
                if name == "null-co":
                    # No cache, so passes do not matter; enough requests
                    # for qemu-img's millisecond clock.
                    count = max(isize // sz, p["w8_null_reqs"])
                elif state == "miss":
                    count = isize // sz
                elif name == "bare":
                    count = p["w8_hit_slow"] // sz
                else:
                    # Many passes, so that the cold first one is a few %.
                    count = p["w8_hit_fast"] // sz
                child = hc_null if name.startswith("hc-null") else None
                opts = env.top_opts(cfg, img, isize, child=child)
                exe = before if name.endswith("-before") else env.img
                argv = [exe, "bench", "--image-opts", "-c", str(count),
                        "-d", str(qd), "-s", str(sz)]
                if op == "write":
                    argv += ["-w", "--pattern", "90"]
                    if fl:
                        argv += ["--flush-interval", str(fl * MiB // sz)]
                argv.append(opts)
                if rid in W8_SHOWN:
                    env.cmd_note("W8", argv)
                rc, out, err, cpu, rss, wall = run_rusage(argv, 600)
                secs = None
                for line in out.splitlines():
                    if line.startswith("Run completed in"):
                        # Printed in ms: 0.000 is under half of one.
                        secs = float(line.split()[3]) or 0.0005
                if rc != 0 or not secs:
                    fail("W8-%s %s: qemu-img bench rc=%d %s" %
                         (rid, name, rc, err[-300:]))
                    continue
                iops = count / secs
                # wall: the whole process, including the close, where
                # hypercache writes back what is still dirty.
                env.add("W8-" + rid, name, iops=iops,
                        iops_incl_close=count / wall,
                        cpu_us_per_io=cpu / count * 1e6, wall=wall,
                        rss_kib=rss, mib_s=count * sz / secs / MiB)
                log("W8 rep %d/%d %-22s %-14s %9.0f IOPS %8.1f MiB/s "
                    "(%.2f s, %.2f s with open/close)" %
                    (rep + 1, p["reps"], rid, name, iops,
                     count * sz / secs / MiB, secs, wall))


# ------------------------------------------------------------------ guest
def w2_guest(env):
    p = env.p
    size = p["w2_disk"]
    img = env.image("w2g", size)
    cfgs = [("none", "none"), ("hc-wb", "size=%s" % p["w2_cache"]),
            ("hc-wb-tuned", "size=%s,%s" % (p["w2_cache"], TUNED))]
    log("W2 guest: demo guest (TCG) fio on /dev/vda, zipf(1.2) %ds read + "
        "%ds 70/30, %d reps" % (p["guest_read"], p["guest_rw"],
                               p["guest_reps"]))
    for rep in range(p["guest_reps"]):
        for name, hc in cfgs:
            out = os.path.join(env.dir, "guest-%s.out" % name)
            argv = [os.path.join(HERE, "guest.sh"), out, img, hc,
                    str(p["guest_read"]), str(p["guest_rw"])]
            env.cmd_note("W2-guest", argv)
            r = subprocess.run(argv, capture_output=True, text=True,
                               timeout=600)
            if r.returncode != 0:
                fail("W2 guest %s: rc=%d %s" % (name, r.returncode,
                                                r.stderr[-500:]))
                continue
            jobs, cur, buf, hcj = {}, None, [], None
            for line in open(out).read().splitlines():
                if line.startswith("FIO-JSON-BEGIN "):
                    cur, buf = line.split(None, 1)[1], []
                elif line == "FIO-JSON-END" and cur:
                    raw = "\n".join(buf)
                    jobs[cur] = json.loads(raw[raw.index("{"):])["jobs"][0]
                    cur = None
                elif line == "HC-JSON-BEGIN":
                    cur, buf = "hc", []
                elif line == "HC-JSON-END":
                    hcj = json.loads("\n".join(buf))
                    cur = None
                elif cur:
                    buf.append(line)
            for k, j in jobs.items():
                iops = j["read"]["iops"] + j["write"]["iops"]
                hr = hcj[0]["stats"]["hit-ratio"] if hcj else None
                env.add("W2-guest-" + k, name, iops=iops, hit_ratio=hr)
                log("W2 guest rep %d/%d %-12s %-4s %8.0f IOPS" %
                    (rep + 1, p["guest_reps"], name, k, iops))


# ------------------------------------------------------------------ W9
def w9(env):
    """Boot storm (issue 14): tests/bench/w9.py."""
    sys.path.insert(0, HERE)
    import w9 as w9mod
    w9mod.w9(env, sys.modules[__name__])


# ------------------------------------------------------------------ main
def machine():
    def sh(c):
        return subprocess.run(c, shell=True, capture_output=True,
                              text=True).stdout.strip()
    return dict(nproc=sh("nproc"),
                lscpu=sh("lscpu | grep -E '^(Architecture|Model name|"
                         "CPU\\(s\\)|Thread|Core|Socket|Hypervisor|"
                         "Virtualization|L[123])'"),
                free=sh("free -m"), uname=sh("uname -sr"),
                loadavg=sh("cat /proc/loadavg"),
                qemu=sh("$QEMU_IMG --version | head -1"),
                fio=sh("fio --version"),
                fs=sh("df -T %s | tail -1" % shlex.quote("/var/tmp")),
                commit=sh("git -C %s rev-parse --short HEAD" % TOP))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", choices=PROFILES, default="full")
    ap.add_argument("--scratch", required=True)
    ap.add_argument("--only", default="",
                    help="comma list of W1,W2,W2g,W3,W4,W5,W6,W8,W9")
    ap.add_argument("--results", default="",
                    help="raw results file (default: "
                    "SCRATCH/results-PROFILE.json)")
    args = ap.parse_args()
    env = Env(args)
    env.aio = env.pick_aio(env.image("w1", env.p["w1_img"]))
    only = set(x for x in args.only.split(",") if x)
    steps = [("W1", w1), ("W2", w2_host), ("W3", w3), ("W4", w4),
             ("W5", w5), ("W6", w6), ("W8", w8), ("W9", w9),
             ("W2g", w2_guest)]
    info = dict(profile=args.profile, profile_params=env.p, aio=env.aio,
                machine=machine(), start=time.strftime("%Y-%m-%d %H:%M:%S"))
    log("profile %s, aio=%s, scratch %s" % (args.profile, env.aio, env.dir))
    for key, fn in steps:
        if only and key not in only:
            continue
        if key == "W2g" and not env.p["guest"]:
            log("W2 guest: skipped in this profile")
            continue
        t = time.monotonic()
        try:
            fn(env)
        except Exception as e:  # noqa: BLE001
            fail("%s: %s: %s" % (key, type(e).__name__, e))
        env.info.setdefault("durations", {})[key] = time.monotonic() - t
    info.update(env.info, end=time.strftime("%Y-%m-%d %H:%M:%S"),
                total_s=time.monotonic() - T0, loadavg_end=open(
                    "/proc/loadavg").read().strip(), failures=FAILURES)
    out = args.results or os.path.join(env.dir,
                                       "results-%s.json" % args.profile)
    if only and os.path.exists(out):
        # A partial rerun replaces its workloads in the last full results.
        with open(out) as f:
            old = json.load(f)
        keys = set(env.results)
        for k, v in old["results"].items():
            if k not in keys:
                env.results[k] = v
        for k, v in old["commands"].items():
            env.commands.setdefault(k, v)
        oi = old["info"]
        for k, v in oi.items():
            if k in ("W5", "W6", "W8", "W9") and k not in info:
                info[k] = v
        dur = dict(oi.get("durations", {}))
        dur.update(info.get("durations", {}))
        info["durations"] = dur
        info["total_s"] = sum(dur.values())
        info["failures"] = [x for x in oi.get("failures", [])
                            if x.split()[0].split(":")[0] not in only
                            and x.split()[0].split("-")[0] not in only] + \
            FAILURES
        info["rerun"] = oi.get("rerun", []) + [
            "%s at %s" % (",".join(sorted(only)), info["start"])]
        info["start"] = oi["start"]
        info["loadavg_end"] = oi.get("loadavg_end", info["loadavg_end"])
    with open(out, "w") as f:
        json.dump(dict(info=info, results=env.results,
                       commands=env.commands), f, indent=1)
    log("raw results: %s" % out)
    # Empty result sets count as broken too.
    for wl, cfgs in env.results.items():
        for c, m in cfgs.items():
            if not m:
                fail("%s %s: no figures" % (wl, c))
    if FAILURES:
        log("%d failure(s):" % len(FAILURES))
        for f in FAILURES:
            print("  " + f)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
