#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Issue 16's figures in one run: a warm cache after restart and migration.

  tests/bench/hotset.py [--reps N] [--out FILE.json] [--only restart,migrate,iops]

Needs the QEMU build (eval "$(./configure-qemu.sh env)") and fio with its
nbd engine.  Scratch files in $HC_BENCH_DIR/hotset (default
/var/tmp/hypercache-bench/hotset: a real filesystem, for O_DIRECT).

restart   qemu-storage-daemon exports a hypercache node (file child,
          O_DIRECT) over NBD; fio's nbd engine is the guest.  After a
          warm-up, the hot set is saved and the hit ratio of the next
          20,000 reads measured (never stopped); then the daemon is
          restarted with that hot set as its hotset-file and the same
          20,000 reads run at once, while the load goes on (warm), once more
          after the load finished (warm, loaded), and with no hot set
          (cold).  Uniform 4 KiB reads over a 96 MiB hot set
          in a 128 MiB cache, and zipf(0.9) reads over a 1 GiB disk.
migrate   two qemu-system processes with hypercache over the same NBD
          export of a daemon (shared storage), hotset-file on both; fio
          reads through an NBD export of the hypercache node; the hit ratio
          per second for 10 s on the destination after a live migration,
          against the source's before it and against a destination without
          hotset-file (cold).
iops      guest IOPS (4 KiB random reads, QD 16, 1 GiB outside the hot set)
          while a 3 GiB hot set loads, started when the guest is busy,
          against the same without a load, in turn: a scattered hot set
          (single-block reads) and a dense one (256 KiB reads).
"""
import argparse
import json
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
from qmp import QMP  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
BS = 4096
T0 = time.monotonic()
WINDOW = 20000


def log(msg):
    print("[hotset +%4ds] %s" % (time.monotonic() - T0, msg), flush=True)


def env_bins():
    need = {"QSD": None, "QEMU_SYSTEM": None, "QEMU_IMG": None}
    for k in need:
        need[k] = os.environ.get(k)
    if not all(need.values()):
        out = subprocess.run([os.path.join(TOP, "configure-qemu.sh"), "env"],
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            k, _, v = line.replace("export ", "").partition("=")
            if k in need and not need[k]:
                need[k] = v
    return need


def wait_for(what, cond, limit=120, step=0.05):
    deadline = time.monotonic() + limit
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError("%s: not within %d s" % (what, limit))
        time.sleep(step)


class Proc:
    """A qemu-storage-daemon or qemu-system-x86_64 with QMP on a socket."""

    def __init__(self, argv, d, tag):
        self.qmp_path = os.path.join(d, "qmp-%s.sock" % tag)
        if os.path.exists(self.qmp_path):
            os.unlink(self.qmp_path)
        argv = argv + ["--chardev" if "storage-daemon" in argv[0]
                       else "-chardev",
                       "socket,id=m0,path=%s,server=on,wait=off"
                       % self.qmp_path,
                       "--monitor" if "storage-daemon" in argv[0]
                       else "-mon", "chardev=m0" if "storage-daemon"
                       in argv[0] else "chardev=m0,mode=control"]
        self.errf = open(os.path.join(d, "%s.err" % tag), "w")
        self.p = subprocess.Popen(argv, stdout=self.errf, stderr=self.errf)
        self.qmp = None

        def up():
            if self.p.poll() is not None:
                raise RuntimeError("%s exited: %s" % (
                    argv[0], open(self.errf.name).read()[-800:]))
            if not os.path.exists(self.qmp_path):
                return None
            try:
                self.qmp = QMP(self.qmp_path, timeout=120)
            except OSError:
                return None
            return True
        wait_for("%s up" % tag, up, 60)

    def cmd(self, name, args=None):
        return self.qmp.cmd(name, args)

    def hc(self, node="hc0"):
        return self.cmd("x-hypercache-query", {"node-name": node})[0]

    def quit(self):
        try:
            self.cmd("quit")
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        try:
            self.p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise RuntimeError("did not quit within 120 s")
        self.errf.close()


def hit_ratio(st0, st1):
    hits = st1["hit-blocks"] - st0["hit-blocks"]
    misses = st1["miss-blocks"] - st0["miss-blocks"]
    return hits / (hits + misses) if hits + misses else 0.0, hits + misses


def fio(uri, opts, out, timeout=600):
    argv = ["fio", "--name=j", "--ioengine=nbd", "--uri=" + uri, "--bs=4k",
            "--group_reporting", "--output-format=json", "--output=" + out,
            "--eta=never", "--rw=randread", "--norandommap",
            "--random_generator=tausworthe64"] + opts
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("fio failed: %s %s" % (r.stdout[-400:],
                                                  r.stderr[-400:]))
    with open(out) as f:
        txt = f.read()
    return json.loads(txt[txt.index("{"):])["jobs"][0]


def make_disk(path, size):
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    log("writing %d MiB of data into %s" % (size // MiB, path))
    subprocess.run(["fio", "--name=fill", "--filename=" + path,
                    "--size=%d" % size, "--rw=write", "--bs=1M",
                    "--direct=1", "--ioengine=io_uring", "--iodepth=8",
                    "--refill_buffers", "--eta=never",
                    "--output=/dev/null"], check=True)


def hotset_header(path):
    with open(path, "rb") as f:
        h = f.read(64)
    blocks, _, body = struct.unpack_from("<QQQ", h, 32)
    return blocks, os.path.getsize(path)


# ------------------------------------------------------------------ restart
class Restart:
    def __init__(self, bins, d, disk):
        self.bins, self.d, self.disk = bins, d, disk
        self.sock = os.path.join(d, "nbd-restart.sock")
        self.uri = "nbd+unix:///disk?socket=%s" % self.sock
        self.n = 0

    def daemon(self, hotset=None, cache="128M"):
        self.n += 1
        hc = "driver=hypercache,node-name=hc0,file=f0,size=%s" % cache
        if hotset:
            hc += ",hotset-file=%s" % hotset
        argv = [self.bins["QSD"],
                "--blockdev", "driver=file,node-name=f0,filename=%s,"
                "cache.direct=on,aio=io_uring" % self.disk,
                "--blockdev", hc,
                "--nbd-server", "addr.type=unix,addr.path=%s" % self.sock,
                "--export", "type=nbd,id=e0,node-name=hc0,name=disk,"
                "writable=on"]
        return Proc(argv, self.d, "restart-%d" % self.n)

    def reads(self, fio_opts, n, seed):
        out = os.path.join(self.d, "fio-restart.json")
        return fio(self.uri, fio_opts + [
            "--iodepth=16", "--io_size=1000G", "--number_ios=%d" % n,
            "--randseed=%d" % seed], out)

    def run(self, name, fio_opts, warmup):
        hot = os.path.join(self.d, "restart.hotset")
        keep = hot + ".saved"
        for f in (hot, keep):
            if os.path.exists(f):
                os.unlink(f)
        res = {}
        # Never stopped: warm up, then the measured reads.  The restart
        # happens where the measured reads start: the hot set is saved
        # (x-hypercache-save-hotset) after the warm-up, not at the close
        # after the measured reads, which would list exactly the blocks
        # those reads brought in and flatter every warm figure below.
        q = self.daemon(hot)
        self.reads(fio_opts, warmup, 1)
        res["cached_at_stop"] = q.hc()["stats"]["cached-blocks"]
        q.cmd("x-hypercache-save-hotset", {"node-name": "hc0",
                                           "filename": keep})
        st0 = q.hc()["stats"]
        self.reads(fio_opts, WINDOW, 2)
        res["never"], n = hit_ratio(st0, q.hc()["stats"])
        q.quit()
        res["hotset_blocks"], res["hotset_bytes"] = hotset_header(keep)
        shutil.copy(keep, hot)

        # Warm, the reads at once while the load runs.
        t0 = time.monotonic()
        q = self.daemon(hot)
        st0 = q.hc()["stats"]
        job = self.reads(fio_opts, WINDOW, 2)
        res["warm"], _ = hit_ratio(st0, q.hc()["stats"])
        res["warm_reads_s"] = job["read"]["runtime"] / 1000.0
        load = q.hc().get("hotset-load", {})
        res["warm_load_after_reads"] = load
        wait_for("load done", lambda: q.hc().get("hotset-load", {}).get(
            "status") == "done", 300)
        res["load_s"] = time.monotonic() - t0
        q.quit()

        # Warm, after the load finished.
        shutil.copy(keep, hot)
        q = self.daemon(hot)
        load = wait_for("load done", lambda: (lambda l: l if l.get(
            "status") == "done" else None)(q.hc().get("hotset-load", {})),
            300)
        res["loaded"] = load["loaded"]
        st0 = q.hc()["stats"]
        self.reads(fio_opts, WINDOW, 2)
        res["warm_loaded"], _ = hit_ratio(st0, q.hc()["stats"])
        q.quit()

        # Cold.
        q = self.daemon(None)
        st0 = q.hc()["stats"]
        self.reads(fio_opts, WINDOW, 2)
        res["cold"], _ = hit_ratio(st0, q.hc()["stats"])
        q.quit()
        log("restart %s: first %d reads: never %.4f warm %.4f (loaded "
            "%.4f) cold %.4f; hot set %d blocks, %d bytes (%.2f B/block); "
            "load %.2f s" % (name, WINDOW, res["never"], res["warm"],
                             res["warm_loaded"], res["cold"],
                             res["hotset_blocks"], res["hotset_bytes"],
                             res["hotset_bytes"] / max(res["hotset_blocks"], 1),
                             res["load_s"]))
        return res


# ------------------------------------------------------------------ migrate
class Migrate:
    def __init__(self, bins, d, disk):
        self.bins, self.d, self.disk = bins, d, disk
        self.shared = os.path.join(d, "nbd-shared.sock")
        self.n = 0

    def storage(self):
        return Proc([self.bins["QSD"],
                     "--blockdev", "driver=file,node-name=f0,filename=%s,"
                     "cache.direct=on,aio=io_uring" % self.disk,
                     "--nbd-server", "addr.type=unix,addr.path=%s"
                     % self.shared,
                     "--export", "type=nbd,id=e0,node-name=f0,name=disk,"
                     "writable=on"], self.d, "shared")

    def vm(self, hotset, incoming=None):
        self.n += 1
        hc = "driver=hypercache,node-name=hc0,file=nbd0,size=128M"
        if hotset:
            hc += ",hotset-file=%s" % hotset
        argv = [self.bins["QEMU_SYSTEM"], "-nodefaults", "-display", "none",
                "-accel", "qtest", "-m", "64M",
                "-blockdev", "driver=nbd,node-name=nbd0,export=disk,"
                "server.type=unix,server.path=%s" % self.shared,
                "-blockdev", hc,
                "-device", "virtio-blk-pci,drive=hc0,id=dev"]
        if incoming:
            argv += ["-incoming", "unix:%s" % incoming]
        return Proc(argv, self.d, "vm-%d" % self.n)

    def export(self, vm, tag):
        sock = os.path.join(self.d, "nbd-%s.sock" % tag)
        if os.path.exists(sock):
            os.unlink(sock)
        vm.cmd("nbd-server-start", {"addr": {"type": "unix",
                                             "data": {"path": sock}}})
        vm.cmd("block-export-add", {"id": "x0", "type": "nbd",
                                    "node-name": "hc0", "name": "disk",
                                    "writable": False})
        return "nbd+unix:///disk?socket=%s" % sock

    def unexport(self, vm):
        vm.cmd("block-export-del", {"id": "x0"})
        wait_for("export gone", lambda: not vm.cmd("query-block-exports"),
                 60)
        vm.cmd("nbd-server-stop")

    def timed(self, vm, uri, secs, seed, tag):
        """fio for @secs seconds; hit ratio per second from QMP."""
        out = os.path.join(self.d, "fio-%s.json" % tag)
        st = [vm.hc()["stats"]]
        done = {}

        def run():
            done["job"] = fio(uri, ["--iodepth=16", "--size=1G",
                                    "--random_distribution=zipf:0.9",
                                    "--time_based", "--runtime=%d" % secs,
                                    "--randseed=%d" % seed], out)
        t = threading.Thread(target=run)
        t.start()
        t0 = time.monotonic()
        for i in range(1, secs + 1):
            time.sleep(max(0, t0 + i - time.monotonic()))
            st.append(vm.hc()["stats"])
        t.join()
        per_s = [hit_ratio(st[i - 1], st[i])[0] for i in range(1, len(st))]
        total = hit_ratio(st[0], st[-1])[0]
        return per_s, total, st[-1]

    def run(self, warm, secs=10):
        hot = os.path.join(self.d, "migrate.hotset")
        if os.path.exists(hot):
            os.unlink(hot)
        mig = os.path.join(self.d, "mig.sock")
        if os.path.exists(mig):
            os.unlink(mig)
        shared = self.storage()
        src = self.vm(hot)
        dst = self.vm(hot if warm else None, incoming=mig)
        try:
            uri = self.export(src, "src")
            fio(uri, ["--iodepth=16", "--size=1G",
                      "--random_distribution=zipf:0.9", "--io_size=1000G",
                      "--number_ios=200000", "--randseed=1"],
                os.path.join(self.d, "fio-warmup.json"))
            src_s, src_total, _ = self.timed(src, uri, secs, 2, "src")
            self.unexport(src)
            for vm in (src, dst):
                vm.cmd("migrate-set-capabilities", {"capabilities": [
                    {"capability": "events", "state": True}]})
            t0 = time.monotonic()
            src.cmd("migrate", {"uri": "unix:%s" % mig})
            wait_for("migration", lambda: src.cmd("query-migrate").get(
                "status") in ("completed", "failed"), 120)
            if src.cmd("query-migrate")["status"] != "completed":
                raise RuntimeError("migration failed")
            wait_for("destination running", lambda: dst.cmd(
                "query-status")["status"] == "running", 60)
            mig_s = time.monotonic() - t0
            uri = self.export(dst, "dst")
            dst_s, dst_total, _ = self.timed(dst, uri, secs, 3, "dst")
            load = dst.hc().get("hotset-load")
        finally:
            for p in (src, dst, shared):
                try:
                    p.quit()
                except Exception:  # noqa: BLE001
                    pass
        name = "warm" if warm else "cold"
        log("migrate %s: source %.4f, destination per second %s (all %.4f); "
            "migration %.1f s; load %s" % (
                name, src_total, " ".join("%.3f" % x for x in dst_s),
                dst_total, mig_s, load))
        return {"source": src_total, "source_per_s": src_s,
                "dest_per_s": dst_s, "dest": dst_total, "load": load,
                "migration_s": mig_s}


# ------------------------------------------------------------------ iops
def crc32c(data):
    crc = 0xffffffff
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
        table.append(c)
    for b in data:
        crc = table[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc ^ 0xffffffff


def write_hotset(path, blocks, identity, image_size):
    """The file format of block/hypercache/hotset.h."""
    def varint(v):
        out = bytearray()
        while v >= 0x80:
            out.append((v & 0x7f) | 0x80)
            v >>= 7
        out.append(v)
        return bytes(out)
    body, runs, prev, i = bytearray(), 0, 0, 0
    while i < len(blocks):
        n = 1
        while i + n < len(blocks) and blocks[i + n] == blocks[i] + n:
            n += 1
        d = blocks[i] - prev
        body += varint(d << 1 if d >= 0 else ((-d) << 1) - 1) + varint(n - 1)
        prev, runs, i = blocks[i] + n, runs + 1, i + n
    ident = identity.encode()
    head = b"HCHOTSET" + struct.pack("<IIII", 1, 64 + len(ident), BS,
                                     len(ident))
    head += struct.pack("<QQQQ", image_size, len(blocks), runs, len(body))
    data = bytearray(head + bytes(8) + ident + body)
    struct.pack_into("<I", data, 56, crc32c(data))
    with open(path, "wb") as f:
        f.write(data)


def iops(bins, d, disk, disk_size, reps, shape, secs=8, load_at=1):
    """Guest IOPS per second from fio's log; the load (if any) is started
    @load_at seconds into the run, when the guest is busy, and seconds
    load_at + 1 .. secs - 1 are compared, each repetition's pair in turn
    (the ratio per repetition, then the median: the machine is shared)."""
    hot_bytes = 3 * GiB
    hot = os.path.join(d, "iops-%s.hotset" % shape)
    blocks = list(range(hot_bytes // BS))
    if shape == "scattered":
        # The first 3 GiB, hottest first in no order: batches of 1024
        # blocks at first, single-block reads, many of them.
        random.Random(5).shuffle(blocks)
    # "dense": in order, 256 KiB reads from the start.
    write_hotset(hot, blocks, disk, disk_size)
    sock = os.path.join(d, "nbd-iops.sock")
    uri = "nbd+unix:///disk?socket=%s" % sock
    out = {"no_load": [], "load": [], "ratios": [], "loads": []}
    for rep in range(reps):
        pair = {}
        for with_load in (False, True):
            q = Proc([bins["QSD"],
                      "--blockdev", "driver=file,node-name=f0,filename=%s,"
                      "cache.direct=on,aio=io_uring" % disk,
                      "--blockdev", "driver=hypercache,node-name=hc0,"
                      "file=f0,size=3G",
                      "--nbd-server", "addr.type=unix,addr.path=%s" % sock,
                      "--export", "type=nbd,id=e0,node-name=hc0,name=disk,"
                      "writable=on"], d, "iops")
            logp = os.path.join(d, "iops-log")
            for f in os.listdir(d):
                if f.startswith("iops-log"):
                    os.unlink(os.path.join(d, f))
            job = {}

            def run():
                job["j"] = fio(uri, [
                    "--iodepth=16", "--offset=%d" % hot_bytes, "--size=1G",
                    "--time_based", "--runtime=%d" % secs,
                    "--randseed=%d" % (rep + 7),
                    "--write_iops_log=" + logp, "--log_avg_msec=1000"],
                    os.path.join(d, "fio-iops.json"))
            t = threading.Thread(target=run)
            try:
                t.start()
                # The guest's first requests, then the load.
                wait_for("guest reads", lambda: q.hc()["stats"][
                    "read-requests"] > 0, 60, 0.01)
                time.sleep(load_at)
                if with_load:
                    q.cmd("x-hypercache-load-hotset",
                          {"node-name": "hc0", "filename": hot})
                t.join()
                load = q.hc().get("hotset-load")
            finally:
                q.quit()
            per_s = []
            with open(logp + "_iops.1.log") as f:
                for line in f:
                    ms, v = line.split(",")[:2]
                    per_s.append((int(ms), int(v)))
            # fio's clock starts a little before the guest's first read.
            window = [v for ms, v in per_s
                      if (load_at + 1) * 1000 < ms <= (secs - 1) * 1000]
            v = statistics.mean(window)
            pair[with_load] = v
            out["load" if with_load else "no_load"].append(v)
            if with_load:
                out["loads"].append(load)
            log("iops %s rep %d %s: %.0f IOPS%s" % (
                shape, rep + 1, "with load" if with_load else "no load", v,
                " (load: %s)" % load if load else ""))
        out["ratios"].append(pair[True] / pair[False])
    r = statistics.median(out["ratios"])
    out["ratio"] = r
    out["hotset_blocks"], out["hotset_bytes"] = hotset_header(hot)
    log("iops %s: median of the ratios %.3fx (median IOPS %.0f with a load, "
        "%.0f without)" % (shape, r, statistics.median(out["load"]),
                           statistics.median(out["no_load"])))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(TOP, "docs", "bench",
                                                  "hotset.json"))
    ap.add_argument("--only", default="restart,migrate,iops")
    ap.add_argument("--iops-reps", type=int, default=7,
                    help="repetitions of the IOPS comparison (noisy)")
    a = ap.parse_args()
    only = a.only.split(",")
    bins = env_bins()
    d = os.path.join(os.environ.get("HC_BENCH_DIR",
                                    "/var/tmp/hypercache-bench"), "hotset")
    os.makedirs(d, exist_ok=True)
    disk = os.path.join(d, "disk.raw")
    disk_size = 4 * GiB
    make_disk(disk, disk_size)
    res = {"reps": a.reps, "window": WINDOW,
           "host": os.uname().release, "cpus": os.cpu_count()}
    if "restart" in only:
        r = Restart(bins, d, disk)
        for name, opts, warmup in (
                ("uniform-96M", ["--offset=0", "--size=96M"], 100000),
                ("zipf0.9-1G", ["--size=1G",
                                "--random_distribution=zipf:0.9"], 200000)):
            res.setdefault("restart", {})[name] = [
                r.run(name, opts, warmup) for _ in range(a.reps)]
    if "migrate" in only:
        m = Migrate(bins, d, disk)
        res["migrate"] = {"warm": [], "cold": []}
        for _ in range(a.reps):
            for warm in (True, False):
                res["migrate"]["warm" if warm else "cold"].append(m.run(warm))
    if "iops" in only:
        res["iops"] = {shape: iops(bins, d, disk, disk_size,
                                   max(a.reps, a.iops_reps), shape)
                       for shape in ("scattered", "dense")}
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    log("results in %s" % a.out)


if __name__ == "__main__":
    main()
