#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# guest.sh OUT IMAGE HC_OPTS READ_S RW_S
#
# Boots the e2e demo guest (tests/e2e/lib.sh, TCG) on IMAGE and runs fio on
# /dev/vda: 4 KiB zipf(1.2) random reads for READ_S seconds, then a 70/30
# random read/write mix for RW_S seconds, QD 32.  HC_OPTS is "none" (the
# file node with cache.direct=on is the device's disk) or the options of a
# hypercache node put on top of it ("size=32M,admit-threshold=1").
# Writes the fio JSON blocks and the x-hypercache-query answer to OUT.
# Called by bench.py; exit status is the guest's.
set -euo pipefail

OUT=$1 IMAGE=$2 HC_OPTS=$3 READ_S=$4 RW_S=$5
HC_LOG_TAG=bench-guest
# shellcheck source=../e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

hc_init
hc_build_guest > /dev/null
aio=$(hc_pick_aio "$IMAGE")
img=${IMAGE//,/,,}
args=(-blockdev "driver=file,node-name=disk0,filename=$img,cache.direct=on,aio=$aio")
top=disk0
if [ "$HC_OPTS" != none ]; then
    args+=(-blockdev "driver=hypercache,node-name=hc0,file=disk0,$HC_OPTS")
    top=hc0
fi
args+=(-device "virtio-blk-pci,drive=$top,id=vd0")

cat > "$HC_RUN_DIR/g.sh" <<EOF
dev=/dev/vda
[ -b \$dev ] || { echo "no \$dev in the guest"; exit 1; }
common="--filename=\$dev --direct=1 --ioengine=libaio --iodepth=32 --bs=4k --time_based --norandommap --randrepeat=0 --group_reporting --output-format=json --eta=never"
hc_progress "fio zipf randread ${READ_S}s"
echo "FIO-JSON-BEGIN read"
fio --name=randread --rw=randread --random_distribution=zipf:1.2 --runtime=${READ_S} \$common || exit 1
echo "FIO-JSON-END"
hc_progress "fio zipf randrw 70/30 ${RW_S}s"
echo "FIO-JSON-BEGIN mix"
fio --name=randrw --rw=randrw --rwmixread=70 --random_distribution=zipf:1.2 --runtime=${RW_S} \$common || exit 1
echo "FIO-JSON-END"
EOF

stats_hook() {
    if [ "$top" = hc0 ]; then
        hc_qmp "$1" x-hypercache-query > "$HC_RUN_DIR/hc.json" 2>&1 || true
    fi
}

rc=0
HC_BOOT_HOOK=stats_hook hc_boot g "$HC_RUN_DIR/g.sh" "${args[@]}" || rc=$?
{
    cat "$HC_RUN_DIR/g.out" 2>/dev/null || true
    if [ -f "$HC_RUN_DIR/hc.json" ]; then
        echo "HC-JSON-BEGIN"
        cat "$HC_RUN_DIR/hc.json"
        echo "HC-JSON-END"
    fi
} > "$OUT"
exit "$rc"
