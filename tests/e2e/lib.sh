# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# lib.sh: helpers sourced by the e2e scripts (not run by itself).
#
#   hc_init                  find binaries and firmware, make a run folder
#   hc_build_guest           build or reuse the guest (build-guest.sh)
#   hc_kernel                the guest kernel to boot
#   hc_disk_args IMG [SIZE]  -blockdev/-device args for IMG into HC_DISK_ARGS,
#                            through hypercache or not (HC_DRIVER)
#   hc_boot NAME SCRIPT [QEMU ARGS...]
#                            boot the guest under TCG, run SCRIPT in it, return
#                            its exit code; its output is in $HC_RUN_DIR/NAME.out
#   hc_qmp SOCKET CMD [JSON] QMP command (tests/e2e/qmp.py)
#   hc_make_initrd NAME SCRIPT
#                            the guest initrd with SCRIPT as /hc/run.sh, in
#                            $HC_RUN_DIR/NAME.initrd (hc_boot uses it)
#   hc_vhost_user_args SOCKET
#                            QEMU args for a vhost-user-blk disk on SOCKET
#                            (shared memfd guest memory of HC_MEM MiB) into
#                            HC_VU_ARGS
#   hc_start NAME SCRIPT [QEMU ARGS...] / hc_wait_console NAME REGEX SECS /
#   hc_finish NAME SECS      several guests at once: start one in the
#                            background, wait for a console line, wait for
#                            its result (as hc_boot returns it)
#   hc_qsd_start NAME [QSD ARGS...]
#                            qemu-storage-daemon in the background with QMP
#                            on $HC_RUN_DIR/NAME.qmp; pid in HC_QSD_PID
#   hc_ceph_start NAME / hc_ceph_stop
#                            a one-OSD Ceph cluster (ceph-cluster.sh) for an
#                            rbd test; sets CEPH_CONF, CEPH_POOL, CEPH_IMAGE
#
# Environment (all optional):
#   QEMU_SYSTEM QEMU_IMG QEMU_IO QEMU_NBD QSD  binaries; unset ones come from
#                     `./configure-qemu.sh env`, then from QEMU_BUILD
#   QEMU_BUILD        QEMU build folder (default $HC_CACHE/qemu-10.0.13/build)
#   HYPERCACHE_CACHE  cache folder (default ~/.cache/hypercache)
#   HC_GUEST_DIR      guest kernel+initrd (default $HC_CACHE/guest)
#   HC_DEMO_DRIVER    hypercache (default) or none: attach the disk directly
#   HC_AIO            aio= for the file node (default: io_uring if it works
#                     here, else native, else threads)
#   HC_BOOT_TIMEOUT   hard limit per boot in seconds (default 300)
#   HC_ACCEL          tcg (default).  KVM stalls in the guest's decompressor on
#                     these machines, so it is opt-in only.
#   HC_MEM HC_SMP     guest memory (MiB, default 1024) and CPUs (default 1)
#   HC_KEEP=1         keep the run folder (serial logs, images) after exit
#   HC_VERBOSE=1      echo the whole serial console while the guest runs

HC_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HC_TOP=$(cd "$HC_E2E_DIR/../.." && pwd)
HC_CACHE=${HYPERCACHE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hypercache}
HC_GUEST_DIR=${HC_GUEST_DIR:-$HC_CACHE/guest}
HC_DRIVER=${HC_DEMO_DRIVER:-hypercache}
HC_BOOT_TIMEOUT=${HC_BOOT_TIMEOUT:-300}
HC_GUEST_FILES=()
HC_QEMU_PID=
HC_QSD_PID=
# Background guests (hc_start): QEMU pid, start time and console lines
# relayed, by name.
declare -A HC_BG_PID=() HC_BG_T0=() HC_BG_SEEN=()
HC_T0=$SECONDS

hc_log() { printf '[%s +%3ds] %s\n' "${HC_LOG_TAG:-e2e}" $((SECONDS - HC_T0)) "$*" >&2; }

# Checked tests collect their failures here and report them all at the end.
FAILS=()
fail() { FAILS+=("$*"); hc_log "FAIL: $*"; }
hc_die() { printf '[%s] ERROR: %s\n' "${HC_LOG_TAG:-e2e}" "$*" >&2; exit 1; }

# Binaries: the environment wins, then configure-qemu.sh's own answer (it
# knows where it built), then the default build folder.
hc_find_bins() {
    local line build
    if [ -z "${QEMU_SYSTEM:-}" ] && [ -f "$HC_TOP/configure-qemu.sh" ]; then
        while IFS= read -r line; do
            line=${line#export }
            case "$line" in
            QEMU_SYSTEM=* | QEMU_IMG=* | QEMU_IO=* | QEMU_NBD=* | QSD=*)
                # Only assignments to these names are taken from its output.
                eval "$line" ;;
            esac
        done < <(timeout 60 bash "$HC_TOP/configure-qemu.sh" env 2>/dev/null || true)
    fi
    build=${QEMU_BUILD:-$HC_CACHE/qemu-10.0.13/build}
    QEMU_SYSTEM=${QEMU_SYSTEM:-$build/qemu-system-x86_64}
    QEMU_IMG=${QEMU_IMG:-$build/qemu-img}
    QEMU_IO=${QEMU_IO:-$build/qemu-io}
    QEMU_NBD=${QEMU_NBD:-$build/qemu-nbd}
    QSD=${QSD:-$build/storage-daemon/qemu-storage-daemon}
    export QEMU_SYSTEM QEMU_IMG QEMU_IO QEMU_NBD QSD
}

hc_require() { # NAME...: each named variable must point at an executable
    local v
    for v in "$@"; do
        [ -x "${!v}" ] || hc_die "$v=${!v} is not an executable; build QEMU first (./configure-qemu.sh build) or set $v"
    done
}

# Firmware: the lean QEMU build installs no blobs; Debian's seabios and
# qemu-system-data (option ROMs such as linuxboot_dma.bin) stand in.
hc_firmware_args() {
    local d
    HC_FW_ARGS=()
    for d in ${HC_FIRMWARE_DIRS:-/usr/share/seabios /usr/share/qemu}; do
        [ -d "$d" ] && HC_FW_ARGS+=(-L "$d")
    done
    [ -f /usr/share/seabios/bios-256k.bin ] || [ -n "${HC_FIRMWARE_DIRS:-}" ] ||
        hc_die "no /usr/share/seabios/bios-256k.bin; run: apt-get install -y seabios qemu-system-data"
}

hc_cleanup() {
    local n
    hc_ceph_stop
    for n in "${!HC_BG_PID[@]}"; do
        kill -KILL "${HC_BG_PID[$n]}" 2>/dev/null || true
        wait "${HC_BG_PID[$n]}" 2>/dev/null || true
        unset "HC_BG_PID[$n]"
    done
    if [ -n "$HC_QSD_PID" ] && kill -0 "$HC_QSD_PID" 2>/dev/null; then
        kill "$HC_QSD_PID" 2>/dev/null || true
        wait "$HC_QSD_PID" 2>/dev/null || true
    fi
    HC_QSD_PID=
    if [ -n "$HC_QEMU_PID" ] && kill -0 "$HC_QEMU_PID" 2>/dev/null; then
        kill "$HC_QEMU_PID" 2>/dev/null || true
        wait "$HC_QEMU_PID" 2>/dev/null || true
    fi
    HC_QEMU_PID=
    if [ -n "${HC_RUN_DIR:-}" ] && [ -d "$HC_RUN_DIR" ]; then
        if [ "${HC_KEEP:-0}" = 1 ]; then
            hc_log "kept $HC_RUN_DIR"
        else
            rm -rf "$HC_RUN_DIR"
        fi
    fi
}

# Call once at the top of a test.  A script with its own EXIT trap must call
# hc_cleanup from it.
hc_init() {
    hc_find_bins
    hc_require QEMU_SYSTEM
    hc_firmware_args
    command -v python3 > /dev/null || hc_die "python3 is needed for QMP"
    # Short path: QMP's unix socket path must fit in 108 bytes.
    HC_RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/hc-e2e.XXXXXX")
    trap hc_cleanup EXIT
    trap 'exit 130' INT TERM
}

hc_build_guest() {
    bash "$HC_E2E_DIR/build-guest.sh" "$HC_GUEST_DIR"
}

# The guest kernel to boot: uncompressed by its PVH entry when build-guest.sh
# could make that (seconds faster under TCG), else the bzImage.
hc_kernel() {
    if [ -s "$HC_GUEST_DIR/vmlinux" ]; then
        echo "$HC_GUEST_DIR/vmlinux"
    else
        echo "$HC_GUEST_DIR/vmlinuz"
    fi
}

# True when QEMU knows block driver $1 (qemu-img lists every registered one).
hc_have_driver() {
    "$QEMU_IMG" --help 2>/dev/null |
        awk '/^Supported (image )?formats:/ { f = 1; sub(/^[^:]*:/, "") } /^See / { f = 0 } f' |
        tr -s ' \t' '\n\n' | grep -qxF "$1"
}

# Pick aio= for a file node with cache.direct=on: io_uring can be compiled in
# and still refused by the kernel or a seccomp policy, so try it for real.
hc_pick_aio() { # $1 = an existing image
    local aio
    if [ -n "${HC_AIO:-}" ]; then echo "$HC_AIO"; return; fi
    for aio in io_uring native threads; do
        if "$QEMU_IO" -f raw -t none -i "$aio" -c 'read 0 4k' "$1" > /dev/null 2>&1; then
            echo "$aio"; return
        fi
    done
    echo threads
}

# Fill HC_DISK_ARGS with the disk stack for image $1: file node disk0, then,
# unless HC_DRIVER=none, hypercache node hc0 of size $2 on top; the
# virtio-blk device (id vd0) sits on the top node.
hc_disk_args() {
    local img=${1//,/,,} size=${2:-256M} aio
    aio=$(hc_pick_aio "$1")
    HC_DISK_ARGS=(-blockdev "driver=file,node-name=disk0,filename=$img,cache.direct=on,aio=$aio")
    case "$HC_DRIVER" in
    none)
        HC_TOP_NODE=disk0 ;;
    hypercache)
        HC_DISK_ARGS+=(-blockdev "driver=hypercache,node-name=hc0,file=disk0,size=$size")
        HC_TOP_NODE=hc0 ;;
    *)
        hc_die "HC_DEMO_DRIVER=$HC_DRIVER: use hypercache or none" ;;
    esac
    HC_DISK_ARGS+=(-device "virtio-blk-pci,drive=$HC_TOP_NODE,id=vd0")
    # shellcheck disable=SC2034 # read by the scripts that source this
    HC_AIO_USED=$aio
}

# Refuse early, with a hint, when hypercache is asked for but not built in.
hc_check_driver() {
    [ "$HC_DRIVER" = none ] && return 0
    hc_require QEMU_IMG
    hc_have_driver "$HC_DRIVER" && return 0
    return 1
}

hc_qmp() { python3 "$HC_E2E_DIR/qmp.py" "$@"; }

# A one-OSD Ceph cluster for test NAME, in a folder fixed per checkout and
# test: a run killed half-way leaves its daemons there, and the next run's
# start stops them first.  Ceph that cannot start fails the test.  With
# HC_CEPH_SHARED=DIR (tests/run-all.sh starts one cluster for all the rbd
# tests), that cluster is used instead, with an image of the test's own.
HC_CEPH_DIR=
HC_CEPH_OWN_IMAGE=
hc_ceph_start() { # NAME [IMAGE_SIZE_MB]
    local out line
    if [ -n "${HC_CEPH_SHARED:-}" ]; then
        export CEPH_CONF=$HC_CEPH_SHARED/ceph.conf CEPH_POOL=hc
        export CEPH_IMAGE=$1-$$
        HC_CEPH_DIR=$HC_CEPH_SHARED
        HC_CEPH_OWN_IMAGE=$CEPH_POOL/$CEPH_IMAGE
        hc_log "using the shared Ceph cluster in $HC_CEPH_DIR, image $CEPH_POOL/$CEPH_IMAGE"
        rbd --conf "$CEPH_CONF" create --size "${2:-64}M" "$CEPH_POOL/$CEPH_IMAGE" ||
            hc_die "rbd create $CEPH_POOL/$CEPH_IMAGE in the shared cluster $HC_CEPH_SHARED failed"
        return 0
    fi
    HC_CEPH_DIR=/tmp/hc-ceph-$1-$(echo "$HC_TOP" | md5sum | cut -c1-8)
    hc_log "starting a one-OSD Ceph cluster in $HC_CEPH_DIR"
    out=$(bash "$HC_E2E_DIR/ceph-cluster.sh" start "$HC_CEPH_DIR" "${2:-64}") ||
        hc_die "the Ceph cluster did not start (see above; logs in $HC_CEPH_DIR/log)"
    while IFS= read -r line; do
        case "$line" in
        CEPH_CONF=* | CEPH_POOL=* | CEPH_IMAGE=*) export "${line?}" ;;
        esac
    done <<< "$out"
    [ -n "${CEPH_CONF:-}" ] || hc_die "ceph-cluster.sh printed no CEPH_CONF"
}

hc_ceph_stop() {
    [ -n "$HC_CEPH_DIR" ] || return 0
    # A shared cluster is never stopped here, only our image removed.
    if [ -n "$HC_CEPH_OWN_IMAGE" ] || [ "$HC_CEPH_DIR" = "${HC_CEPH_SHARED:-}" ]; then
        [ -z "$HC_CEPH_OWN_IMAGE" ] ||
            rbd --conf "$HC_CEPH_DIR/ceph.conf" rm --no-progress "$HC_CEPH_OWN_IMAGE" > /dev/null 2>&1 ||
            hc_log "$HC_CEPH_OWN_IMAGE left in the shared cluster (a killed client's watch holds it for 30 s); it goes with the cluster"
        HC_CEPH_OWN_IMAGE=''
        HC_CEPH_DIR=''
        return 0
    fi
    bash "$HC_E2E_DIR/ceph-cluster.sh" stop "$HC_CEPH_DIR" ||
        hc_log "could not stop the Ceph cluster in $HC_CEPH_DIR"
    HC_CEPH_DIR=
}

hc_relay_progress() { # $1 log, $2 NAME; prints lines after line $HC_SEEN
    local total
    [ -f "$1" ] || return 0
    total=$(wc -l < "$1")
    [ "$total" -gt "$HC_SEEN" ] || return 0
    if [ "${HC_VERBOSE:-0}" = 1 ]; then
        sed -n "$((HC_SEEN + 1)),${total}p" "$1" | tr -d '\r' | sed "s/^/  [$2] /" >&2
    else
        sed -n "$((HC_SEEN + 1)),${total}p" "$1" | tr -d '\r' |
            sed -n 's/^HC-PROGRESS: //p; s/^HC-INIT: //p' |
            while IFS= read -r l; do hc_log "$2: $l"; done
    fi
    HC_SEEN=$total
}

# hc_make_initrd NAME SCRIPT: the run script (and HC_GUEST_FILES) ride in
# a second cpio appended to the base initrd, $HC_RUN_DIR/NAME.initrd.
hc_make_initrd() {
    local name=$1 script=$2 f stage=$HC_RUN_DIR/$1.stage
    [ -f "$HC_GUEST_DIR/initrd.gz" ] || hc_die "no guest in $HC_GUEST_DIR; call hc_build_guest"
    rm -rf "$stage" && mkdir -p "$stage/hc"
    cp "$script" "$stage/hc/run.sh"
    for f in "${HC_GUEST_FILES[@]}"; do cp "$f" "$stage/hc/"; done
    (cd "$stage" && find hc | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
        gzip -1 | cat "$HC_GUEST_DIR/initrd.gz" - > "$HC_RUN_DIR/$name.initrd"
    rm -rf "$stage"
}

# Boots the guest with SCRIPT as /hc/run.sh (files in HC_GUEST_FILES are
# copied next to it), relays its HC-PROGRESS lines, and returns its exit
# code (124: timed out, 125: no result markers, QEMU or kernel failed).
# With HC_BOOT_HOOK=func, QEMU is kept alive after the guest powers off
# (-no-shutdown) and `func QMP_SOCKET` runs before QEMU is told to quit, so
# statistics can be read from a VM whose I/O is complete.
hc_boot() {
    local name=$1 script=$2 f
    shift 2
    local dir=$HC_RUN_DIR
    local log=$dir/$name.serial qmp=$dir/$name.qmp
    local t=$HC_BOOT_TIMEOUT hook=${HC_BOOT_HOOK:-}

    hc_make_initrd "$name" "$script"
    rm -f "$log" "$qmp"

    local -a cmd=(timeout -k 5 "$t" "$QEMU_SYSTEM"
        -accel "${HC_ACCEL:-tcg}" -machine pc -m "${HC_MEM:-1024}" -smp "${HC_SMP:-1}"
        -nodefaults -no-user-config -display none "${HC_FW_ARGS[@]}"
        -serial "file:$log" -qmp "unix:$qmp,server=on,wait=off" -no-reboot
        -kernel "$(hc_kernel)" -initrd "$dir/$name.initrd"
        -append "console=ttyS0 quiet panic=-1 ${HC_APPEND:-}")
    [ -n "$hook" ] && cmd+=(-no-shutdown)
    cmd+=("$@")
    printf '%q ' "${cmd[@]}" > "$dir/$name.cmdline"

    hc_log "$name: booting (${HC_ACCEL:-tcg}, limit ${t}s)"
    local t0=$SECONDS timed_out=0 st hook_failed=0
    "${cmd[@]}" > "$dir/$name.qemu.log" 2>&1 &
    HC_QEMU_PID=$!
    HC_SEEN=0
    while kill -0 "$HC_QEMU_PID" 2>/dev/null; do
        hc_relay_progress "$log" "$name"
        if [ -n "$hook" ] && [ -f "$log" ] &&
            tr -d '\r' < "$log" | grep -qE '^===HC-RESULT-END|Kernel panic'; then
            # Wait for the guest's poweroff to land (its final sync can
            # take a while: write-back of the whole WB), so its I/O is
            # complete when the hook reads statistics; within the boot's
            # own limit.
            st=
            while [ "$st" != shutdown ] && [ "$st" != guest-panicked ] &&
                [ $((SECONDS - t0)) -le "$t" ]; do
                sleep 0.5
                st=$(hc_qmp "$qmp" --status 2>/dev/null || true)
            done
            if [ "$st" = shutdown ] || [ "$st" = guest-panicked ]; then
                "$hook" "$qmp" || hc_log "$name: hook $hook failed (rc $?)"
            else
                hc_log "$name: the guest did not power off within ${t}s (QEMU status '$st'); $hook not run"
                hook_failed=1
            fi
            hc_qmp "$qmp" quit > /dev/null 2>&1 || true
            break
        fi
        if [ $((SECONDS - t0)) -gt "$t" ]; then
            timed_out=1
            break
        fi
        sleep 0.5
    done
    wait "$HC_QEMU_PID" 2>/dev/null || true
    HC_QEMU_PID=
    hc_relay_progress "$log" "$name"

    tr -d '\r' < "$log" 2>/dev/null |
        sed -n '/^===HC-RESULT-BEGIN===$/,/^===HC-RESULT-END/p' |
        sed '1d;$d' | grep -v '^HC-PROGRESS: ' > "$dir/$name.out" || true
    local grc
    grc=$(tr -d '\r' < "$log" 2>/dev/null | sed -n 's/^===HC-RESULT-END rc=\([0-9]*\)===$/\1/p' | tail -n 1)
    if [ -z "$grc" ]; then
        if [ "$timed_out" = 1 ] || [ $((SECONDS - t0)) -ge "$t" ]; then
            hc_log "$name: TIMED OUT after ${t}s"; grc=124
        else
            hc_log "$name: guest gave no result (QEMU or kernel failed)"; grc=125
        fi
        hc_show_failure "$name"
        return "$grc"
    fi
    hc_log "$name: guest script exited $grc after $((SECONDS - t0))s"
    if [ "$hook_failed" = 1 ] && [ "$grc" = 0 ]; then
        hc_show_failure "$name"
        return 124
    fi
    return "$grc"
}

hc_show_failure() { # $1 = NAME: the tails of the logs of that boot
    local dir=$HC_RUN_DIR
    echo "--- QEMU: $(cat "$dir/$1.cmdline" 2>/dev/null)" >&2
    tail -n 20 "$dir/$1.qemu.log" >&2 2>/dev/null || true
    echo "--- serial console (last 40 lines):" >&2
    tr -d '\r' < "$dir/$1.serial" 2>/dev/null | tail -n 40 >&2 || true
    echo "---" >&2
}

# ---- several guests at once, disks in a qemu-storage-daemon -----------------

# hc_vhost_user_args SOCKET: a vhost-user-blk disk served on SOCKET (by
# qemu-storage-daemon's vhost-user-blk export).  The back end reads and
# writes guest memory directly, so the memory must be a shared memfd; its
# size is the guest's -m (HC_MEM, default 1024), and -machine options merge.
hc_vhost_user_args() {
    local mem=${HC_MEM:-1024}
    # shellcheck disable=SC2034,SC2054 # read by the scripts that source this
    HC_VU_ARGS=(-object "memory-backend-memfd,id=mem,size=${mem}M,share=on"
        -machine memory-backend=mem
        -chardev "socket,id=vu0,path=${1//,/,,}"
        -device vhost-user-blk-pci,chardev=vu0,id=vd0)
}

# hc_start NAME SCRIPT [QEMU ARGS...]
# As hc_boot, but in the background and without `timeout` in front, so that
# a SIGKILL of ${HC_BG_PID[NAME]} hits QEMU itself; hc_finish bounds it.
hc_start() {
    local name=$1 script=$2
    shift 2
    local dir=$HC_RUN_DIR
    hc_make_initrd "$name" "$script"
    rm -f "$dir/$name.serial" "$dir/$name.qmp" "$dir/$name.out"
    local -a cmd=("$QEMU_SYSTEM"
        -accel "${HC_ACCEL:-tcg}" -machine pc -m "${HC_MEM:-1024}" -smp "${HC_SMP:-1}"
        -nodefaults -no-user-config -display none "${HC_FW_ARGS[@]}"
        -serial "file:$dir/$name.serial" -qmp "unix:$dir/$name.qmp,server=on,wait=off" -no-reboot
        -kernel "$(hc_kernel)" -initrd "$dir/$name.initrd"
        -append "console=ttyS0 quiet panic=-1 ${HC_APPEND:-}" "$@")
    printf '%q ' "${cmd[@]}" > "$dir/$name.cmdline"
    hc_log "$name: starting (${HC_ACCEL:-tcg}, in the background)"
    "${cmd[@]}" > "$dir/$name.qemu.log" 2>&1 &
    HC_BG_PID[$name]=$!
    HC_BG_T0[$name]=$SECONDS
    HC_BG_SEEN[$name]=0
}

hc_bg_relay() { # NAME: relay its new HC-PROGRESS lines
    HC_SEEN=${HC_BG_SEEN[$1]:-0}
    hc_relay_progress "$HC_RUN_DIR/$1.serial" "$1"
    HC_BG_SEEN[$1]=$HC_SEEN
}

# hc_wait_console NAME REGEX SECS: wait until a console line of guest NAME
# matches REGEX (grep -E).  Returns 1, with the logs shown, if the guest
# ends, fails or does not get there within SECS.
hc_wait_console() {
    local name=$1 re=$2 limit=$3 t0=$SECONDS log=$HC_RUN_DIR/$1.serial
    while :; do
        hc_bg_relay "$name"
        tr -d '\r' < "$log" 2>/dev/null | grep -qE "$re" && return 0
        if tr -d '\r' < "$log" 2>/dev/null | grep -qE '^===HC-RESULT-END|^FAIL:|Kernel panic' ||
            ! kill -0 "${HC_BG_PID[$name]}" 2>/dev/null; then
            hc_log "$name: ended before printing /$re/"
            hc_show_failure "$name"
            return 1
        fi
        if [ $((SECONDS - t0)) -ge "$limit" ]; then
            hc_log "$name: no /$re/ on the console within ${limit}s"
            hc_show_failure "$name"
            return 1
        fi
        sleep 0.5
    done
}

# hc_finish NAME SECS: wait (up to SECS from now) for guest NAME to power
# off, then return its script's exit code as hc_boot does (124: timed out
# and killed, 125: no result markers); its output is in $HC_RUN_DIR/NAME.out.
hc_finish() {
    local name=$1 limit=$2 t0=$SECONDS pid=${HC_BG_PID[$1]} log=$HC_RUN_DIR/$1.serial
    local timed_out=0 grc
    while kill -0 "$pid" 2>/dev/null; do
        hc_bg_relay "$name"
        if [ $((SECONDS - t0)) -ge "$limit" ]; then
            timed_out=1
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.5
    done
    wait "$pid" 2>/dev/null || true
    unset "HC_BG_PID[$name]"
    hc_bg_relay "$name"
    tr -d '\r' < "$log" 2>/dev/null |
        sed -n '/^===HC-RESULT-BEGIN===$/,/^===HC-RESULT-END/p' |
        sed '1d;$d' | grep -v '^HC-PROGRESS: ' > "$HC_RUN_DIR/$name.out" || true
    grc=$(tr -d '\r' < "$log" 2>/dev/null | sed -n 's/^===HC-RESULT-END rc=\([0-9]*\)===$/\1/p' | tail -n 1)
    if [ -z "$grc" ]; then
        if [ "$timed_out" = 1 ]; then
            hc_log "$name: TIMED OUT ${limit}s after hc_finish began waiting; killed"; grc=124
        else
            hc_log "$name: guest gave no result (QEMU or kernel failed)"; grc=125
        fi
        hc_show_failure "$name"
        return "$grc"
    fi
    hc_log "$name: guest script exited $grc, $((SECONDS - ${HC_BG_T0[$name]}))s after its start"
    return "$grc"
}

# hc_qsd_start NAME [QSD ARGS...]: qemu-storage-daemon with QMP on
# $HC_RUN_DIR/NAME.qmp, its output in NAME.log; returns once QMP answers
# (1, with the log shown, if the daemon exits or QMP does not answer
# within 60 s).
hc_qsd_start() {
    local name=$1 dir=$HC_RUN_DIR t0=$SECONDS
    shift
    hc_require QSD
    rm -f "$dir/$name.qmp"
    local -a cmd=("$QSD" --chardev "socket,id=qmp0,path=$dir/$name.qmp,server=on,wait=off"
        --monitor chardev=qmp0 "$@")
    printf '%q ' "${cmd[@]}" > "$dir/$name.cmdline"
    "${cmd[@]}" > "$dir/$name.log" 2>&1 &
    HC_QSD_PID=$!
    while ! hc_qmp "$dir/$name.qmp" query-version > /dev/null 2>&1; do
        if ! kill -0 "$HC_QSD_PID" 2>/dev/null || [ $((SECONDS - t0)) -ge 60 ]; then
            hc_log "$name: qemu-storage-daemon did not come up: $(cat "$dir/$name.cmdline")"
            cat "$dir/$name.log" >&2
            return 1
        fi
        sleep 0.2
    done
}
