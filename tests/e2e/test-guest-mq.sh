#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
#
# test-guest-mq.sh: concurrency.  One hypercache node (block-size 16 KiB)
# serves a virtio-blk device with two queues mapped to two iothreads
# (iothread-vq-mapping), in a 2-CPU guest.  fio runs 4 writer jobs pinned
# to alternate CPUs (so both queues, and both iothreads, submit), writing
# interleaved 4 KiB blocks: job i owns the blocks i mod 4, so all four
# write into every 16 KiB cache block at once, while a fifth job reads
# randomly across the same region (miss fills racing with writes).  fio's
# crc32c verify (header with offset and seed) is the reference: every
# block must hold what its job last wrote.  Two rounds with different
# seeds (stale data from round 1 fails round 2's header check), then a
# verify-only pass served from the cache, then a second boot verifies the
# image through a fresh node.
set -euo pipefail

HC_LOG_TAG=guest-mq
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


hc_init
hc_require QEMU_IMG QEMU_IO
if ! hc_check_driver || [ "$HC_DRIVER" = none ]; then
    echo "SKIP: needs the hypercache block driver"
    exit 77
fi
hc_build_guest

IMG=$HC_RUN_DIR/mq.raw
"$QEMU_IMG" create -q -f raw "$IMG" 64M
aio=$(hc_pick_aio "$IMG")
# shellcheck disable=SC2054 # commas belong to QEMU options
DISK=(-object iothread,id=io0 -object iothread,id=io1
    -blockdev "driver=file,node-name=disk0,filename=$IMG,cache.direct=on,aio=$aio"
    -blockdev "driver=hypercache,node-name=hc0,file=disk0,size=8M,block-size=16k,admit-threshold=1,max-dirty-age=20"
    -device '{"driver":"virtio-blk-pci","drive":"hc0","id":"vd0","num-queues":2,"iothread-vq-mapping":[{"iothread":"io0"},{"iothread":"io1"}]}')
export HC_SMP=2

job() { # SEED: 4 interleaved writers + 1 racing reader, 16 MiB
    echo "fio --output=/tmp/fio.log --eta=never --filename=/dev/vda --direct=1 --ioengine=libaio --iodepth=8 --randrepeat=0 --randseed=$1 --cpus_allowed=0,1 --cpus_allowed_policy=split --name=w --numjobs=4 --offset_increment=4k --size=4M --zonemode=strided --zonesize=4k --zoneskip=12k --rw=randwrite --bs=4k --verify=crc32c --verify_fatal=1 --name=r --numjobs=1 --offset=0 --size=16M --zonemode=none --rw=randread --bs=16k --time_based --runtime=4 --verify=0"
}
VERIFY_ONLY="fio --output=/tmp/fio2.log --eta=never --filename=/dev/vda --direct=1 --ioengine=libaio --iodepth=8 --randrepeat=0 --randseed=2222 --name=w --numjobs=4 --offset_increment=4k --size=4M --zonemode=strided --zonesize=4k --zoneskip=12k --rw=randwrite --bs=4k --verify=crc32c --verify_fatal=1 --verify_only"

cat > "$HC_RUN_DIR/mq.sh" <<EOF
fail() { echo "FAIL: \$*"; for f in /tmp/fio.log /tmp/fio2.log; do [ -f \$f ] && grep -m 5 -iE "verify|crc|bad|err" \$f; done; exit 1; }
echo "queues: \$(ls /sys/block/vda/mq | wc -l), cpus: \$(nproc)"
[ "\$(ls /sys/block/vda/mq | wc -l)" = 2 ] || fail "vda has not 2 queues"
hc_progress "round 1: 4 writers + reader, crc32c"
$(job 1111) || fail "round 1"
grep -c "err= 0" /tmp/fio.log | grep -qx 5 || fail "round 1: fio errors"
hc_progress "round 2, another seed"
$(job 2222) || fail "round 2"
grep -c "err= 0" /tmp/fio.log | grep -qx 5 || fail "round 2: fio errors"
hc_progress "verify only, from the cache"
$VERIFY_ONLY || fail "verify_only"
sync
echo "both rounds and the re-read verified"
EOF

# shellcheck disable=SC2317 # called through HC_BOOT_HOOK
mq_hook() { # read the node's statistics before QEMU quits
    hc_qmp "$1" x-hypercache-query '{"node-name":"hc0"}' > "$HC_RUN_DIR/stats.json"
}
rc=0
HC_BOOT_HOOK=mq_hook hc_boot mq "$HC_RUN_DIR/mq.sh" "${DISK[@]}" || rc=$?
cat "$HC_RUN_DIR/mq.out"
[ "$rc" = 0 ] || fail "boot 1 exited $rc"
if [ -s "$HC_RUN_DIR/stats.json" ]; then
    python3 - "$HC_RUN_DIR/stats.json" <<'EOF' || fail "statistics: the cache was not exercised"
import json, sys
st = json.load(open(sys.argv[1]))[0]["stats"]
print("hypercache: hits %d blocks, misses %d, written back %d bytes, dirty %d" %
      (st["hit-blocks"], st["miss-blocks"], st["writeback-bytes"], st["dirty-bytes"]))
sys.exit(0 if st["hit-blocks"] > 0 and st["writeback-bytes"] > 0 else 1)
EOF
fi

cat > "$HC_RUN_DIR/verify.sh" <<EOF
fail() { echo "FAIL: \$*"; grep -m 5 -iE "verify|crc|bad" /tmp/fio2.log; exit 1; }
$VERIFY_ONLY || fail "verify_only after reboot"
echo "image verified through a fresh node"
EOF
rc=0
hc_boot verify "$HC_RUN_DIR/verify.sh" "${DISK[@]}" || rc=$?
cat "$HC_RUN_DIR/verify.out"
[ "$rc" = 0 ] || fail "boot 2 exited $rc"

if [ ${#FAILS[@]} -eq 0 ]; then
    echo "PASS: guest-mq (2 iothreads, 2 queues, overlapping cache blocks)"
    exit 0
fi
echo "FAIL: guest-mq: ${#FAILS[@]} check(s) failed"
printf '  - %s\n' "${FAILS[@]}"
HC_KEEP=1
exit 1
