# SPDX-License-Identifier: GPL-2.0-or-later
"""W9 boot storm (issue 14): 8 clients read the same golden-image blocks at
once and write to their own overlays; the golden image sits on slow storage.

bench.py calls w9(env); tests/bench/run.sh --only W9 runs it alone.

Two qemu-storage-daemon processes:

  base server   golden raw file (O_DIRECT) -> throttle (throttle-group,
                W9_IOPS requests/s) -> read-only NBD export.  The export's
                BlockBackend counts every read that reaches the slow
                storage (query-blockstats rd_operations / rd_bytes), for
                every configuration alike.
  main daemon   (the one measured) base = nbd client of the base server;
                8 qcow2 overlays (extended_l2, so 4 KiB writes copy
                nothing from the base) backed by it; 8 writable NBD
                exports, one per client.

Configurations, the same total cache memory TOTAL:
  pool     hypercache-pool size=TOTAL; a hypercache node on the base and
           one under each overlay's qcow2 (on its file), all members of
           the pool: the deployment of docs/system/hypercache.rst
  per-vm   a hypercache node of TOTAL/8 on each overlay, nothing shared
  stock    no hypercache
  shared   one hypercache node of TOTAL on the base, none on the overlays

fio (nbd engine), one process: per client a read job (the boot set, the
first BOOT bytes of the image, every 4 KiB block once in a random order of
its own, seed fixed per client, QD 4) and a write job (W9_WRITE bytes of
4 KiB random writes at QD 1 into its own overlay, away from the boot set).
"""
import json
import os
import subprocess
import threading
import time

MiB = 1 << 20
B = None   # bench.py as run (its log, fail, QMP, proc_* helpers)

CFGS = ("pool", "per-vm", "stock", "shared")
PARAMS = {
    # boot set, total cache memory, base IOPS, writes per client, reps,
    # golden image size and where the clients write
    "full": dict(boot=48 * MiB, total=64 * MiB, iops=3000, write=1 * MiB,
                 reps=3, golden=1024 * MiB, write_off=896 * MiB),
    "quick": dict(boot=16 * MiB, total=24 * MiB, iops=3000, write=1 * MiB,
                  reps=3, golden=1024 * MiB, write_off=896 * MiB),
    "smoke": dict(boot=1 * MiB, total=2 * MiB, iops=3000, write=128 * 1024,
                  reps=1, golden=64 * MiB, write_off=48 * MiB),
}
CLIENTS = 8
QD = 4
BS = 4096


def params(profile):
    p = dict(PARAMS[profile])
    for k, env in (("boot", "W9_BOOT_MIB"), ("total", "W9_TOTAL_MIB"),
                   ("write", "W9_WRITE_MIB")):
        if os.environ.get(env):
            p[k] = int(float(os.environ[env]) * MiB)
    for k, env in (("iops", "W9_IOPS"), ("reps", "W9_REPS")):
        if os.environ.get(env):
            p[k] = int(os.environ[env])
    p["configs"] = [c for c in os.environ.get("W9_CONFIGS",
                                              ",".join(CFGS)).split(",") if c]
    p["clients"], p["qd"] = CLIENTS, QD
    return p


class Daemon:
    """A qemu-storage-daemon with any number of blockdevs, objects and NBD
    exports, one QMP monitor (and a second one for a sampler thread)."""
    def __init__(self, env, tag, objects, blockdevs, exports, writable,
                 monitors=1):
        d = env.dir
        self.sock = os.path.join(d, "nbd-%s.sock" % tag)
        self.qmp_paths = [os.path.join(d, "qmp-%s-%d.sock" % (tag, i))
                          for i in range(monitors)]
        for pth in [self.sock] + self.qmp_paths:
            if os.path.exists(pth):
                os.unlink(pth)
        argv = [env.qsd]
        for o in objects:
            argv += ["--object", o]
        for b in blockdevs:
            argv += ["--blockdev", b]
        argv += ["--nbd-server", "addr.type=unix,addr.path=%s" % self.sock]
        for i, (node, name) in enumerate(exports):
            argv += ["--export", "type=nbd,id=e%d,node-name=%s,name=%s,"
                     "writable=%s" % (i, node, name,
                                      "on" if writable else "off")]
        for i, pth in enumerate(self.qmp_paths):
            argv += ["--chardev", "socket,id=m%d,path=%s,server=on,wait=off"
                     % (i, pth), "--monitor", "chardev=m%d" % i]
        self.argv = argv
        self.errf = open(os.path.join(d, "qsd-%s.err" % tag), "w")
        self.p = subprocess.Popen(argv, stdout=self.errf, stderr=self.errf)
        self.qmp = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError("qemu-storage-daemon %s exited: %s" % (
                    tag, open(self.errf.name).read()[-800:]))
            if os.path.exists(self.qmp_paths[0]) and \
                    os.path.exists(self.sock):
                try:
                    self.qmp = B.QMP(self.qmp_paths[0], timeout=60)
                    break
                except OSError:
                    pass
            time.sleep(0.05)
        if not self.qmp:
            self.close()
            raise RuntimeError("qemu-storage-daemon %s did not come up" % tag)

    def uri(self, name):
        return "nbd+unix:///%s?socket=%s" % (name, self.sock)

    def close(self):
        B.quit_daemon(self.p, self.qmp, self.errf,
                      "W9: qemu-storage-daemon")


class Sampler(threading.Thread):
    """Samples every hypercache node's capacity-bytes (its pool share) and
    cached-blocks over its own QMP monitor, every @period s."""
    def __init__(self, path, period=0.25):
        super().__init__(daemon=True)
        self.q = B.QMP(path, timeout=30)
        self.period = period
        self.samples = []
        self.t0 = None
        self.halt = threading.Event()

    def run(self):
        self.t0 = time.monotonic()
        while not self.halt.is_set():
            try:
                r = self.q.cmd("x-hypercache-query")
            except Exception:  # noqa: BLE001
                break
            t = time.monotonic() - self.t0
            self.samples.append(dict(
                t=round(t, 3),
                cap={i["node-name"]: i["stats"]["capacity-bytes"] for i in r},
                cached={i["node-name"]: i["stats"]["cached-blocks"]
                        for i in r}))
            self.halt.wait(self.period)

    def stop(self):
        self.halt.set()
        self.join(timeout=10)
        return self.samples


def stack(cfg, base_sock, overlays, total, aio):
    """(objects, blockdevs, [(top node, export name)]) of the main daemon."""
    objs = []
    bds = ["driver=nbd,node-name=base,server.type=unix,server.path=%s,"
           "export=golden,read-only=on" % base_sock]
    backing = "base"
    if cfg == "pool":
        objs.append("hypercache-pool,id=p0,size=%d" % total)
        bds.append("driver=hypercache,node-name=hcbase,file=base,"
                   "read-only=on,pool=p0")
        backing = "hcbase"
    elif cfg == "shared":
        bds.append("driver=hypercache,node-name=hcbase,file=base,"
                   "read-only=on,size=%d" % total)
        backing = "hcbase"
    exports = []
    for i, ov in enumerate(overlays):
        bds.append("driver=file,node-name=ovf%d,filename=%s,cache.direct=on,"
                   "aio=%s" % (i, ov, aio))
        ovfile = "ovf%d" % i
        if cfg == "pool":
            # As docs/system/hypercache.rst deploys it: the VM's member
            # under its overlay, so that it holds what the VM wrote and
            # the overlay's metadata, and the golden blocks, read through
            # the backing link, are cached once, in hcbase.
            bds.append("driver=hypercache,node-name=hc%d,file=ovf%d,pool=p0"
                       % (i, i))
            ovfile = "hc%d" % i
        bds.append("driver=qcow2,node-name=ov%d,file=%s,backing=%s"
                   % (i, ovfile, backing))
        top = "ov%d" % i
        if cfg == "per-vm":
            bds.append("driver=hypercache,node-name=hc%d,file=ov%d,size=%d"
                       % (i, i, total // len(overlays)))
            top = "hc%d" % i
        exports.append((top, "vm%d" % i))
    return objs, bds, exports


def jobfile(path, uris, p):
    L = ["[global]", "ioengine=nbd", "bs=%d" % BS, "thread=0"]
    for i, uri in enumerate(uris):
        L += ["", "[read%d]" % i, "uri=%s" % uri, "rw=randread",
              "iodepth=%d" % p["qd"], "offset=0", "size=%d" % p["boot"],
              "randseed=%d" % (9000 + i)]
        if p["write"]:
            L += ["", "[write%d]" % i, "uri=%s" % uri, "rw=randwrite",
                  "iodepth=1", "offset=%d" % p["write_off"],
                  "size=%d" % p["write"], "randseed=%d" % (9100 + i)]
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def build_info(env):
    """When the measured binaries were built and from which hypercache
    sources (the QEMU tree links block/hypercache to a checkout)."""
    out = dict(qsd_mtime=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(
        os.path.getmtime(env.qsd))))
    tree = os.environ.get("QEMU_TREE")
    if tree and os.path.islink(os.path.join(tree, "block", "hypercache")):
        src = os.path.dirname(os.path.dirname(os.path.realpath(
            os.path.join(tree, "block", "hypercache"))))
        r = subprocess.run(["git", "-C", src, "log", "-1",
                            "--format=%h %cd", "--date=format:%H:%M"],
                           capture_output=True, text=True)
        d = subprocess.run(["git", "-C", src, "status", "--porcelain",
                            "--untracked-files=no", "--", "block"],
                           capture_output=True, text=True)
        out.update(src=src, src_head=r.stdout.strip(),
                   src_dirty=bool(d.stdout.strip()))
    return out


def condensed(argv, n):
    """The daemon's command line with the overlays after the first left
    out (they differ only in their number)."""
    import re
    other = re.compile(r"\b(ovf?|hc|vm|e)([1-9]\d*)\b")
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--blockdev", "--export"):
            continue
        if a.startswith("driver=") or a.startswith("type=nbd,id="):
            if other.search(a):
                continue
            out += ["--export" if a.startswith("type=") else "--blockdev", a]
            continue
        out.append(a)
    out.append("# + the same --blockdev/--export for overlays 1-%d" % (n - 1))
    return out


def proc_read_bytes(pid):
    """Bytes process @pid (all its threads, io_uring workers included) had
    read from block devices: /proc/PID/io read_bytes."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("read_bytes:"):
                return int(line.split()[1])
    raise RuntimeError("W9: no read_bytes in /proc/%d/io" % pid)


def start_base(env, golden, iops):
    return Daemon(env, "w9base", [
        "throttle-group,id=tg0,limits.iops-total=%d" % iops], [
        "driver=file,node-name=gf,filename=%s,cache.direct=on,aio=%s,"
        "read-only=on" % (golden, env.aio),
        "driver=throttle,node-name=gt,file=gf,throttle-group=tg0,"
        "read-only=on"], [("gt", "golden")], writable=False)


def one(env, p, cfg, golden, base, rep, trace):
    d = env.dir
    overlays = []
    for i in range(p["clients"]):
        ov = os.path.join(d, "w9-ov%d.qcow2" % i)
        subprocess.run([env.img, "create", "-q", "-f", "qcow2", "-o",
                        "extended_l2=on", "-b", golden, "-F", "raw", ov],
                       check=True)
        overlays.append(ov)
    main = None
    try:
        objs, bds, exports = stack(cfg, base.sock, overlays, p["total"],
                                   env.aio)
        main = Daemon(env, "w9", objs, bds, exports, writable=True,
                      monitors=2)
        if rep == 0:
            env.cmd_note("W9", condensed(main.argv, p["clients"]))
        jf = os.path.join(d, "w9.fio")
        jobfile(jf, [main.uri(n) for _, n in exports], p)
        if rep == 0:
            with open(jf) as f:
                env.info["W9"]["jobfile"] = f.read().replace(env.dir,
                                                             "$SCRATCH")
        out = os.path.join(d, "fio-w9.json")
        perf = B.PerfCount(base.p.pid, os.path.join(d, "perf-w9.txt"))
        b0 = proc_read_bytes(base.p.pid)
        c0 = B.proc_cpu(main.p.pid)
        smp = Sampler(main.qmp_paths[1]) if cfg != "stock" else None
        if smp:
            smp.start()
        t0 = time.monotonic()
        r = subprocess.run(["fio", "--output-format=json", "--output=" + out,
                            "--eta=never", jf], capture_output=True,
                           text=True, timeout=1200)
        wall = time.monotonic() - t0
        samples = smp.stop() if smp else []
        if r.returncode != 0:
            raise RuntimeError("fio failed: %s %s" % (r.stdout[-300:],
                                                      r.stderr[-300:]))
        ops, _ = perf.stop()
        nbytes = proc_read_bytes(base.p.pid) - b0
        c1 = B.proc_cpu(main.p.pid)
        hc = main.qmp.cmd("x-hypercache-query") if cfg != "stock" else []
        hwm = B.proc_hwm(main.p.pid)
    finally:
        if main:
            main.close()
    with open(out) as f:
        txt = f.read()
    jobs = json.loads(txt[txt.index("{"):])["jobs"]
    rj = [j for j in jobs if j["jobname"].startswith("read")]
    wj = [j for j in jobs if j["jobname"].startswith("write")]
    rbytes = sum(j["read"]["io_bytes"] for j in rj)
    rsecs = max(j["read"]["runtime"] for j in rj) / 1000.0
    distinct = p["boot"] // BS
    res = dict(read_mib_s=rbytes / rsecs / MiB, boot_s=rsecs,
               first_done_s=min(j["read"]["runtime"] for j in rj) / 1000.0,
               read_iops=rbytes / BS / rsecs,
               write_iops=sum(j["write"]["iops"] for j in wj),
               base_reads=ops, base_read_blocks=nbytes / BS,
               base_x_distinct=nbytes / BS / distinct,
               rss_kib=hwm, qsd_cpu=c1 - c0, wall=wall)
    if hc:
        st = {i["node-name"]: i["stats"] for i in hc}
        res.update(metadata_bytes=sum(s["metadata-bytes"]
                                      for s in st.values()),
                   capacity_bytes=sum(s["capacity-bytes"]
                                      for s in st.values()),
                   cached_blocks=sum(s["cached-blocks"]
                                     for s in st.values()))
        if "hcbase" in st:
            res["base_hit_ratio"] = st["hcbase"]["hit-ratio"]
        ovs = [s for n, s in st.items() if n != "hcbase"]
        if ovs:
            hb = sum(s["hit-blocks"] for s in ovs)
            mb = sum(s["miss-blocks"] for s in ovs)
            res["overlay_hit_ratio"] = hb / (hb + mb) if hb + mb else 0
        if cfg == "pool":
            res["final_shares"] = {n: s["capacity-bytes"]
                                   for n, s in st.items()}
    if cfg == "pool" and samples and "hcbase" in samples[0]["cap"]:
        # When the pool first moved memory to or from the base's member.
        c0 = samples[0]["cap"]["hcbase"]
        res["first_shift_s"] = next((s["t"] for s in samples
                                     if s["cap"]["hcbase"] != c0), None)
    env.add("W9", cfg, **{k: v for k, v in res.items()
                          if k != "final_shares"})
    if cfg == "pool" and samples:
        trace.append(dict(rep=rep, samples=samples,
                          final=res.get("final_shares"),
                          boot_s=rsecs))
    B.log("W9 rep %d/%d %-7s %7.1f MiB/s read (%6.0f IOPS), last VM done "
        "%.1f s, base reads %.2fx distinct (%d ops), RSS %d MiB" %
        (rep + 1, p["reps"], cfg, res["read_mib_s"], res["read_iops"],
         rsecs, res["base_x_distinct"], ops or -1, hwm // 1024))
    return res


def w9(env, bench_module):
    global B
    B = bench_module
    p = params(env.args.profile)
    golden = env.image("w9golden", p["golden"])
    env.info["W9"] = dict(p, bs=BS, build=build_info(env),
                          start=time.strftime("%Y-%m-%d %H:%M:%S"),
                          distinct=p["boot"] // BS, traces=[])
    trace = env.info["W9"]["traces"]
    B.log("W9 boot storm: %d clients x %d MiB boot set (%d blocks, QD %d) + "
        "%d KiB writes each, base throttled to %d IOPS, total cache %d MiB, "
        "configs %s, %d reps" % (p["clients"], p["boot"] // MiB,
                                 p["boot"] // BS, p["qd"],
                                 p["write"] // 1024, p["iops"],
                                 p["total"] // MiB, ",".join(p["configs"]),
                                 p["reps"]))
    # One base server (the slow storage) for the whole workload; every
    # run counts its own reads of it.
    base = start_base(env, golden, p["iops"])
    env.cmd_note("W9", base.argv)
    try:
        for rep in range(p["reps"]):
            w9_rep(env, p, golden, base, rep, trace)
    finally:
        base.close()
    # The pool traces, the repetition with the median boot time first
    # (the one the plot shows).
    if trace:
        trace.sort(key=lambda t: t["boot_s"])
        mid = trace[len(trace) // 2]
        env.info["W9"]["traces"] = [mid] + [t for t in trace if t is not mid]


def w9_rep(env, p, golden, base, rep, trace):
    # Alternate the order too, so that no configuration always runs right
    # after the same one.
    order = p["configs"] if rep % 2 == 0 else p["configs"][::-1]
    for cfg in order:
        try:
            one(env, p, cfg, golden, base, rep, trace)
        except Exception as e:  # noqa: BLE001
            B.fail("W9 %s: %s" % (cfg, e))
