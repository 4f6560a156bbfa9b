#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""hypercache over Ceph RBD against rbd alone, in one run (issue 15).

  rbd.py --conf CEPH_CONF --asok OSD_ASOK --pool POOL --dir DIR
         [--reps N] [--runtime S] [--out JSON]

Started by tests/bench/rbd.sh, which starts a one-OSD cluster on loopback.
Each configuration is a qemu-storage-daemon exporting its top node over
NBD to fio's nbd engine (4 KiB requests):

  rbd          the rbd node alone, cache.direct=on: librbd's cache off
  rbd-cache    the rbd node alone, cache.direct=off: librbd's cache on,
               128 MiB, write-back (rbd_cache_policy=writeback)
  hc           hypercache (writeback, admit-threshold=1) over the rbd node
               with cache.direct=on

Workloads, configurations interleaved within each repetition:
  hot      a 64 MiB image re-read in 4 KiB requests, QD 32, by qemu-img
           bench in one process (cache 128 MiB; NBD and fio would cap every
           configuration at a few ten thousand requests per second): two
           runs, one pass and one pass plus K requests; the hot rate is
           K / (difference of their times), so the first, cold pass and
           the open are not in it; median over the repetitions
  zipf     zipf(1.2) random reads over 256 MiB (cache 128 MiB, as librbd's)
  seqw     4 KiB sequential writes over 16 MiB, then one flush: wall time,
           and write ops the OSD executed (osd op_w from its perf counters)
  uniform  uniform random reads over 256 MiB (cache 16 MiB): no locality

Writes results (every repetition) as JSON; medians are in the summary.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from bench import QSD, fio  # noqa: E402

MiB = 1 << 20
DISK = 256 * MiB


class Env:
    """What bench.QSD and bench.fio need."""
    def __init__(self, qsd, d):
        self.qsd = qsd
        self.dir = d


def log(msg):
    print(msg, flush=True)


def osd_writes(asok):
    out = subprocess.run(["ceph", "--admin-daemon", asok, "perf", "dump"],
                         capture_output=True, text=True, check=True,
                         timeout=60).stdout
    return json.loads(out)["osd"]["op_w"]


def img_bench(qemu_img, opts, cache, count):
    argv = [qemu_img, "bench", "--image-opts", "-t", cache, "-c",
            str(count), "-d", "32", "-s", "4k", opts]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    for line in r.stdout.splitlines():
        if line.startswith("Run completed in"):
            return float(line.split()[3])
    raise RuntimeError("qemu-img bench failed: %s %s" % (r.stdout[-300:],
                                                        r.stderr[-300:]))


def hot(qemu_img, cfg, conf, wb_conf, pool):
    """(seconds for one pass, seconds for one pass + K requests, K)"""
    rbd = "pool=%s,image=hot,conf=" % pool
    if cfg == "rbd":
        opts, cache = "driver=rbd,cache.direct=on," + rbd + conf, "none"
    elif cfg == "rbd-cache":
        opts, cache = "driver=rbd,cache.direct=off," + rbd + wb_conf, \
            "writeback"
    else:
        opts = ("driver=hypercache,size=128M,admit-threshold=1,"
                "file.driver=rbd,file.cache.direct=on,file."
                + rbd.replace(",", ",file.") + conf)
        cache = "none"
    one = 64 * MiB // 4096
    # Several seconds of hot reads each, so that the cold pass's spread
    # (the OSD's) is small beside them.
    extra = {"rbd": 65536, "rbd-cache": 2 << 20, "hc": 8 << 20}[cfg]
    t1 = img_bench(qemu_img, opts, cache, one)
    t2 = img_bench(qemu_img, opts, cache, one + extra)
    return t1, t2, extra


def stack(cfg, conf, wb_conf, pool, image, cache):
    rbd = "driver=rbd,node-name=r0,pool=%s,image=%s," % (pool, image)
    if cfg == "rbd":
        return [rbd + "conf=%s,cache.direct=on" % conf], "r0"
    if cfg == "rbd-cache":
        return [rbd + "conf=%s,cache.direct=off" % wb_conf], "r0"
    return [rbd + "conf=%s,cache.direct=on" % conf,
            "driver=hypercache,node-name=hc0,file=r0,size=%s,"
            "admit-threshold=1" % cache], "hc0"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conf", required=True)
    ap.add_argument("--asok", required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--runtime", type=int, default=8)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    env = Env(os.environ["QSD"], a.dir)

    # librbd's cache as the anchor: as much memory as hypercache gets in
    # the hot test, in write-back mode (Ceph 16's default policy is
    # writearound, which acknowledges no write from memory).
    wb_conf = os.path.join(a.dir, "ceph-rbdcache.conf")
    shutil.copy(a.conf, wb_conf)
    with open(wb_conf, "a") as f:
        f.write("rbd_cache_policy = writeback\n"
                "rbd_cache_writethrough_until_flush = false\n"
                "rbd_cache_size = 134217728\n"
                "rbd_cache_max_dirty = 100663296\n"
                "rbd_cache_target_dirty = 67108864\n")

    def rbd(*args):
        # (stderr: rm's progress meter)
        subprocess.run(["rbd", "--conf", a.conf] + list(args), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # A written image (reads of objects never written would cost the OSD
    # nothing), and a fresh one per write run.
    rbd("create", "--size", "%dM" % (DISK // MiB), "%s/bench" % a.pool)
    log("filling %s/bench (%d MiB)" % (a.pool, DISK // MiB))
    rbd("bench", "--io-type", "write", "--io-size", "4M", "--io-pattern",
        "seq", "--io-total", str(DISK), "%s/bench" % a.pool)

    common = ["--time_based", "--runtime=%d" % a.runtime, "--iodepth=16",
              "--rw=randread", "--norandommap", "--randrepeat=0"]
    rbd("create", "--size", "64M", "%s/hot" % a.pool)
    rbd("bench", "--io-type", "write", "--io-size", "4M", "--io-pattern",
        "seq", "--io-total", str(64 * MiB), "%s/hot" % a.pool)
    reads = {
        "zipf": (["--size=%dM" % (DISK // MiB), "--ramp_time=3",
                  "--random_distribution=zipf:1.2"] + common, "128M"),
        "uniform": (["--size=%dM" % (DISK // MiB), "--ramp_time=2"]
                    + common, "16M"),
    }
    cfgs = ("rbd", "rbd-cache", "hc")
    res = []
    for rep in range(a.reps):
        for cfg in cfgs:
            t1, t2, k = hot(os.environ["QEMU_IMG"], cfg, a.conf, wb_conf,
                            a.pool)
            res.append(dict(wl="hot", cfg=cfg, rep=rep, t_cold=t1, t_all=t2,
                            hot_requests=k))
            log("hot      rep %d %-10s cold pass %.2f s, + %d hot requests "
                "%.2f s" % (rep + 1, cfg, t1, k, t2))
        for wl, (opts, cache) in reads.items():
            if wl == "uniform":
                run_cfgs = ("rbd", "hc")
            else:
                run_cfgs = cfgs
            for cfg in run_cfgs:
                bd, node = stack(cfg, a.conf, wb_conf, a.pool, "bench", cache)
                q = QSD(env, bd, node, "rbd")
                try:
                    _, j = fio(env, q.uri, opts, "rbd", timeout=600)
                    hc = q.hc()
                finally:
                    q.close()
                r = dict(wl=wl, cfg=cfg, rep=rep, iops=j["read"]["iops"])
                if hc and cfg == "hc":
                    r["hit_ratio"] = hc.get("hit-ratio")
                res.append(r)
                log("%-8s rep %d %-10s %9.0f IOPS%s" % (
                    wl, rep + 1, cfg, r["iops"],
                    " hit %.3f" % r["hit_ratio"] if "hit_ratio" in r else ""))
        for cfg in cfgs:
            img = "seqw-%d-%s" % (rep, cfg)
            rbd("create", "--size", "64M", "%s/%s" % (a.pool, img))
            bd, node = stack(cfg, a.conf, wb_conf, a.pool, img, "64M")
            q = QSD(env, bd, node, "rbd")
            try:
                w0 = osd_writes(a.asok)
                t0 = time.monotonic()
                _, j = fio(env, q.uri, ["--rw=write", "--size=16M",
                                        "--iodepth=1", "--end_fsync=1"],
                           "rbd", timeout=600)
                secs = time.monotonic() - t0
                w1 = osd_writes(a.asok)
            finally:
                q.close()
            rbd("rm", "%s/%s" % (a.pool, img))
            guest = j["write"]["total_ios"]
            r = dict(wl="seqw", cfg=cfg, rep=rep, secs=secs,
                     guest_writes=guest, osd_writes=w1 - w0)
            res.append(r)
            log("seqw     rep %d %-10s %6.2f s  %d guest writes, %d OSD "
                "writes (%.1fx fewer)" % (rep + 1, cfg, secs, guest, w1 - w0,
                                          guest / max(1, w1 - w0)))
    rbd("rm", "%s/bench" % a.pool)
    rbd("rm", "%s/hot" % a.pool)

    def med(wl, cfg, key):
        v = [r[key] for r in res if r["wl"] == wl and r["cfg"] == cfg
             and key in r]
        return statistics.median(v) if v else None

    # The hot rate of each repetition: K / (t_all - t_cold).
    for r in [r for r in res if r["wl"] == "hot"]:
        if r["t_all"] > r["t_cold"]:
            r["iops"] = r["hot_requests"] / (r["t_all"] - r["t_cold"])
    summary = {}
    for wl in ("hot", "zipf", "uniform"):
        hc = med(wl, "hc", "iops")
        summary[wl] = dict(hc=hc, rbd=med(wl, "rbd", "iops"),
                           rbd_cache=med(wl, "rbd-cache", "iops"),
                           hit_ratio=med(wl, "hc", "hit_ratio"))
        summary[wl]["x_rbd"] = hc / summary[wl]["rbd"]
        if summary[wl]["rbd_cache"]:
            summary[wl]["x_rbd_cache"] = hc / summary[wl]["rbd_cache"]
    summary["hot"]["method"] = ("qemu-img bench in-process, QD 32; median "
                                "over repetitions of K / (t(pass + K) - "
                                "t(pass))")
    summary["seqw"] = {cfg: dict(secs=med("seqw", cfg, "secs"),
                                 guest=med("seqw", cfg, "guest_writes"),
                                 osd=med("seqw", cfg, "osd_writes"))
                       for cfg in cfgs}
    for wl in ("hot", "zipf", "uniform"):
        s = summary[wl]
        log("%-8s hc %.0f IOPS = %.2fx rbd alone%s (hit ratio %s)" % (
            wl, s["hc"], s["x_rbd"],
            ", %.2fx rbd+librbd cache" % s["x_rbd_cache"]
            if "x_rbd_cache" in s else "", s["hit_ratio"]))
    for cfg in cfgs:
        s = summary["seqw"][cfg]
        log("seqw     %-10s %.2f s, %d guest writes -> %d OSD writes" % (
            cfg, s["secs"], s["guest"], s["osd"]))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(dict(runs=res, summary=summary, reps=a.reps,
                           runtime=a.runtime), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
