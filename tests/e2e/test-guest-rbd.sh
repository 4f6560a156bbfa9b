#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
#
# test-guest-rbd.sh: a TCG guest whose disk is an rbd image (one-OSD
# cluster started here) behind hypercache, with librbd's cache off
# (cache.direct=on on the rbd node).
#
# Boot 1: fio crc32c write+verify on 8-40 MiB (random 16 KiB writes,
# iodepth 16, end_fsync) and a random 4 MiB blob written raw at 48 MiB,
# synced; then the guest powers off.  The host reads the blob back from
# the image with `rbd export` (librbd alone, no QEMU) and compares.  Boot 2
# (a new QEMU, cold cache) runs fio --verify_only on the region and checks
# the blob's md5 in the guest.  Prints PASS or FAIL; exit 0 or 1.
set -euo pipefail

HC_LOG_TAG=guest-rbd
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DISK_MIB=64
hc_init
hc_require QEMU_IMG
hc_have_driver hypercache || hc_die "no hypercache block driver in $QEMU_IMG"
hc_have_driver rbd || hc_die "no rbd block driver in $QEMU_IMG: configure QEMU with --enable-rbd"
hc_build_guest
hc_ceph_start guest "$DISK_MIB"

BLOB=$HC_RUN_DIR/blob.bin
head -c $((4 << 20)) /dev/urandom > "$BLOB"
BLOB_MD5=$(md5sum < "$BLOB" | cut -d' ' -f1)
BLOB_OFF=$((48 << 20))
HC_GUEST_FILES=("$BLOB")
DISK_ARGS=(
    -blockdev "driver=rbd,node-name=disk0,pool=$CEPH_POOL,image=$CEPH_IMAGE,conf=$CEPH_CONF,cache.direct=on"
    -blockdev "driver=hypercache,node-name=hc0,file=disk0,size=16M"
    -device "virtio-blk-pci,drive=hc0,id=vd0"
)
FIO="fio --name=verify --filename=/dev/vda --offset=8M --size=32M --rw=randwrite --bs=16k --ioengine=libaio --iodepth=16 --direct=1 --verify=crc32c --verify_fatal=1 --randrepeat=1 --end_fsync=1 --output=/tmp/fio.log --eta=never"

cat > "$HC_RUN_DIR/write.sh" <<GUEST
dev=/dev/vda
fail() { echo "FAIL: \$*"; [ -f /tmp/fio.log ] && tail -n 20 /tmp/fio.log; exit 1; }
[ -b \$dev ] || fail "no \$dev"
hc_progress "fio crc32c write+verify on 8-40 MiB"
$FIO || fail "fio write+verify"
grep -E "WRITE:|READ:" /tmp/fio.log
hc_progress "the raw 4 MiB at 48 MiB"
dd if=/hc/blob.bin of=\$dev bs=64k seek=$((BLOB_OFF / 65536)) oflag=direct conv=fsync status=none || fail "raw blob"
sync
echo "boot 1 wrote everything"
GUEST

rc=0
hc_boot write "$HC_RUN_DIR/write.sh" "${DISK_ARGS[@]}" || rc=$?
cat "$HC_RUN_DIR/write.out"
[ "$rc" = 0 ] || fail "boot 1 (write) exited $rc"

if [ "$rc" = 0 ]; then
    hc_log "host: reading the image back with rbd export"
    rbd --conf "$CEPH_CONF" export "$CEPH_POOL/$CEPH_IMAGE" "$HC_RUN_DIR/export.raw" \
        > /dev/null 2>&1 || fail "rbd export failed"
    cmp -n $((4 << 20)) -i "0:$BLOB_OFF" "$BLOB" "$HC_RUN_DIR/export.raw" ||
        fail "the 4 MiB blob at $BLOB_OFF differs on the rbd image"
    rm -f "$HC_RUN_DIR/export.raw"
fi

cat > "$HC_RUN_DIR/read.sh" <<GUEST
dev=/dev/vda
bad=0
fail() { echo "FAIL: \$*"; bad=\$((bad + 1)); }
[ -b \$dev ] || { echo "FAIL: no \$dev"; exit 1; }
hc_progress "fio crc32c verify of 8-40 MiB"
$FIO --verify_only || { grep -m 3 -iE "verify|crc" /tmp/fio.log; fail "fio verify_only"; }
m=\$(dd if=\$dev bs=64k count=64 skip=$((BLOB_OFF / 65536)) iflag=direct status=none | md5sum | cut -d' ' -f1)
[ "\$m" = $BLOB_MD5 ] || fail "raw 4 MiB: md5 \$m"
[ \$bad = 0 ] || exit 1
echo "boot 2 read everything back intact"
GUEST

rc=0
hc_boot read "$HC_RUN_DIR/read.sh" "${DISK_ARGS[@]}" || rc=$?
cat "$HC_RUN_DIR/read.out"
[ "$rc" = 0 ] || fail "boot 2 (read back) exited $rc"

if [ ${#FAILS[@]} -eq 0 ]; then
    echo "PASS: guest-rbd (hypercache over rbd, librbd cache off)"
    exit 0
fi
echo "FAIL: guest-rbd: ${#FAILS[@]} check(s) failed"
printf '  - %s\n' "${FAILS[@]}"
HC_KEEP=1
exit 1
