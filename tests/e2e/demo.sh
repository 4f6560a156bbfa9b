#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
#
# demo.sh: the README's demo.  Boots a small Linux guest under TCG on a 1 GiB
# raw disk and runs fio in it (4 KiB zipf random reads, then a 70/30 random
# read/write mix) twice, with the same guest, image and jobs: first on the
# plain disk (cache=none, i.e. cache.direct=on, the baseline), then behind a
# 256 MiB hypercache node.  Prints both runs' IOPS and latencies side by
# side with the ratio hypercache / baseline, then QEMU's own block
# statistics and hypercache's over QMP.
#
#   tests/e2e/demo.sh                       baseline, then hypercache
#   HC_DEMO_BASELINE=0 tests/e2e/demo.sh    hypercache only
#   HC_DEMO_DRIVER=none tests/e2e/demo.sh   the plain disk only
#
# Also: HC_DEMO_CACHE_SIZE (256M), HC_DEMO_READ_S (8), HC_DEMO_RW_S (5),
# HC_DEMO_IMAGE (default $HC_CACHE/demo/disk-1G.raw), and lib.sh's knobs.
# Guest figures under TCG are bounded by the emulated CPU and vary from run
# to run: they show relative effects, not what the host's storage can do.
set -euo pipefail

HC_LOG_TAG=demo
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CACHE_SIZE=${HC_DEMO_CACHE_SIZE:-256M}
READ_S=${HC_DEMO_READ_S:-8}
RW_S=${HC_DEMO_RW_S:-5}
BASELINE=${HC_DEMO_BASELINE:-1}
IMAGE=${HC_DEMO_IMAGE:-$HC_CACHE/demo/disk-1G.raw}

hc_init
hc_require QEMU_IMG QEMU_IO
if ! hc_check_driver; then
    hc_die "this QEMU ($QEMU_SYSTEM) has no '$HC_DRIVER' block driver yet;
  rebuild with ./configure-qemu.sh build, or run the guest on the plain disk:
  HC_DEMO_DRIVER=none $0"
fi

hc_log "guest: $HC_GUEST_DIR"
hc_build_guest

# A fully written image, so reads reach the host's storage instead of being
# answered from holes; kept in the cache folder and reused by later runs.
if [ "$(stat -c %s "$IMAGE" 2>/dev/null || echo 0)" != 1073741824 ]; then
    hc_log "creating 1 GiB raw image $IMAGE"
    mkdir -p "$(dirname "$IMAGE")"
    "$QEMU_IMG" create -q -f raw -o preallocation=full "$IMAGE.tmp" 1G
    mv "$IMAGE.tmp" "$IMAGE"
else
    hc_log "reusing 1 GiB raw image $IMAGE"
fi
# The runs, in order: NAME DRIVER.  The baseline goes first, so both runs
# start with a cold cache of their own and the same image.
RUNS=()
if [ "$HC_DRIVER" = none ]; then
    RUNS=("baseline none")
else
    [ "$BASELINE" = 1 ] && RUNS+=("baseline none")
    RUNS+=("hypercache hypercache")
fi

# Guest side: fio JSON between FIO-JSON markers, parsed on the host.  One
# fio runs both jobs, one after the other (stonewall): its start costs
# seconds under TCG.
cat > "$HC_RUN_DIR/demo-guest.sh" <<EOF
dev=/dev/vda
[ -b \$dev ] || { echo "no \$dev in the guest"; exit 1; }
hc_progress "fio: 4 KiB randread ${READ_S} s, then randrw 70/30 ${RW_S} s; zipf:1.2, QD 32"
echo "FIO-JSON-BEGIN"
fio --filename=\$dev --direct=1 --ioengine=libaio --iodepth=32 --bs=4k \\
    --time_based --norandommap --randrepeat=0 --random_distribution=zipf:1.2 \\
    --output-format=json --eta=never \\
    --name=randread --rw=randread --runtime=${READ_S} \\
    --name=randrw-70-30 --stonewall --rw=randrw --rwmixread=70 --runtime=${RW_S} || exit 1
echo "FIO-JSON-END"
hc_progress "fio done; syncing and powering off"
EOF

# Runs after the guest powered off, while QEMU still holds the disk; $RUN
# names the run.
demo_stats() {
    local sock=$1 rc=0
    hc_log "$RUN: reading statistics over QMP"
    cut -d' ' -f1 /proc/loadavg > "$HC_RUN_DIR/$RUN.load"
    hc_qmp "$sock" --blockstats > "$HC_RUN_DIR/$RUN.blockstats" 2>&1 ||
        echo "(query-blockstats failed)" >> "$HC_RUN_DIR/$RUN.blockstats"
    [ "$HC_TOP_NODE" = disk0 ] && return 0
    hc_qmp "$sock" --hypercache "$HC_TOP_NODE" \
        > "$HC_RUN_DIR/$RUN.hcstats" 2> "$HC_RUN_DIR/$RUN.hcstats.err" || rc=$?
    case $rc in
    0) ;;
    3) echo "(x-hypercache-query: unavailable in this QEMU)" > "$HC_RUN_DIR/$RUN.hcstats" ;;
    *) { echo "(x-hypercache-query failed:)"; cat "$HC_RUN_DIR/$RUN.hcstats.err"; } > "$HC_RUN_DIR/$RUN.hcstats" ;;
    esac
}

names=()
for r in "${RUNS[@]}"; do
    read -r RUN drv <<< "$r"
    HC_DRIVER=$drv hc_disk_args "$IMAGE" "$CACHE_SIZE"
    if [ "$drv" = none ]; then
        hc_log "$RUN: virtio-blk -> file (cache=none: cache.direct=on, aio=$HC_AIO_USED)"
    else
        hc_log "$RUN: virtio-blk -> hypercache ($CACHE_SIZE) -> file (cache.direct=on, aio=$HC_AIO_USED)"
    fi
    rc=0
    HC_BOOT_HOOK=demo_stats hc_boot "$RUN" "$HC_RUN_DIR/demo-guest.sh" "${HC_DISK_ARGS[@]}" || rc=$?
    if [ "$rc" != 0 ]; then
        cat "$HC_RUN_DIR/$RUN.out" >&2 || true
        hc_die "$RUN: guest run failed (rc $rc)"
    fi
    names+=("$RUN")
done

# --- summary ---------------------------------------------------------------
echo
echo "=== hypercache demo: fio 4 KiB, QD 32, zipf:1.2, in a TCG guest on a 1 GiB raw image (aio=$HC_AIO_USED) ==="
for n in "${names[@]}"; do
    case $n in
    baseline) echo "  baseline:   virtio-blk -> file, cache=none (cache.direct=on)" ;;
    hypercache) echo "  hypercache: virtio-blk -> hypercache ($CACHE_SIZE, write-back) -> the same file node" ;;
    esac
done
echo
args=()
for n in "${names[@]}"; do args+=("$n" "$HC_RUN_DIR/$n.out"); done
python3 - "${args[@]}" <<'PY'
import json, sys

def fio_jobs(path):
    """{job name: fio's JSON} from between the FIO-JSON markers of a run."""
    text = open(path).read()
    raw = text[text.index("FIO-JSON-BEGIN"):text.index("FIO-JSON-END")]
    return {j["jobname"]: j for j in json.loads(raw[raw.index("{"):])["jobs"]}

runs = [(n, fio_jobs(p)) for n, p in zip(sys.argv[1::2], sys.argv[2::2])]
names = [n for n, _ in runs]
both = names == ["baseline", "hypercache"]
w = 11
cols = ["IOPS"] + (["ratio"] if both else []) + ["avg lat us", "p99 lat us"]
hdr = "%-13s %-5s" % ("job", "dir")
sub = "%-13s %-5s" % ("", "")
for c in cols:
    if c == "ratio":
        hdr += " %7s" % "ratio"
        sub += " %7s" % "hc/base"
        continue
    hdr += " " + c.center(w * len(names) + len(names) - 1, "-")
    sub += "".join(" %*s" % (w, n) for n in names)
print(hdr)
print(sub)
for job in runs[0][1]:
    for d in ("read", "write"):
        per = [r[job][d] if job in r and r[job][d].get("total_ios") else None for _, r in runs]
        if all(s is None for s in per):
            continue
        def col(f):
            return "".join(" %*s" % (w, "-" if s is None else f(s)) for s in per)
        line = "%-13s %-5s" % (job, d)
        line += col(lambda s: "%.0f" % s["iops"])
        if both:
            b, h = per
            line += " %7s" % ("%.2fx" % (h["iops"] / b["iops"]) if b and h and b["iops"] else "-")
        line += col(lambda s: "%.0f" % (s.get("lat_ns", {}).get("mean", 0) / 1000))
        line += col(lambda s: "%.0f" % (s.get("clat_ns", {}).get("percentile", {}).get("99.000000", 0) / 1000))
        print(line)
print("(under TCG the guest's emulated CPU bounds these figures; they vary"
      " from run to run\n and with the host's load" +
      (": compare the two columns, not figures across machines)" if both
       else ")"))
PY
# The guest's boot does the same work in every run: its time is a yardstick
# of how busy the host was, and a run on a busier host is slower whatever
# its disk.
yard=() boots=()
for n in "${names[@]}"; do
    b=$(tr -d '\r' < "$HC_RUN_DIR/$n.serial" | sed -n 's/^HC-INIT: up \([0-9.]*\)s.*/\1/p' | head -n 1)
    boots+=("${b:-0}")
    yard+=("$n: guest boot ${b:-?} s, host load $(cat "$HC_RUN_DIR/$n.load" 2>/dev/null || echo ?)")
done
printf "yardstick of the host's load:"
printf ' %s;' "${yard[@]}" | sed 's/;$//'
echo
if [ ${#boots[@]} = 2 ] && awk -v a="${boots[0]}" -v b="${boots[1]}" \
    'BEGIN { exit !(a > 0 && b > 0 && (a / b > 1.25 || b / a > 1.25)) }'; then
    echo "note: the guest booted more than 25% slower in one run than in the other: the"
    echo "      host was busier then, which skews the ratio; rerun on an idle machine"
fi
for n in "${names[@]}"; do
    echo
    echo "--- $n: QEMU query-blockstats (host side, after the guest powered off) ---"
    cat "$HC_RUN_DIR/$n.blockstats"
done
if [ -f "$HC_RUN_DIR/hypercache.hcstats" ]; then
    echo
    echo "--- hypercache statistics (x-hypercache-query) ---"
    cat "$HC_RUN_DIR/hypercache.hcstats"
fi
echo
hc_log "done in $((SECONDS - HC_T0))s"
