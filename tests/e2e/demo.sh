#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
#
# demo.sh: the README's demo.  Boots a small Linux guest under TCG on a 1 GiB
# raw disk behind a 256 MiB hypercache node, runs fio in the guest (4 KiB
# zipf random reads, then a 70/30 random read/write mix), and prints the
# guest's IOPS and bandwidth next to QEMU's own block statistics over QMP.
#
#   tests/e2e/demo.sh                     through hypercache
#   HC_DEMO_DRIVER=none tests/e2e/demo.sh  the same disk attached directly
#
# Also: HC_DEMO_CACHE_SIZE (256M), HC_DEMO_READ_S (12), HC_DEMO_RW_S (8),
# HC_DEMO_IMAGE (default $HC_CACHE/demo/disk-1G.raw), and lib.sh's knobs.
# Guest figures under TCG are bounded by the emulated CPU: they show relative
# effects, not what the host's storage can do.
set -euo pipefail

HC_LOG_TAG=demo
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CACHE_SIZE=${HC_DEMO_CACHE_SIZE:-256M}
READ_S=${HC_DEMO_READ_S:-12}
RW_S=${HC_DEMO_RW_S:-8}
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
hc_disk_args "$IMAGE" "$CACHE_SIZE"

# Guest side: fio JSON between FIO-JSON markers, parsed on the host.
cat > "$HC_RUN_DIR/demo-guest.sh" <<EOF
dev=/dev/vda
[ -b \$dev ] || { echo "no \$dev in the guest"; exit 1; }
common="--filename=\$dev --direct=1 --ioengine=libaio --iodepth=32 --bs=4k --time_based --norandommap --randrepeat=0 --group_reporting --output-format=json --eta=never"
hc_progress "fio 1/2: 4 KiB randread, zipf:1.2, QD 32, ${READ_S} s"
echo "FIO-JSON-BEGIN randread"
fio --name=randread --rw=randread --random_distribution=zipf:1.2 --runtime=${READ_S} \$common || exit 1
echo "FIO-JSON-END"
hc_progress "fio 2/2: 4 KiB randrw 70/30, zipf:1.2, QD 32, ${RW_S} s"
echo "FIO-JSON-BEGIN randrw-70-30"
fio --name=randrw --rw=randrw --rwmixread=70 --random_distribution=zipf:1.2 --runtime=${RW_S} \$common || exit 1
echo "FIO-JSON-END"
hc_progress "fio done; syncing and powering off"
EOF

# Runs after the guest powered off, while QEMU still holds the disk.
demo_stats() {
    local sock=$1 rc=0
    hc_log "reading statistics over QMP"
    hc_qmp "$sock" --blockstats > "$HC_RUN_DIR/blockstats.txt" 2>&1 ||
        echo "(query-blockstats failed)" >> "$HC_RUN_DIR/blockstats.txt"
    # HOOK: hypercache's own statistics.  Printed as soon as QEMU has the
    # x-hypercache-query command; until then this says it is unavailable.
    if [ "$HC_DRIVER" = none ]; then
        echo "(HC_DEMO_DRIVER=none: no hypercache node)" > "$HC_RUN_DIR/hcstats.txt"
        return 0
    fi
    hc_qmp "$sock" --hypercache "$HC_TOP_NODE" \
        > "$HC_RUN_DIR/hcstats.txt" 2> "$HC_RUN_DIR/hcstats.err" || rc=$?
    case $rc in
    0) ;;
    3) echo "(x-hypercache-query: unavailable in this QEMU)" > "$HC_RUN_DIR/hcstats.txt" ;;
    *) { echo "(x-hypercache-query failed:)"; cat "$HC_RUN_DIR/hcstats.err"; } > "$HC_RUN_DIR/hcstats.txt" ;;
    esac
}

hc_log "disk: $HC_DRIVER, file aio=$HC_AIO_USED, cache.direct=on; QMP socket $HC_RUN_DIR/demo.qmp"
rc=0
HC_BOOT_HOOK=demo_stats hc_boot demo "$HC_RUN_DIR/demo-guest.sh" "${HC_DISK_ARGS[@]}" || rc=$?
if [ "$rc" != 0 ]; then
    cat "$HC_RUN_DIR/demo.out" >&2 || true
    hc_die "guest run failed (rc $rc)"
fi

# --- summary ---------------------------------------------------------------
if [ "$HC_DRIVER" = none ]; then
    stack="virtio-blk -> file (direct)"
else
    stack="virtio-blk -> hypercache ($CACHE_SIZE) -> file (direct)"
fi
echo
echo "=== hypercache demo: $stack, 1 GiB raw image, aio=$HC_AIO_USED, TCG ==="
python3 - "$HC_RUN_DIR/demo.out" <<'PY'
import json, sys
text = open(sys.argv[1]).read().splitlines()
jobs, cur, buf = [], None, []
for line in text:
    if line.startswith("FIO-JSON-BEGIN "):
        cur, buf = line.split(None, 1)[1], []
    elif line == "FIO-JSON-END" and cur:
        raw = "\n".join(buf)
        jobs.append((cur, json.loads(raw[raw.index("{"):])))
        cur = None
    elif cur:
        buf.append(line)
print("%-14s %-5s %10s %10s %12s %12s" % ("job", "dir", "IOPS", "MiB/s", "lat avg us", "lat p99 us"))
for name, j in jobs:
    job = j["jobs"][0]
    for d in ("read", "write"):
        s = job[d]
        if not s.get("total_ios"):
            continue
        p99 = s.get("clat_ns", {}).get("percentile", {}).get("99.000000", 0)
        print("%-14s %-5s %10.0f %10.1f %12.1f %12.1f" % (
            name, d, s["iops"], s["bw_bytes"] / 2**20,
            s.get("lat_ns", {}).get("mean", 0) / 1000, p99 / 1000))
PY
echo
echo "--- QEMU query-blockstats (host side, after the guest powered off) ---"
cat "$HC_RUN_DIR/blockstats.txt"
echo
echo "--- hypercache statistics (x-hypercache-query) ---"
cat "$HC_RUN_DIR/hcstats.txt"
echo
hc_log "done"
