#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
#
# test-guest-ext4.sh: a guest makes ext4 on a hypercache disk (write-back),
# runs fio with verify=crc32c (mixed random reads and writes, 4 jobs) on
# files, syncs, and then keeps writing more files without syncing while
# QEMU is killed with SIGKILL: an unclean power-off with dirty data in the
# cache.  The kill waits for that state rather than for a time: once the
# guest has written its unsynced files, the host polls x-hypercache-query
# until WB holds at least HC_EXT4_MIN_DIRTY bytes (default 12 MiB; the
# guest goes on rewriting unsynced data meanwhile) and fails with a clear
# message if that does not happen within HC_EXT4_DIRTY_TIMEOUT seconds
# (default 120).  The correct expectation: what the guest synced is on the image;
# what it did not sync may be lost, but the file system is consistent
# (ext4's journal covers it).  So on the host, after a journal replay on a
# copy, e2fsck -fn finds no errors; and a second boot (through hypercache
# again) mounts the file system and fio --verify_only checks every block
# fio wrote.
#
#   tests/e2e/test-guest-ext4.sh          about 60-90 s under TCG
#   HC_EXT4_SELFTEST=1 ...                damage a fio file on the image
#                                         after boot 1: must FAIL
set -euo pipefail

HC_LOG_TAG=guest-ext4
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


hc_init
hc_require QEMU_IMG QEMU_IO
if ! hc_check_driver; then
    echo "SKIP: no '$HC_DRIVER' block driver in $QEMU_SYSTEM"
    exit 77
fi
hc_build_guest

IMG=$HC_RUN_DIR/ext4.raw
"$QEMU_IMG" create -q -f raw "$IMG" 256M
# Write-back with no background write-back and no sequential bypass: the
# unsynced writes stay dirty in WB until the kill, so losing them is what
# the test exercises.
HC_DISK_ARGS=()
hc_disk_args "$IMG" 64M
HC_DISK_ARGS[3]="${HC_DISK_ARGS[3]},dirty-high=100,dirty-low=99,dirty-max=100,max-dirty-age=0,seq-cutoff=0"
[ "$HC_DRIVER" = none ] && hc_disk_args "$IMG"
MIN_DIRTY=${HC_EXT4_MIN_DIRTY:-$((12 << 20))}
DIRTY_TIMEOUT=${HC_EXT4_DIRTY_TIMEOUT:-120}

# Mixed random reads and writes, verified as they go; then random writes
# verified at the end, and again by --verify_only in boot 2.
MIX="fio --name=mix --directory=/mnt --numjobs=4 --size=6M --rw=randrw --rwmixwrite=60 --bsrange=4k-32k --ioengine=libaio --iodepth=8 --direct=1 --verify=crc32c --verify_fatal=1 --randrepeat=1 --group_reporting --output=/tmp/mix.log --eta=never"
FIO="fio --name=data --directory=/mnt --numjobs=4 --size=6M --rw=randwrite --bsrange=4k-32k --ioengine=libaio --iodepth=8 --direct=1 --verify=crc32c --verify_fatal=1 --randrepeat=1 --group_reporting --output=/tmp/fio.log --eta=never"

# --- boot 1: ext4, fio, sync, more writes, SIGKILL ---------------------------
cat > "$HC_RUN_DIR/write.sh" <<EOF
fail() { echo "FAIL: \$*"; [ -f /tmp/fio.log ] && tail -n 20 /tmp/fio.log; exit 1; }
hc_progress "mke2fs, fio crc32c randrw, 4 jobs"
# Inode tables and journal zeroed now: else ext4lazyinit zeroes them in the
# background after the mount, with a cache flush after each group, at
# moments nobody chooses; one after the unsynced writes would write WB
# back and leave the kill nothing to lose.
mke2fs -t ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/vda 192M || fail mke2fs
# A long commit interval: no journal commit (and its cache flush) comes
# between the sync and the kill unless the guest asks for one.
mount -t ext4 -o commit=60 /dev/vda /mnt || fail mount
$MIX || { cat /tmp/mix.log; fail "fio randrw+verify"; }
grep -q "err= 0" /tmp/mix.log || fail "fio randrw reported errors"
$FIO || fail "fio write+verify"
grep -q "err= 0" /tmp/fio.log || fail "fio reported errors"
dd if=/dev/zero of=/mnt/pre bs=1M count=16 status=none || fail "dd pre"
sync
echo HC-SYNCED
# Not synced: these may be lost, but must not break the file system.
# New files: uncommitted metadata and data.
mkdir -p /mnt/unsynced
i=0
while [ \$i -lt 16 ]; do
    dd if=/dev/zero of=/mnt/unsynced/f\$i bs=64k count=4 oflag=direct status=none || echo "dd failed"
    echo \$i >> /mnt/unsynced/log
    i=\$((i + 1))
done
# Last, O_DIRECT overwrites of an allocated file: they reach the disk (its
# WB) with no metadata change and no flush.
dd if=/dev/urandom of=/mnt/pre bs=64k count=128 oflag=direct conv=notrunc status=none || echo "dd failed"
# And 8 MiB past the file system's end: certainly unflushed.
dd if=/dev/urandom of=/dev/vda bs=64k count=128 seek=3200 oflag=direct status=none || echo "dd failed"
echo HC-UNSYNCED
# Until the kill: the same unsynced overwrites again, so that WB fills up
# again even if something flushed it meanwhile.
while :; do
    dd if=/dev/urandom of=/mnt/pre bs=64k count=128 oflag=direct conv=notrunc status=none
    dd if=/dev/urandom of=/dev/vda bs=64k count=128 seek=3200 oflag=direct status=none
done
EOF

name="write"
dir=$HC_RUN_DIR
stage=$dir/$name.stage
rm -rf "$stage" && mkdir -p "$stage/hc"
cp "$HC_RUN_DIR/write.sh" "$stage/hc/run.sh"
(cd "$stage" && find hc | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
    gzip -1 | cat "$HC_GUEST_DIR/initrd.gz" - > "$dir/$name.initrd"
rm -rf "$stage"
hc_log "boot 1: ext4 + fio, then SIGKILL while writing unsynced files"
t0=$SECONDS
"$QEMU_SYSTEM" -accel "${HC_ACCEL:-tcg}" -machine pc \
    -m "${HC_MEM:-1024}" -smp "${HC_SMP:-1}" -nodefaults -no-user-config -display none \
    "${HC_FW_ARGS[@]}" -serial "file:$dir/$name.serial" \
    -qmp "unix:$dir/$name.qmp,server=on,wait=off" -no-reboot \
    -kernel "$(hc_kernel)" -initrd "$dir/$name.initrd" \
    -append "console=ttyS0 quiet panic=-1" "${HC_DISK_ARGS[@]}" \
    > "$dir/$name.qemu.log" 2>&1 &
# No `timeout` in front: the SIGKILL must hit QEMU itself.
HC_QEMU_PID=$!
serial_has() { tr -d '\r' 2>/dev/null < "$dir/$name.serial" | grep -q "$1"; }
# The device's flush count, to tell whether the guest flushed after its sync.
flushes() {
    hc_qmp "$dir/$name.qmp" query-blockstats 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats"]["flush_operations"])' 2>/dev/null ||
        echo unknown
}
synced=0 flush0=unknown
while kill -0 "$HC_QEMU_PID" 2>/dev/null; do
    if [ "$flush0" = unknown ] && serial_has '^HC-SYNCED'; then
        flush0=$(flushes)
    fi
    if serial_has '^HC-UNSYNCED'; then
        synced=1; break
    fi
    if serial_has '^FAIL:\|===HC-RESULT-END'; then
        break
    fi
    [ $((SECONDS - t0)) -lt "$HC_BOOT_TIMEOUT" ] || { kill -KILL "$HC_QEMU_PID"; break; }
    sleep 0.2
done
dirty=unknown reached=1
if [ "$synced" = 1 ]; then
    # The unsynced files are written: pull the plug as soon as WB holds
    # enough unsynced data.
    if [ "$HC_DRIVER" = hypercache ]; then
        hc_log "boot 1: waiting for at least $MIN_DIRTY dirty bytes in WB (up to ${DIRTY_TIMEOUT}s)"
        dirty=$(hc_qmp "$dir/$name.qmp" --wait-stat hc0 dirty-bytes "$MIN_DIRTY" "$DIRTY_TIMEOUT") || reached=0
        dirty=${dirty:-unknown}
        flush1=$(flushes)
    fi
    kill -KILL "$HC_QEMU_PID"
    hc_log "boot 1: SIGKILL after $((SECONDS - t0))s, $dirty dirty bytes in WB, guest flushes since its sync: $flush0 -> ${flush1:-unknown}"
fi
wait "$HC_QEMU_PID" 2>/dev/null || true
HC_QEMU_PID=
if [ "$synced" != 1 ]; then
    tail -n 5 "$dir/$name.qemu.log"
    tr -d '\r' < "$dir/$name.serial" | tail -n 30
    echo "FAIL: guest-ext4: boot 1 did not get past its unsynced writes within ${HC_BOOT_TIMEOUT}s"
    exit 1
fi
tr -d '\r' < "$dir/$name.serial" | sed -n '/^===HC-RESULT-BEGIN/,$p' | grep -v '^HC-' | head -n 20 || true
if [ "$HC_DRIVER" = hypercache ] && [ "$reached" = 0 ]; then
    fail "WB never held $MIN_DIRTY dirty bytes within ${DIRTY_TIMEOUT}s of the guest's unsynced writes (last: $dirty; guest flushes $flush0 -> ${flush1:-unknown}): the unclean power-off would test too little"
fi


# --- host: journal replay on a copy, then a read-only full check --------------
cp --sparse=always "$IMG" "$HC_RUN_DIR/copy.raw"
e2fsck -fy -E journal_only "$HC_RUN_DIR/copy.raw" > "$HC_RUN_DIR/replay.log" 2>&1 || true
if e2fsck -fn "$HC_RUN_DIR/copy.raw" > "$HC_RUN_DIR/e2fsck.log" 2>&1; then
    hc_log "host: e2fsck -fn clean after journal replay"
else
    fail "host e2fsck -fn: $(tail -n 8 "$HC_RUN_DIR/e2fsck.log")"
fi
# The file system is only readable by debugfs after the replay.
if [ "${HC_EXT4_SELFTEST:-0}" = 1 ]; then
    blk=$(debugfs -R "bmap /data.1.0 0" "$HC_RUN_DIR/copy.raw" 2>/dev/null | tail -n 1)
    [ -n "$blk" ] || hc_die "self-test: no block map for /data.1.0"
    bsz=$(dumpe2fs -h "$HC_RUN_DIR/copy.raw" 2>/dev/null | sed -n 's/^Block size: *//p')
    hc_log "self-test: zeroing 256 KiB of /data.1.0 from fs block $blk (of $bsz bytes) on the image"
    dd if=/dev/zero of="$IMG" bs="$bsz" seek="$blk" count=$((262144 / bsz)) conv=notrunc status=none
fi
rm -f "$HC_RUN_DIR/copy.raw"

# --- boot 2: mount, fio --verify_only -------------------------------------------
cat > "$HC_RUN_DIR/verify.sh" <<EOF
fail() { echo "FAIL: \$*"; [ -f /tmp/fio.log ] && grep -m 5 -iE "verify|crc|bad" /tmp/fio.log; exit 1; }
hc_progress "mount (journal replay) and fio --verify_only"
mount -t ext4 /dev/vda /mnt || fail mount
$FIO --verify_only || fail "fio verify_only"
ls /mnt/unsynced 2>/dev/null | wc -l | sed 's/^/unsynced files that survived: /'
umount /mnt || fail umount
e2fsck -fn /dev/vda > /tmp/e2fsck.log 2>&1 || { cat /tmp/e2fsck.log; fail "guest e2fsck after umount"; }
echo "fio data verified"
EOF
rc=0
hc_boot verify "$HC_RUN_DIR/verify.sh" "${HC_DISK_ARGS[@]}" || rc=$?
cat "$HC_RUN_DIR/verify.out"
[ "$rc" = 0 ] || fail "boot 2 (verify) exited $rc"

if [ "${HC_EXT4_SELFTEST:-0}" = 1 ]; then
    if [ ${#FAILS[@]} -gt 0 ]; then
        echo "PASS: guest-ext4 self-test: the damage was seen (${FAILS[*]})"; exit 0
    fi
    echo "FAIL: guest-ext4 self-test: damage went unnoticed"; exit 1
fi
if [ ${#FAILS[@]} -eq 0 ]; then
    echo "PASS: guest-ext4 (driver $HC_DRIVER, $dirty dirty bytes lost at the kill)"
    exit 0
fi
echo "FAIL: guest-ext4: ${#FAILS[@]} check(s) failed"
printf '  - %s\n' "${FAILS[@]}"
HC_KEEP=1
exit 1
