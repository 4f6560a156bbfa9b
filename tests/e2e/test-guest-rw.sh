#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
#
# test-guest-rw.sh: data written by a guest through the disk stack is on the
# image, and reads back intact in a second boot.
#
#   tests/e2e/test-guest-rw.sh                      through hypercache
#   HC_DEMO_DRIVER=none tests/e2e/test-guest-rw.sh  the disk attached directly
#
# Boot 1 writes, then powers off: an ext4 file system (first 64 MiB) with a
# random 4 MiB file, a fio crc32c-verified region (64-128 MiB), byte patterns
# at 512-byte but not 4 KiB aligned offsets and odd lengths (so caches see
# partial blocks), the same random 4 MiB raw at 160 MiB, and a pattern
# ending on the disk's last byte.  The host then checks the image with
# qemu-io read -P (including untouched guard sectors), cmp, e2fsck and
# debugfs.  Boot 2 reads everything back in the guest and checks it.
# Prints PASS or FAIL; exit 0 on pass, 1 on failure, 77 when the requested
# driver is not in this QEMU (skip).
set -euo pipefail

HC_LOG_TAG=guest-rw
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DISK_MIB=256
CACHE_SIZE=${HC_RW_CACHE_SIZE:-64M}

hc_init
hc_require QEMU_IMG QEMU_IO
if ! hc_check_driver; then
    echo "SKIP: no '$HC_DRIVER' block driver in $QEMU_SYSTEM (HC_DEMO_DRIVER=none tests the plain disk)"
    exit 77
fi
hc_build_guest

IMG=$HC_RUN_DIR/rw.raw
"$QEMU_IMG" create -q -f raw "$IMG" "${DISK_MIB}M"
hc_disk_args "$IMG" "$CACHE_SIZE"
BLOB=$HC_RUN_DIR/blob.bin
head -c $((4 << 20)) /dev/urandom > "$BLOB"
BLOB_MD5=$(md5sum < "$BLOB" | cut -d' ' -f1)
BLOB_OFF=$((160 << 20))
HC_GUEST_FILES=("$BLOB")

# Pattern extents "offset length byte": odd 512-byte multiples at offsets
# that are 512- but (except the first) not 4 KiB-aligned; the last one ends
# on the disk's final byte.
EXTENTS=()
for i in 0 1 2 3 4 5 6 7; do
    EXTENTS+=("$(((128 << 20) + (64 << 10) + i * ((1 << 20) + 1536))) $(((64 << 10) + i * 2560)) $((0xa0 + i))")
done
EXTENTS+=("$(((DISK_MIB << 20) - 3584)) 3584 $((0x5a))")

pattern_md5() { # length byte: md5 of length bytes of value byte
    head -c "$1" /dev/zero | tr '\000' "\\$(printf '%03o' "$2")" | md5sum | cut -d' ' -f1
}

# fio's crc32c region: the same job writes+verifies in boot 1 and, with
# --verify_only, checks in boot 2 (same seeds, so the same offsets).
FIO_VERIFY="fio --name=verify --filename=/dev/vda --offset=64M --size=64M --rw=randwrite --bs=16k --ioengine=libaio --iodepth=16 --direct=1 --verify=crc32c --verify_fatal=1 --randrepeat=1 --end_fsync=1 --output=/tmp/fio.log --eta=never"

# --- boot 1: write -----------------------------------------------------------
{
    cat <<EOF
dev=/dev/vda
fail() { echo "FAIL: \$*"; [ -f /tmp/fio.log ] && tail -n 20 /tmp/fio.log; exit 1; }
[ -b \$dev ] || fail "no \$dev"
hc_progress "ext4 on the first 64 MiB, 4 MiB file"
mke2fs -t ext4 -q -F \$dev 64M || fail mke2fs
mount -t ext4 \$dev /mnt || fail mount
cp /hc/blob.bin /mnt/blob.bin || fail "cp to ext4"
echo hypercache > /mnt/hello.txt
umount /mnt || fail umount
hc_progress "fio crc32c write+verify on 64-128 MiB"
$FIO_VERIFY || fail "fio write+verify"
hc_progress "byte patterns and the raw 4 MiB"
EOF
    for e in "${EXTENTS[@]}"; do
        set -- $e
        # One O_DIRECT write per extent, exactly offset..offset+len.
        printf 'head -c %d /dev/zero | tr "\\000" "\\%03o" | dd of=$dev bs=%d count=1 seek=%d oflag=seek_bytes,direct conv=fsync iflag=fullblock status=none || fail "pattern at %d"\n' \
            "$2" "$3" "$2" "$1" "$1"
    done
    echo "dd if=/hc/blob.bin of=\$dev bs=64k seek=$((BLOB_OFF / 65536)) oflag=direct conv=fsync status=none || fail 'raw blob'"
    echo 'sync; echo "boot 1 wrote everything"'
} > "$HC_RUN_DIR/write.sh"

rc=0
hc_boot write "$HC_RUN_DIR/write.sh" "${HC_DISK_ARGS[@]}" || rc=$?
cat "$HC_RUN_DIR/write.out"
[ "$rc" = 0 ] || fail "boot 1 (write) exited $rc"

# HC_RW_SELFTEST=1: damage one byte in each checked area, so every check
# below and in boot 2 must fail; proves the test can see damage.
if [ "$rc" = 0 ] && [ "${HC_RW_SELFTEST:-0}" = 1 ]; then
    flip() { # offset: invert one byte of the image in place
        local b
        b=$(od -An -tu1 -j "$1" -N 1 "$IMG" | tr -d ' ')
        printf "\\$(printf '%03o' $((255 - b)))" | dd of="$IMG" bs=1 seek="$1" conv=notrunc status=none
    }
    blk=$(debugfs -R "bmap /blob.bin 5" "$IMG" 2>/dev/null | tail -n 1)
    bsz=$(dumpe2fs -h "$IMG" 2>/dev/null | sed -n 's/^Block size: *//p')
    set -- ${EXTENTS[3]}
    hc_log "self-test: damaging ext4 file block $blk, fio region, pattern at $1, raw 4 MiB"
    flip $((blk * bsz + 100)); flip $(((64 << 20) + 12345)); flip $(($1 + 777)); flip $((BLOB_OFF + 4321))
fi

# --- host: the bytes are on the image -----------------------------------------
if [ "$rc" = 0 ]; then
    hc_log "host: checking the image with qemu-io, cmp, e2fsck, debugfs"
    io_args=()
    for e in "${EXTENTS[@]}"; do
        set -- $e
        io_args+=(-c "read -q -P $3 $1 $2" -c "read -q -P 0 $(($1 - 512)) 512")
        [ $(($1 + $2)) -lt $((DISK_MIB << 20)) ] && io_args+=(-c "read -q -P 0 $(($1 + $2)) 512")
    done
    if ! out=$("$QEMU_IO" -f raw -r "${io_args[@]}" "$IMG" 2>&1) || [ -n "$out" ]; then
        fail "qemu-io pattern check on the image: $out"
    fi
    cmp -n $((4 << 20)) -i "0:$BLOB_OFF" "$BLOB" "$IMG" || fail "raw 4 MiB at $BLOB_OFF differs on the image"
    e2fsck -fn "$IMG" > "$HC_RUN_DIR/e2fsck.log" 2>&1 || fail "host e2fsck: $(tail -n 5 "$HC_RUN_DIR/e2fsck.log")"
    debugfs -R "dump /blob.bin $HC_RUN_DIR/blob.ext4" "$IMG" > /dev/null 2>&1 || true
    cmp "$BLOB" "$HC_RUN_DIR/blob.ext4" || fail "ext4 file differs (read with debugfs on the host)"
fi

# --- boot 2: read back ---------------------------------------------------------
{
    cat <<EOF
dev=/dev/vda
bad=0
# Checks go on after a failure, so one run shows every damaged area.
fail() { echo "FAIL: \$*"; bad=\$((bad + 1)); }
[ -b \$dev ] || { echo "FAIL: no \$dev"; exit 1; }
hc_progress "e2fsck and the ext4 file"
e2fsck -fn \$dev > /tmp/e2fsck.log 2>&1 || { cat /tmp/e2fsck.log; fail "guest e2fsck"; }
if mount -t ext4 -o ro \$dev /mnt; then
    [ "\$(md5sum < /mnt/blob.bin | cut -d' ' -f1)" = $BLOB_MD5 ] || fail "ext4 file differs"
    [ "\$(cat /mnt/hello.txt)" = hypercache ] || fail "hello.txt differs"
    umount /mnt
else
    fail "mount ext4"
fi
hc_progress "fio crc32c verify of 64-128 MiB"
$FIO_VERIFY --verify_only || { grep -m 3 -iE "verify|crc" /tmp/fio.log; fail "fio verify_only"; }
hc_progress "byte patterns and the raw 4 MiB"
EOF
    for e in "${EXTENTS[@]}"; do
        set -- $e
        printf 'm=$(dd if=$dev bs=%d count=1 skip=%d iflag=skip_bytes,direct status=none | md5sum | cut -d" " -f1); [ "$m" = %s ] || fail "pattern at %d: md5 $m"\n' \
            "$2" "$1" "$(pattern_md5 "$2" "$3")" "$1"
    done
    echo "m=\$(dd if=\$dev bs=64k count=64 skip=$((BLOB_OFF / 65536)) iflag=direct status=none | md5sum | cut -d' ' -f1); [ \"\$m\" = $BLOB_MD5 ] || fail \"raw 4 MiB: md5 \$m\""
    echo '[ $bad = 0 ] || exit 1'
    echo 'echo "boot 2 read everything back intact"'
} > "$HC_RUN_DIR/read.sh"

rc=0
hc_boot read "$HC_RUN_DIR/read.sh" "${HC_DISK_ARGS[@]}" || rc=$?
cat "$HC_RUN_DIR/read.out"
[ "$rc" = 0 ] || fail "boot 2 (read back) exited $rc"

if [ ${#FAILS[@]} -eq 0 ]; then
    echo "PASS: guest-rw (driver $HC_DRIVER, aio=$HC_AIO_USED)"
    exit 0
fi
if [ "${HC_RW_SELFTEST:-0}" = 1 ]; then
    # Expected: host qemu-io, cmp and debugfs, and boot 2, each see damage.
    if [ ${#FAILS[@]} -ge 4 ]; then
        echo "PASS: guest-rw self-test: the damage was seen ${#FAILS[@]} times"; exit 0
    fi
fi
echo "FAIL: guest-rw (driver $HC_DRIVER): ${#FAILS[@]} check(s) failed"
printf '  - %s\n' "${FAILS[@]}"
HC_KEEP=1
exit 1
