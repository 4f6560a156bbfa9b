#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
#
# test-guest-mq.sh: concurrency.  One hypercache node (block-size 16 KiB)
# serves a virtio-blk device with two queues mapped to two iothreads
# (iothread-vq-mapping), in a 2-CPU guest.  fio runs 4 writer jobs pinned
# to alternate CPUs (so both queues, and both iothreads, submit), writing
# interleaved 4 KiB blocks: job i owns the blocks i mod 4, so all four
# write into every 16 KiB cache block at once, while a reader (a fio of
# its own) reads randomly across the same region (miss fills racing with
# writes) from before the writers start until after they end: it must be
# seen reading first and still running last, so the race does not depend
# on how fast the guest runs.  fio's crc32c verify (header with offset
# and seed) is the reference: every block must hold what its job last
# wrote.  Two rounds with different
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

writers() { # SEED: 4 interleaved writers, 16 MiB
    echo "fio --output=/tmp/fio.log --eta=never --filename=/dev/vda --direct=1 --ioengine=libaio --iodepth=8 --randrepeat=0 --randseed=$1 --cpus_allowed=0,1 --cpus_allowed_policy=split --name=w --numjobs=4 --offset_increment=4k --size=4M --zonemode=strided --zonesize=4k --zoneskip=12k --rw=randwrite --bs=4k --verify=crc32c --verify_fatal=1"
}
# The racing reader runs until it is stopped (SIGINT: fio ends the job and
# writes its report as usual).
READER="fio --output=/tmp/reader.log --eta=never --filename=/dev/vda --direct=1 --ioengine=libaio --iodepth=8 --randrepeat=0 --name=r --offset=0 --size=16M --rw=randread --bs=16k --time_based --runtime=3600"
VERIFY_ONLY="fio --output=/tmp/fio2.log --eta=never --filename=/dev/vda --direct=1 --ioengine=libaio --iodepth=8 --randrepeat=0 --randseed=2222 --name=w --numjobs=4 --offset_increment=4k --size=4M --zonemode=strided --zonesize=4k --zoneskip=12k --rw=randwrite --bs=4k --verify=crc32c --verify_fatal=1 --verify_only"

cat > "$HC_RUN_DIR/mq.sh" <<EOF
fail() { echo "FAIL: \$*"; for f in /tmp/fio.log /tmp/fio2.log; do [ -f \$f ] && grep -m 5 -iE "verify|crc|bad|err" \$f; done; exit 1; }
echo "queues: \$(ls /sys/block/vda/mq | wc -l), cpus: \$(nproc)"
[ "\$(ls /sys/block/vda/mq | wc -l)" = 2 ] || fail "vda has not 2 queues"
reads() { set -- \$(cat /sys/block/vda/stat); echo \$1; } # completed reads
round() { # NAME WRITERS...: the writers, raced by the reader all along
    name=\$1
    shift
    r0=\$(reads)
    $READER &
    rpid=\$!
    # The reader must be reading before the writers start (60 s at most).
    i=0
    while [ "\$(reads)" -lt \$((r0 + 16)) ]; do
        kill -0 \$rpid 2>/dev/null || fail "\$name: the reader ended before it read"
        i=\$((i + 1))
        [ \$i -le 600 ] || fail "\$name: the reader did not read within 60 s"
        sleep 0.1
    done
    "\$@" || fail "\$name: writers"
    grep -c "err= 0" /tmp/fio.log | grep -qx 4 || fail "\$name: fio writer errors"
    kill -0 \$rpid 2>/dev/null || fail "\$name: the reader ended before the writers did: they did not race"
    # Stopped by a signal, fio exits nonzero however its job went: its
    # report says whether the job had an error.
    kill -INT \$rpid
    wait \$rpid
    grep -q "err= 0" /tmp/reader.log || { cat /tmp/reader.log; fail "\$name: reader errors"; }
    echo "\$name: the reader raced the writers from their start to their end"
}
hc_progress "round 1: 4 writers + reader, crc32c"
round "round 1" $(writers 1111)
hc_progress "round 2, another seed"
round "round 2" $(writers 2222)
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
