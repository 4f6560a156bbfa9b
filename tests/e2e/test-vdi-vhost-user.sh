#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
#
# test-vdi-vhost-user.sh: four VMs served by one qemu-storage-daemon over
# vhost-user-blk, in the host-wide shape of DESIGN.md: a shared read-only
# base image behind one hypercache node (hcbase), and per VM a qcow2
# overlay whose backing is hcbase and whose file sits behind the VM's own
# hypercache node (hc1..hc4); all five nodes are members of one
# hypercache-pool (64 MiB).  Each overlay has a vhost-user-blk export; each
# VM runs -device vhost-user-blk-pci with shared memfd memory.
#
#   tests/e2e/test-vdi-vhost-user.sh        about 1-3 minutes under TCG
#   HC_VDI_SELFTEST=1 ...                   gives vm2 a wrong base md5 and
#                                           damages vm3's overlay after the
#                                           daemon exits: both must be seen
#   HC_VDI_TIMEOUT=SECS ...                 limit for the guests (default 600)
#
# 1. The four guests run at once.  Each md5s the first 16 MiB of the base
#    as it reads them through its disk (the host knows the md5), then runs
#    fio randwrite with verify=crc32c over 4 MiB at 32 MiB of its overlay,
#    each with its own seed (so the four write different data), and
#    reports the md5 of that area.
# 2. Once all four got there, vm1-3 are reading the base in a loop and vm4
#    writes a scratch area in a loop: vm4's QEMU is SIGKILLed.  vm1-3 are
#    then released through a second serial port: fio --verify_only of what
#    they wrote, the base's md5 again, and a second fio write+verify (4 MiB
#    at 40 MiB).  Meanwhile vm4 boots again on its export and checks what
#    it wrote before the kill (fio --verify_only and the md5).
# 3. The daemon: hcbase served hits (the base is cached once for all), each
#    member saw its VM's writes, hc1 is flushed with x-hypercache-flush
#    (dirty 0), the others still hold dirty data when the daemon is told
#    to quit; its RssAnon grew by at most the pool's size plus the nodes'
#    metadata plus HC_VDI_RSS_SLACK MiB (default 32).
# 4. After the daemon exited: qemu-img check of each overlay; each VM's
#    areas, read from its overlay alone (no backing), have the md5s the VM
#    reported (so they were written back, into the right overlay); the
#    base is unchanged.
# Prints PASS or FAIL; exit 0 on pass, 1 on failure, 77 when QEMU has no
# hypercache driver.  HC_KEEP=1 keeps the run folder.
set -euo pipefail

HC_LOG_TAG=vdi
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VMS=(1 2 3 4)
BASE_MIB=64       # base image and overlays
CHECK_MIB=16      # the base area each guest md5s
A_OFF=32 B_OFF=40 SCRATCH_OFF=48 AREA_MIB=4
POOL=64M
RESERVE=8M
RSS_SLACK_MIB=${HC_VDI_RSS_SLACK:-32}
# For all guests together, from the first start to the last result.
LIMIT=${HC_VDI_TIMEOUT:-600}
SELFTEST=${HC_VDI_SELFTEST:-0}
export HC_MEM=512

hc_init
hc_require QEMU_IMG QEMU_IO QSD
if ! hc_check_driver; then
    echo "SKIP: no '$HC_DRIVER' block driver in $QEMU_SYSTEM"
    exit 77
fi
[ "$HC_DRIVER" = hypercache ] || hc_die "this test is about hypercache nodes; HC_DEMO_DRIVER=$HC_DRIVER does not apply"
hc_build_guest
dir=$HC_RUN_DIR
T_ALL=$SECONDS

# ---- images -------------------------------------------------------------------
# Random data: an offset mix-up anywhere in the stack changes the md5.
head -c $((BASE_MIB << 20)) /dev/urandom > "$dir/base.raw"
BASE_MD5=$(head -c $((CHECK_MIB << 20)) "$dir/base.raw" | md5sum | cut -d' ' -f1)
BASE_FULL_MD5=$(md5sum < "$dir/base.raw" | cut -d' ' -f1)
for i in "${VMS[@]}"; do
    "$QEMU_IMG" create -q -f qcow2 -b "$dir/base.raw" -F raw "$dir/ov$i.qcow2"
done
aio=$(hc_pick_aio "$dir/base.raw")

# ---- the daemon -----------------------------------------------------------------
# Members keep 8 MiB each (so an idle VM's dirty data is not pushed out by
# the others' shares) and write back only when asked or nearly full: what
# is dirty at the end must be written by the flush or the daemon's quit.
QSD_ARGS=(--object "hypercache-pool,id=p0,size=$POOL"
    --blockdev "driver=file,node-name=base-file,filename=$dir/base.raw,read-only=on,cache.direct=on,aio=$aio"
    --blockdev "driver=hypercache,node-name=hcbase,file=base-file,pool=p0,read-only=on")
for i in "${VMS[@]}"; do
    QSD_ARGS+=(--blockdev "driver=file,node-name=ov$i-file,filename=$dir/ov$i.qcow2,cache.direct=on,aio=$aio"
        --blockdev "driver=hypercache,node-name=hc$i,file=ov$i-file,pool=p0,reserve=$RESERVE,max-dirty-age=0,dirty-high=90,dirty-low=80,dirty-max=95"
        --blockdev "driver=qcow2,node-name=ov$i,file=hc$i,backing=hcbase"
        --export "type=vhost-user-blk,id=vu$i,node-name=ov$i,addr.type=unix,addr.path=$dir/vm$i.sock,writable=on")
done
hc_qsd_start qsd "${QSD_ARGS[@]}" || { echo "FAIL: vdi: qemu-storage-daemon did not start"; exit 1; }
QMP=$dir/qsd.qmp
for i in "${VMS[@]}"; do
    [ -S "$dir/vm$i.sock" ] || { echo "FAIL: vdi: no vhost-user socket $dir/vm$i.sock"; exit 1; }
done
rss_anon() { awk '/^RssAnon:/ { print $2 * 1024 }' "/proc/$HC_QSD_PID/status"; }
RSS0=$(rss_anon)
hc_log "qemu-storage-daemon up (pid $HC_QSD_PID, aio=$aio, RssAnon $((RSS0 >> 20)) MiB): pool $POOL, hcbase + hc1..hc4, exports vm1..vm4.sock"

# jq-less JSON: evaluate a Python expression over the reply `r`.
jget() { python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
stat_of() { # NODE STAT: one statistic of one node, now
    local r
    r=$(hc_qmp "$QMP" x-hypercache-query "{\"node-name\":\"$1\"}") || return 1
    jget "$r" "r[0]['stats']['$2']"
}

# ---- guest scripts ------------------------------------------------------------------
fio_job() { # VM OFFSET_MIB: fio randwrite + crc32c over AREA_MIB, seeded per VM
    echo "fio --name=vm$1 --filename=/dev/vda --offset=$2M --size=${AREA_MIB}M --rw=randwrite --bs=16k --ioengine=libaio --iodepth=8 --direct=1 --verify=crc32c --verify_fatal=1 --randseed=$((1000 * $1 + $2)) --output=/tmp/fio.log --eta=never"
}

guest_common() { # VM EXPECTED_BASE_MD5
    cat << EOF
fail() { echo "FAIL: \$*"; [ -f /tmp/fio.log ] && tail -n 20 /tmp/fio.log; exit 1; }
# O_DIRECT: each pass really reads through the disk, not the page cache.
md5_of() { dd if=/dev/vda bs=1M skip=\$1 count=\$2 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1; }
[ -b /dev/vda ] || fail "no /dev/vda"
[ "\$(cat /sys/block/vda/size)" = $((BASE_MIB << 11)) ] || fail "/dev/vda has \$(cat /sys/block/vda/size) sectors, want $((BASE_MIB << 11))"
check_base() {
    m=\$(md5_of 0 $CHECK_MIB)
    [ "\$m" = "$2" ] || fail "md5 of the base's first $CHECK_MIB MiB is \$m, the host's is $2"
    echo "base md5 ok (\$1)"
}
EOF
}

write_script() { # VM EXPECTED_BASE_MD5 OUT: boot 1 of VM
    local i=$1
    {
        guest_common "$i" "$2"
        cat << EOF
hc_progress "md5 of the shared base's first $CHECK_MIB MiB"
check_base "before writing"
hc_progress "fio crc32c write+verify, $AREA_MIB MiB at $A_OFF MiB"
$(fio_job "$i" $A_OFF) || fail "fio write+verify at $A_OFF MiB"
echo "HC-A-MD5 \$(md5_of $A_OFF $AREA_MIB)"
EOF
        if [ "$i" = 4 ]; then
            cat << EOF
echo "HC-READY"
# Until the kill: reads of the base, writes to a scratch area.
while :; do
    dd if=/dev/vda of=/dev/null bs=64k count=256 iflag=direct 2>/dev/null
    dd if=/dev/urandom of=/dev/vda bs=64k seek=$((SCRATCH_OFF * 16)) count=$((AREA_MIB * 16)) oflag=direct 2>/dev/null
done
EOF
        else
            cat << EOF
# The host releases us through ttyS1 once vm4 has been killed; open it
# before saying we are ready, so nothing it sends is lost.
exec 3< /dev/ttyS1 || fail "no /dev/ttyS1"
( while :; do dd if=/dev/vda of=/dev/null bs=64k count=256 iflag=direct 2>/dev/null; done ) &
reader=\$!
echo "HC-READY"
read -r go <&3 || fail "the control port closed"
kill \$reader
wait \$reader 2>/dev/null
case "\$go" in go*) ;; *) fail "the control port said '\$go'" ;; esac
hc_progress "released after vm4's kill: verify, base, second write"
$(fio_job "$i" $A_OFF) --verify_only || fail "fio --verify_only at $A_OFF MiB after vm4's kill"
check_base "after vm4's kill"
$(fio_job "$i" $B_OFF) || fail "fio write+verify at $B_OFF MiB"
echo "HC-B-MD5 \$(md5_of $B_OFF $AREA_MIB)"
EOF
        fi
    } > "$3"
}

reboot_script() { # VM EXPECTED_BASE_MD5 A_MD5 OUT: vm4's second boot
    {
        guest_common "$1" "$2"
        cat << EOF
hc_progress "boot 2: base, and what boot 1 wrote before its SIGKILL"
check_base "after the reboot"
$(fio_job "$1" $A_OFF) --verify_only || fail "fio --verify_only at $A_OFF MiB after the SIGKILL"
a=\$(md5_of $A_OFF $AREA_MIB)
[ "\$a" = "$3" ] || fail "md5 at $A_OFF MiB is \$a after the SIGKILL, was $3"
echo "HC-A-MD5 \$a"
EOF
    } > "$4"
}

declare -A A_MD5=() B_MD5=() READY=()
console_value() { # VM TAG: the value after TAG on VM's console
    tr -d '\r' < "$dir/$1.serial" 2>/dev/null | sed -n "s/^$2 //p" | tail -n 1
}
# Release a guest: a line on its control port (a socket QEMU serves).
release() {
    python3 - "$dir/$1.ctl" << 'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
s.sendall(b"go\n")
s.close()
EOF
}

# ---- phase 1: four guests at once ----------------------------------------------
for i in "${VMS[@]}"; do
    want=$BASE_MD5
    [ "$SELFTEST" = 1 ] && [ "$i" = 2 ] && want=00000000000000000000000000000000
    write_script "$i" "$want" "$dir/vm$i.sh"
    hc_vhost_user_args "$dir/vm$i.sock"
    ctl=()
    [ "$i" = 4 ] || ctl=(-chardev "socket,id=ctl,path=$dir/vm$i.ctl,server=on,wait=off" -serial chardev:ctl)
    hc_start "vm$i" "$dir/vm$i.sh" "${HC_VU_ARGS[@]}" "${ctl[@]}"
done
t0=$SECONDS
for i in "${VMS[@]}"; do
    left=$((LIMIT - (SECONDS - t0)))
    if hc_wait_console "vm$i" '^HC-READY' $((left > 10 ? left : 10)); then
        READY[$i]=1
        A_MD5[$i]=$(console_value "vm$i" HC-A-MD5)
        el=$((SECONDS - ${HC_BG_T0[vm$i]}))
        hc_log "vm$i: base read and checked, $AREA_MIB MiB written and verified (${el}s), md5 ${A_MD5[$i]}"
    else
        fail "vm$i: did not read the base and write its area (console above)"
    fi
done

# ---- phase 2: kill vm4 while the others run ---------------------------------------
if [ -n "${READY[4]:-}" ]; then
    running=0
    for i in 1 2 3; do kill -0 "${HC_BG_PID[vm$i]}" 2>/dev/null && running=$((running + 1)); done
    kill -KILL "${HC_BG_PID[vm4]}"
    wait "${HC_BG_PID[vm4]}" 2>/dev/null || true
    unset "HC_BG_PID[vm4]"
    hc_log "vm4: SIGKILLed while writing its scratch area; $running other guests running"
    [ "$running" = 3 ] || [ "$SELFTEST" = 1 ] || fail "only $running of vm1-3 were running when vm4 was killed"
fi
for i in 1 2 3; do
    if [ -n "${READY[$i]:-}" ]; then
        release "vm$i" || fail "vm$i: could not write to its control port"
    fi
done
if [ -n "${READY[4]:-}" ]; then
    # The export takes a new connection after the killed one.
    reboot_script 4 "$BASE_MD5" "${A_MD5[4]}" "$dir/vm4b.sh"
    hc_vhost_user_args "$dir/vm4.sock"
    hc_start vm4b "$dir/vm4b.sh" "${HC_VU_ARGS[@]}"
fi

for n in vm1 vm2 vm3 vm4b; do
    [ -n "${HC_BG_PID[$n]:-}" ] || continue
    left=$((LIMIT - (SECONDS - t0)))
    rc=0
    hc_finish "$n" $((left > 10 ? left : 10)) || rc=$?
    grep -v '^HC-' "$dir/$n.out" | sed "s/^/  [$n] /" >&2 || true
    [ "$rc" = 0 ] || fail "$n: guest script exited $rc"
done
# Guests that failed before HC-READY are still to be collected.
for i in "${VMS[@]}"; do
    [ -n "${HC_BG_PID[vm$i]:-}" ] || continue
    hc_finish "vm$i" 30 || fail "vm$i: guest script exited $?"
done
for i in 1 2 3; do
    B_MD5[$i]=$(console_value "vm$i" HC-B-MD5)
done
hc_log "guests done $((SECONDS - t0))s after they started"

# Each VM wrote its own data: equal md5s would hide a mix-up of overlays.
if [ "$(printf '%s\n' "${A_MD5[@]}" | sort -u | grep -c .)" != ${#A_MD5[@]} ]; then
    fail "two VMs reported the same md5 for their own data: ${A_MD5[*]}"
fi

# ---- the daemon: statistics, flush, memory, quit ----------------------------------
r=$(hc_qmp "$QMP" x-hypercache-query) || hc_die "x-hypercache-query on the daemon failed"
printf '%s\n' "$r" > "$dir/query.json"
# Every node's statistics at once, as S[NODE.STAT] (one Python, not one a value).
declare -A S=()
while read -r k v; do S[$k]=$v; done < <(python3 -c '
import json, sys
for n in json.loads(sys.argv[1]):
    for k, v in n["stats"].items():
        if not isinstance(v, (list, dict)):
            print(n["node-name"] + "." + k, v)' "$r")
node_stat() { echo "${S[$1.$2]:-missing}"; }
hc_log "hcbase: $(node_stat hcbase read-requests) reads, $(node_stat hcbase hit-blocks) blocks hit, $(node_stat hcbase miss-blocks) missed, share $(($(node_stat hcbase capacity-bytes) >> 20)) MiB"
[ "$(node_stat hcbase hit-blocks)" -ge 1 ] ||
    fail "hcbase served no hits: the base is not cached once for the four VMs ($(node_stat hcbase miss-blocks) blocks missed)"
[ "$(node_stat hcbase write-requests)" = 0 ] || fail "hcbase, the read-only base, saw writes"
dirty_rest=0
for i in "${VMS[@]}"; do
    hc_log "hc$i: $(node_stat "hc$i" write-requests) writes, $(node_stat "hc$i" dirty-bytes) bytes dirty, share $(($(node_stat "hc$i" capacity-bytes) >> 20)) MiB, reserve $(($(node_stat "hc$i" reserve) >> 20)) MiB"
    [ "$(node_stat "hc$i" write-requests)" -ge 1 ] || fail "hc$i saw none of vm$i's writes"
    [ "$(node_stat "hc$i" pool)" = p0 ] || fail "hc$i is not in pool p0"
    [ "$i" = 1 ] || dirty_rest=$((dirty_rest + $(node_stat "hc$i" dirty-bytes)))
done
meta=0
for n in hcbase hc1 hc2 hc3 hc4; do meta=$((meta + $(node_stat "$n" metadata-bytes))); done
RSS1=$(rss_anon)

r=$(hc_qmp "$QMP" x-hypercache-flush '{"node-name":"hc1"}') || fail "x-hypercache-flush hc1: $r"
d=$(stat_of hc1 dirty-bytes)
[ "$d" = 0 ] || fail "hc1 has $d dirty bytes after x-hypercache-flush"
hc_log "x-hypercache-flush hc1: dirty 0, $(stat_of hc1 writeback-bytes) bytes written back in all"
# The rest is written by the daemon's quit: there must be something left.
[ "$dirty_rest" -gt 0 ] ||
    fail "hc2..hc4 held no dirty data before the quit: the write-back at exit goes untested"

bound=$(((${POOL%M} << 20) + meta + (RSS_SLACK_MIB << 20)))
grow=$((RSS1 - RSS0))
hc_log "daemon RssAnon: $((RSS0 >> 20)) MiB at start, $((RSS1 >> 20)) MiB after the guests: +$((grow >> 20)) MiB; bound $((bound >> 20)) MiB (pool $POOL + metadata $((meta >> 20)) MiB + slack $RSS_SLACK_MIB MiB)"
[ "$grow" -le "$bound" ] || fail "the daemon's RssAnon grew by $((grow >> 20)) MiB, more than $((bound >> 20)) MiB"

hc_log "quit with $dirty_rest bytes dirty in hc2..hc4"
hc_qmp "$QMP" quit > /dev/null || fail "quit: the daemon did not answer"
t1=$SECONDS
while kill -0 "$HC_QSD_PID" 2>/dev/null && [ $((SECONDS - t1)) -lt 120 ]; do sleep 0.2; done
if kill -0 "$HC_QSD_PID" 2>/dev/null; then
    fail "the daemon did not exit within 120 s of quit"
else
    qrc=0
    wait "$HC_QSD_PID" || qrc=$?
    HC_QSD_PID=
    [ "$qrc" = 0 ] || fail "the daemon exited $qrc: $(tail -n 5 "$dir/qsd.log")"
    hc_log "daemon exited $qrc after $((SECONDS - t1))s"
fi
if [ -s "$dir/qsd.log" ]; then
    hc_log "daemon output:"; sed 's/^/    /' "$dir/qsd.log" >&2
fi

# ---- the host: images ------------------------------------------------------------
if [ "$SELFTEST" = 1 ]; then
    hc_log "self-test: zeroing 64 KiB of ov3's area at $A_OFF MiB"
    "$QEMU_IO" -f qcow2 -c "write -z ${A_OFF}M 64k" "$dir/ov3.qcow2" > /dev/null
fi
# md5 of MiB OFF..OFF+LEN of overlay VM alone: with no backing, only what
# the overlay itself holds is read (unallocated reads as zeroes).
overlay_md5() {
    [ -f "$dir/ov$1.flat" ] ||
        "$QEMU_IMG" convert -O raw "json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"$dir/ov$1.qcow2\"},\"backing\":null}" \
            "$dir/ov$1.flat" || return 1
    dd if="$dir/ov$1.flat" bs=1M skip="$2" count="$3" status=none | md5sum | cut -d' ' -f1
}
for i in "${VMS[@]}"; do
    "$QEMU_IMG" check -q "$dir/ov$i.qcow2" > "$dir/check$i.log" 2>&1 ||
        fail "qemu-img check ov$i.qcow2: $(cat "$dir/check$i.log")"
    [ -n "${A_MD5[$i]:-}" ] || continue
    m=$(overlay_md5 "$i" $A_OFF $AREA_MIB) || m="(unreadable)"
    [ "$m" = "${A_MD5[$i]}" ] ||
        fail "ov$i: $AREA_MIB MiB at $A_OFF MiB have md5 $m on the image, vm$i read ${A_MD5[$i]}"
    if [ "$i" != 4 ] && [ -n "${B_MD5[$i]:-}" ]; then
        m=$(overlay_md5 "$i" $B_OFF $AREA_MIB) || m="(unreadable)"
        [ "$m" = "${B_MD5[$i]}" ] ||
            fail "ov$i: $AREA_MIB MiB at $B_OFF MiB have md5 $m on the image, vm$i read ${B_MD5[$i]}"
    fi
done
[ "$(md5sum < "$dir/base.raw" | cut -d' ' -f1)" = "$BASE_FULL_MD5" ] || fail "the base image changed"
hc_log "host: overlays checked (qemu-img check, md5 of each VM's areas in its overlay alone), base unchanged"

# ---- verdict ---------------------------------------------------------------------
if [ "$SELFTEST" = 1 ]; then
    # Both damages seen, and nothing else failed (vm2's failure takes its
    # writes and hc2's statistics with it).
    seen_base=0 seen_img=0 other=0
    printf '%s\n' "${FAILS[@]}" | grep -q 'vm2.*exited 1' && seen_base=1
    printf '%s\n' "${FAILS[@]}" | grep -qE "^ov3: .* at $A_OFF MiB have md5 [0-9a-f]{32} " && seen_img=1
    other=$(printf '%s\n' "${FAILS[@]}" | grep -vcE "vm2|hc2|^ov3: .* at $A_OFF MiB have md5 [0-9a-f]{32} " || true)
    if [ "$seen_base" = 1 ] && [ "$seen_img" = 1 ] && [ "$other" = 0 ]; then
        echo "PASS: vdi-vhost-user self-test: the wrong base md5 and the damaged overlay were both seen"
        exit 0
    fi
    echo "FAIL: vdi-vhost-user self-test: base damage seen $seen_base, overlay damage seen $seen_img, $other other failures:"
    printf '  - %s\n' "${FAILS[@]}"
    exit 1
fi
if [ ${#FAILS[@]} -eq 0 ]; then
    echo "PASS: vdi-vhost-user: 4 TCG guests on one qemu-storage-daemon (vhost-user-blk, pool $POOL) read the shared base and wrote their overlays; vm4's SIGKILL left the others running and its data intact; the daemon's quit wrote everything back; RssAnon +$((grow >> 20)) MiB of $((bound >> 20)) allowed; $((SECONDS - T_ALL))s"
    exit 0
fi
echo "FAIL: vdi-vhost-user: ${#FAILS[@]} check(s) failed"
printf '  - %s\n' "${FAILS[@]}"
HC_KEEP=1
exit 1
