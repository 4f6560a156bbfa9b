// SPDX-License-Identifier: GPL-2.0-or-later
#include "plot.h"

#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>

#include "report.h"

namespace hcsim {

namespace {

// Run as `python3 - DATA.json OUT.png`; kept here so the binary needs no
// support files at run time.
const char kScript[] = R"PY(
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

data = json.load(open(sys.argv[1]))["reports"]
fig, axes = plt.subplots(1, len(data), figsize=(6.5 * len(data), 4.8),
                         squeeze=False)
for ax, rep in zip(axes[0], data):
    ws = rep["working_set_blocks"] or 1
    curve = rep["lru_curve"]
    if curve:
        ax.plot([b / ws for b, _ in curve], [m for _, m in curve],
                color="0.6", label="LRU (exact)")
    pols = {}
    for run in rep["runs"]:
        if run["mode"] == "count":
            pols.setdefault(run["policy"], []).append(
                (run["size_blocks"] / ws, run["miss_ratio"]))
    for name, pts in sorted(pols.items()):
        pts.sort()
        ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o",
                label=name)
    est = [(p["size_blocks"] * p["factor"] / ws, 1 - p["estimate_hit_ratio"])
           for p in rep["mrc"] if p["estimate_hit_ratio"] is not None]
    if est:
        ax.scatter([x for x, _ in est], [y for _, y in est], marker="x",
                   color="black", label="SHARDS estimate (core)", zorder=5)
    ax.set_title(rep["trace"].split("/")[-1])
    ax.set_xlabel("cache size / working set (%d blocks of %d B)"
                  % (ws, rep["block_size"]))
    ax.set_ylabel("miss ratio")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
)PY";

// python3-matplotlib installs for the system interpreter, which a user's
// PATH (pyenv, venv) may hide; HYPERCACHE_PYTHON picks another.
std::string python() {
    if (const char *p = std::getenv("HYPERCACHE_PYTHON")) {
        return std::string("'") + p + "'";
    }
    if (access("/usr/bin/python3", X_OK) == 0) {
        return "/usr/bin/python3";
    }
    return "python3";
}

}  // namespace

bool write_plot(const std::vector<Report> &reports, const std::string &png,
                std::string *err) {
    char path[] = "/tmp/hypercache-sim-plot-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        *err = "--plot: cannot create a temporary file";
        return false;
    }
    std::FILE *f = fdopen(fd, "w");
    print_json(f, reports);
    std::fclose(f);

    std::string cmd = python() + " - '" + std::string(path) + "' '";
    for (char c : png) {
        // Single-quote the path for the shell.
        cmd += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    }
    cmd += "'";
    std::FILE *py = popen(cmd.c_str(), "w");
    if (!py) {
        unlink(path);
        *err = "--plot: cannot run python3";
        return false;
    }
    std::fputs(kScript, py);
    int st = pclose(py);
    unlink(path);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        *err = "--plot: python3 failed to draw " + png +
               " (is python3-matplotlib installed?)";
        return false;
    }
    return true;
}

}  // namespace hcsim
