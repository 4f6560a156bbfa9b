#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Minimal QMP client for the e2e scripts (stdlib only, no QEMU python tree).

  qmp.py SOCKET COMMAND [ARGS_JSON]   print the command's "return" as JSON
  qmp.py SOCKET --blockstats          print query-blockstats as a table
  qmp.py SOCKET --status              print the run state (running, shutdown...)
  qmp.py SOCKET --hypercache [NODE]   print x-hypercache-query compactly
  qmp.py SOCKET --wait-stat NODE STAT MIN TIMEOUT
                                      poll x-hypercache-query until NODE's
                                      statistic STAT is >= MIN; print its
                                      last value (5: not within TIMEOUT s)

Exit status: 0 ok, 2 QMP error, 3 CommandNotFound (so callers can tell a
missing command, e.g. x-hypercache-query on a QEMU without hypercache,
from a real failure), 4 cannot connect, 5 --wait-stat timed out.
"""
import json
import socket
import sys
import time


class QMPError(Exception):
    def __init__(self, err):
        super().__init__(f"{err.get('class')}: {err.get('desc')}")
        self.cls = err.get("class")


class QMP:
    # A loaded machine running TCG guests can take seconds to answer.
    def __init__(self, path, timeout=60.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self._recv()  # greeting
        self.cmd("qmp_capabilities")

    def _recv(self):
        # Events can arrive between replies; skip them.
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("QMP socket closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            if not line.strip():
                continue
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, name, args=None):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        reply = self._recv()
        if "error" in reply:
            raise QMPError(reply["error"])
        return reply.get("return")


def blockstats_table(q):
    """One row per device.  Node-level rows (query-nodes) would carry no
    counters: QEMU accounts I/O at the device's BlockBackend only."""
    out = ["%-8s %-8s %10s %10s %10s %10s %8s %10s" % (
        "device", "node", "rd_ops", "rd_MiB", "wr_ops", "wr_MiB",
        "flushes", "rd_avg_us")]
    for s in q.cmd("query-blockstats"):
        qdev = s.get("qdev") or ""
        # qdev is a QOM path such as /machine/peripheral/vd0/virtio-backend;
        # the device id in it is what the user typed.
        parts = [p for p in qdev.split("/") if p]
        if len(parts) >= 3 and parts[1] == "peripheral":
            qdev = parts[2]
        st = s.get("stats", {})
        rd_ops = st.get("rd_operations", 0)
        rd_avg = (st.get("rd_total_time_ns", 0) / rd_ops / 1000) if rd_ops else 0
        out.append("%-8s %-8s %10d %10.1f %10d %10.1f %8d %10.1f" % (
            (s.get("device") or qdev or "?")[:8], s.get("node-name", "-"),
            rd_ops, st.get("rd_bytes", 0) / 2**20,
            st.get("wr_operations", 0), st.get("wr_bytes", 0) / 2**20,
            st.get("flush_operations", 0), rd_avg))
    return "\n".join(out)


def _fmt(v):
    if isinstance(v, float):
        return "%.4f" % v
    if isinstance(v, list) and all(isinstance(x, dict) for x in v):
        # A miss-ratio curve reads best as "cache size factor: hit ratio".
        if all({"size-factor", "hit-ratio"} <= set(x) for x in v):
            return "  ".join("%gx:%.4f" % (x["size-factor"], x["hit-ratio"]) for x in v)
        return " ".join(",".join("%s=%s" % (k, _fmt(x[k])) for k in sorted(x)) for x in v)
    return str(v)


def hypercache_table(ret):
    """x-hypercache-query in a few lines; unknown shapes are shown as JSON."""
    out = []
    for c in ret if isinstance(ret, list) else [ret]:
        cfg, st = c.get("config", {}), c.get("stats", {})
        out.append("node %s: %s" % (c.get("node-name", "?"), " ".join(
            "%s=%s" % (k, cfg[k]) for k in sorted(cfg))))
        # Scalars three to a line; anything longer (curves) on its own line.
        scalars = [(k, _fmt(v)) for k, v in sorted(st.items())
                   if not isinstance(v, (list, dict))]
        for i in range(0, len(scalars), 3):
            out.append("  " + "".join("%-20s %12s   " % kv for kv in scalars[i:i + 3]).rstrip())
        for k, v in sorted(st.items()):
            if isinstance(v, (list, dict)):
                out.append("  %s: %s" % (k, _fmt(v) if isinstance(v, list) else json.dumps(v)))
    return "\n".join(out)


def wait_stat(q, node, stat, minimum, timeout):
    """Poll NODE's STAT until it is >= MINIMUM: (reached, last value)."""
    deadline = time.monotonic() + timeout
    while True:
        val = q.cmd("x-hypercache-query", {"node-name": node})[0]["stats"][stat]
        if val >= minimum or time.monotonic() >= deadline:
            return val >= minimum, val
        time.sleep(0.1)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 1
    path, what = argv[1], argv[2]
    try:
        q = QMP(path)
    except (OSError, ConnectionError, ValueError) as e:
        print(f"qmp: cannot connect to {path}: {e}", file=sys.stderr)
        return 4
    try:
        if what == "--blockstats":
            print(blockstats_table(q))
        elif what == "--hypercache":
            ret = q.cmd("x-hypercache-query",
                        {"node-name": argv[3]} if len(argv) > 3 else None)
            try:
                print(hypercache_table(ret))
            except (AttributeError, TypeError, ValueError):
                print(json.dumps(ret, indent=2, sort_keys=True))
        elif what == "--wait-stat":
            node, stat, minimum, timeout = argv[3:7]
            ok, val = wait_stat(q, node, stat, int(minimum), float(timeout))
            print(val)
            if not ok:
                print(f"qmp: {node} {stat} stayed below {minimum} for "
                      f"{timeout} s (last {val})", file=sys.stderr)
                return 5
        elif what == "--status":
            print(q.cmd("query-status").get("status"))
        else:
            args = json.loads(argv[3]) if len(argv) > 3 else None
            print(json.dumps(q.cmd(what, args), indent=2, sort_keys=True))
    except QMPError as e:
        print(f"qmp: {what}: {e}", file=sys.stderr)
        return 3 if e.cls == "CommandNotFound" else 2
    except (OSError, ConnectionError, ValueError) as e:
        print(f"qmp: {what}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
