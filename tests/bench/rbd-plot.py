#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""rbd-plot.py RESULTS.json OUT.png: the rbd benchmark's medians, drawn."""
import json
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"rbd": "#999999", "rbd_cache": "#4a7bb7", "hc": "#d9652b"}
LABELS = {"rbd": "rbd alone (librbd cache off)",
          "rbd_cache": "rbd + librbd cache (128 MiB, write-back)",
          "hc": "hypercache over rbd (librbd cache off)"}


def main():
    s = json.load(open(sys.argv[1]))["summary"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    wls = ["hot", "zipf", "uniform"]
    for i, cfg in enumerate(("rbd", "rbd_cache", "hc")):
        xs = [w + (i - 1) * 0.27 for w in range(len(wls))]
        ys = [s[wl].get(cfg) or 0 for wl in wls]
        ax1.bar(xs, ys, 0.27, color=COLORS[cfg], label=LABELS[cfg])
    ax1.set_xticks(range(len(wls)))
    ax1.set_xticklabels(["hot re-read\n64 MiB set", "zipf(1.2)\n256 MiB",
                         "uniform\n256 MiB"])
    ax1.set_ylabel("4 KiB reads per second (median)")
    ax1.set_yscale("log")
    ax1.legend(fontsize=7)
    seq = s["seqw"]
    cfgs = ["rbd", "rbd-cache", "hc"]
    keys = ["rbd", "rbd_cache", "hc"]
    ax2.bar(range(3), [seq[c]["secs"] for c in cfgs],
            color=[COLORS[k] for k in keys])
    for i, c in enumerate(cfgs):
        ax2.text(i, seq[c]["secs"], "%d OSD writes" % seq[c]["osd"],
                 ha="center", va="bottom", fontsize=8)
    ax2.set_xticks(range(3))
    ax2.set_xticklabels(["rbd alone", "rbd + librbd\ncache", "hypercache"])
    ax2.set_ylabel("seconds (median)")
    ax2.set_title("4096 sequential 4 KiB writes + flush", fontsize=9)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=90)


if __name__ == "__main__":
    main()
