#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# build-guest.sh OUTDIR: build the e2e test guest from Debian packages only.
#
#   OUTDIR/vmlinuz    Debian's kernel (the one linux-image-amd64 depends on)
#   OUTDIR/vmlinux    the same kernel uncompressed, to boot by its PVH entry
#                     (when it has one, CONFIG_PVH); lib.sh prefers it
#   OUTDIR/initrd.gz  busybox-static, fio, mke2fs/e2fsck, the virtio-blk and
#                     ext4 modules, and an /init that runs /hc/run.sh
#
# The per-run script is not in this initrd: lib.sh appends a second, tiny
# cpio with /hc/run.sh (the kernel unpacks concatenated archives in order),
# so one guest build serves every test.  /init prints the script's output
# between ===HC-RESULT-BEGIN=== and ===HC-RESULT-END rc=N=== on the serial
# console, then powers off.
#
# Idempotent: nothing is rebuilt while OUTDIR/.stamp matches the inputs
# (package versions and this script).  Needs root only to apt-get install
# missing host packages.
set -euo pipefail

OUTDIR=${1:?usage: build-guest.sh OUTDIR}
SELF=$(readlink -f "${BASH_SOURCE[0]}")
HOST_PKGS=(busybox-static fio e2fsprogs cpio gzip)

say() { printf '[build-guest] %s\n' "$*" >&2; }
die() { printf '[build-guest] ERROR: %s\n' "$*" >&2; exit 1; }

# heartbeat LABEL PATH CMD...: run CMD; every 10 s while it runs, say how
# long it has taken and how many MiB PATH holds, so a download or unpack
# that prints nothing still shows progress in a log.
heartbeat() {
    local label=$1 path=$2 pid t0=$SECONDS next
    shift 2
    "$@" &
    pid=$!
    next=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$next" ]; then
            say "... $label: $((SECONDS - t0))s, $(du -sm "$path" 2>/dev/null | cut -f1) MiB so far"
            next=$((next + 10))
        fi
        sleep 1
    done
    wait "$pid"
}

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
WORK=$OUTDIR/work

# One build at a time: tests started side by side share OUTDIR, and two
# builds in one work folder would pack each other's half-made trees.
exec 9> "$OUTDIR/.lock"
if ! flock -n 9; then
    say "another build-guest.sh is running on $OUTDIR; waiting for it (up to 15 min)"
    flock -w 900 9 || die "the other build-guest.sh on $OUTDIR did not finish within 15 min"
fi

# --- host packages: the guest's userland is copied from them -------------
pkg_version() { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '$3 == "installed" {print $4}'; }
missing=()
for p in "${HOST_PKGS[@]}"; do
    [ -n "$(pkg_version "$p")" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}; run: apt-get install -y ${missing[*]}"
    say "installing ${missing[*]}"
    # apt writes its lines as they happen, also into a pipe or a log.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi

# --- which kernel: whatever linux-image-amd64 points at today --------------
kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}'
}
KPKG=$(kernel_pkg)
if [ -z "$KPKG" ]; then
    # A machine without package lists knows no linux-image-amd64 yet.
    say "apt-cache knows no linux-image-amd64; running apt-get update"
    apt-get update -q >&2 || true
    KPKG=$(kernel_pkg)
fi
[ -n "$KPKG" ] || die "cannot resolve linux-image-amd64 to a kernel package"
KVER_PKG=$(apt-cache show --no-all-versions "$KPKG" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1)
[ -n "$KVER_PKG" ] || die "apt-cache show $KPKG gave no version"

# --- stamp: rebuild only when an input changed -----------------------------
stamp_text() {
    echo "kernel $KPKG $KVER_PKG"
    for p in "${HOST_PKGS[@]}" libc6; do echo "pkg $p $(pkg_version "$p")"; done
    echo "script $(sha256sum "$SELF" | cut -d' ' -f1)"
}
STAMP=$(stamp_text)
if [ -f "$OUTDIR/.stamp" ] && [ -s "$OUTDIR/vmlinuz" ] && [ -s "$OUTDIR/initrd.gz" ] &&
    [ "$(cat "$OUTDIR/.stamp")" = "$STAMP" ]; then
    say "up to date: $OUTDIR ($KPKG)"
    exit 0
fi
say "building guest in $OUTDIR ($KPKG $KVER_PKG)"

# --- kernel package: download once, keep the .deb --------------------------
mkdir -p "$WORK/deb"
deb=$(ls "$WORK/deb/${KPKG}_"*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ] || ! dpkg-deb -f "$deb" Version | grep -qxF "$KVER_PKG"; then
    rm -f "$WORK/deb/"*.deb
    say "downloading $KPKG (about 70 MB)"
    # apt's sandbox user may not write here; apt then downloads as root and
    # warns, which is harmless, so only real errors are shown (line by
    # line: grep would otherwise hold them back in a pipe).
    kernel_download() {
        cd "$WORK/deb" && apt-get download -q "$KPKG" 2>&1 |
            grep --line-buffered -v '^W: Download is performed unsandboxed' >&2
    }
    heartbeat "downloading" "$WORK/deb" kernel_download || true
    deb=$(ls "$WORK/deb/${KPKG}_"*.deb 2>/dev/null | head -n 1 || true)
    [ -n "$deb" ] || die "apt-get download $KPKG failed"
fi
say "unpacking $(basename "$deb")"
rm -rf "$WORK/kernel"
heartbeat "unpacking" "$WORK/kernel" dpkg-deb -x "$deb" "$WORK/kernel"
KREL=$(ls "$WORK/kernel/lib/modules" | head -n 1)
MODDIR=$WORK/kernel/lib/modules/$KREL
[ -f "$WORK/kernel/boot/vmlinuz-$KREL" ] || die "no boot/vmlinuz-$KREL in $deb"

# --- root filesystem ---------------------------------------------------------
ROOT=$WORK/root
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,tmp,mnt,run,hc,lib/modules}

say "busybox applets"
cp /bin/busybox "$ROOT/bin/busybox"
# Links made here, not by busybox --install at boot, so /init needs no /proc
# to find itself.
/bin/busybox --list-full | while read -r a; do
    [ "$a" = bin/busybox ] && continue
    mkdir -p "$ROOT/$(dirname "$a")"
    ln -sf /bin/busybox "$ROOT/$a"
done

# Copy a dynamically linked binary with every library ldd lists, at the
# same paths, so Debian's loader finds them by its built-in search path or
# the libraries' own RUNPATH.
copy_elf() {
    local bin=$1 dest=$2 lib
    mkdir -p "$ROOT/$(dirname "$dest")"
    rm -f "$ROOT/$dest"
    cp -L "$bin" "$ROOT/$dest"
    ldd "$bin" | awk '/=> \// {print $3} /^[[:space:]]*\/[^ ]*ld-linux/ {print $1}' |
        while read -r lib; do
            [ -e "$ROOT/$lib" ] && continue
            mkdir -p "$ROOT/$(dirname "$lib")"
            cp -L "$lib" "$ROOT/$lib"
        done
}
say "fio and its libraries"
copy_elf "$(command -v fio)" /usr/bin/fio
say "e2fsprogs (mke2fs, e2fsck)"
copy_elf /sbin/mke2fs /sbin/mke2fs
copy_elf /sbin/e2fsck /sbin/e2fsck
for n in mkfs.ext4 mkfs.ext2 mke2fs.ext4; do ln -sf mke2fs "$ROOT/sbin/$n"; done
ln -sf e2fsck "$ROOT/sbin/fsck.ext4"
[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$ROOT/etc/mke2fs.conf"
# The loader's copy under /lib64 is what ELF interpreters name.
[ -e "$ROOT/lib64/ld-linux-x86-64.so.2" ] || die "loader not copied"

# --- modules: the named roots plus everything their depends= needs ---------
# crc32c_generic is no depends= of ext4/jbd2 (they ask the crypto API for
# "crc32c" at mount time), so it is a root of its own.
ROOT_MODULES=(virtio_blk virtio_pci virtio_ring virtio virtio_pci_legacy_dev
    virtio_pci_modern_dev crc32c_generic libcrc32c crc16 mbcache jbd2 ext4)
say "modules for $KREL"
declare -A MODPATH=() SEEN=()
while IFS= read -r f; do
    n=$(basename "$f"); n=${n%%.ko*}; n=${n//-/_}
    MODPATH[$n]=$f
done < <(find "$MODDIR/kernel" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst')
ORDER=()
mod_depends() {
    local f=$1
    case "$f" in
    *.xz) xz -dc "$f" ;; *.zst) zstd -dcq "$f" ;; *) cat "$f" ;;
    esac | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
}
add_module() { # depth-first: every dependency lands in ORDER before its user
    local n=${1//-/_} d
    [ -n "${SEEN[$n]:-}" ] && return 0
    SEEN[$n]=1
    [ -n "${MODPATH[$n]:-}" ] || die "module $n not in $KPKG (built in? then drop it from ROOT_MODULES)"
    for d in $(mod_depends "${MODPATH[$n]}"); do add_module "$d"; done
    ORDER+=("$n")
}
for m in "${ROOT_MODULES[@]}"; do add_module "$m"; done
for n in "${ORDER[@]}"; do
    f=${MODPATH[$n]}
    case "$f" in
    *.xz) xz -dc "$f" > "$ROOT/lib/modules/$n.ko" ;;
    *.zst) zstd -dcq "$f" > "$ROOT/lib/modules/$n.ko" ;;
    *) cp "$f" "$ROOT/lib/modules/$n.ko" ;;
    esac
done
printf '%s\n' "${ORDER[@]}" > "$ROOT/lib/modules/load-order"
say "load order: ${ORDER[*]}"

# --- /init -------------------------------------------------------------------
cat > "$ROOT/init" <<'INIT'
#!/bin/busybox sh
# hypercache e2e guest: load drivers, run /hc/run.sh, print its output
# between markers, power off.  Never returns to the kernel (that panics).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
# Only warnings and worse on the console, so kernel chatter does not land
# between the result markers.
echo 4 > /proc/sys/kernel/printk
while read -r m; do
    insmod "/lib/modules/$m.ko" || echo "HC-INIT: insmod $m failed"
done < /lib/modules/load-order

# Wait (up to 60 s: a loaded host runs TCG slowly) until every virtio-blk
# device (virtio id 2) has a disk.
want=0
for d in /sys/bus/virtio/devices/*; do
    [ "$(cat "$d/device" 2>/dev/null)" = 0x0002 ] && want=$((want + 1))
done
i=0
while [ "$(ls -d /sys/block/vd* 2>/dev/null | wc -l)" -lt "$want" ] && [ $i -lt 600 ]; do
    sleep 0.1; i=$((i + 1))
done
have=$(ls -d /sys/block/vd* 2>/dev/null | wc -l)
[ "$have" -ge "$want" ] || echo "HC-INIT: only $have of $want virtio disks appeared within 60 s"
echo "HC-INIT: up $(cut -d' ' -f1 /proc/uptime)s, disks: $(cd /sys/block && echo vd* 2>/dev/null)"

# Helpers the run script may use.
hc_progress() { echo "HC-PROGRESS: $*"; }
# Debian's busybox shell runs its own applets before searching PATH, so its
# weak mke2fs would shadow e2fsprogs' one without this (mkfs.ext4 and
# e2fsck are no applets, so PATH finds e2fsprogs for them).
mke2fs() { /sbin/mke2fs "$@"; }

echo "===HC-RESULT-BEGIN==="
if [ -f /hc/run.sh ]; then
    ( cd /hc && . /hc/run.sh ) 2>&1
    rc=$?
else
    echo "no /hc/run.sh in the initrd"
    rc=127
fi
echo "===HC-RESULT-END rc=$rc==="
sync
poweroff -f
INIT
chmod 755 "$ROOT/init"

# --- pack ----------------------------------------------------------------------
say "packing initrd.gz"
pack_initrd() {
    (cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6 > "$OUTDIR/initrd.gz.tmp"
}
heartbeat "packing" "$OUTDIR/initrd.gz.tmp" pack_initrd
mv "$OUTDIR/initrd.gz.tmp" "$OUTDIR/initrd.gz"
cp "$WORK/kernel/boot/vmlinuz-$KREL" "$OUTDIR/vmlinuz"
# The kernel uncompressed, an ELF file with a PVH entry note: QEMU loads it
# straight into guest memory, and the guest skips the bzImage's
# decompressor, 5-10 s of every boot under TCG.  A kernel without
# CONFIG_PVH, or whose payload is not xz, is booted compressed instead.
rm -f "$OUTDIR/vmlinux" "$OUTDIR/vmlinux.tmp"
if grep -qx 'CONFIG_PVH=y' "$WORK/kernel/boot/config-$KREL" 2>/dev/null; then
    say "uncompressing the kernel, to boot it by its PVH entry"
    if python3 - "$WORK/kernel/boot/vmlinuz-$KREL" "$OUTDIR/vmlinux.tmp" <<'PY'; then
import lzma
import sys
data = open(sys.argv[1], "rb").read()
off = data.find(b"\xfd7zXZ\x00")
if off < 0:
    sys.exit("no xz payload in the bzImage")
elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[off:])
if elf[:4] != b"\x7fELF":
    sys.exit("the xz payload is no ELF file")
open(sys.argv[2], "wb").write(elf)
PY
        mv "$OUTDIR/vmlinux.tmp" "$OUTDIR/vmlinux"
    else
        rm -f "$OUTDIR/vmlinux.tmp"
        say "could not uncompress the kernel (above); guests boot the compressed one"
    fi
fi
echo "$KREL" > "$OUTDIR/kernel-release"
# The unpacked trees are cheap to remake; the .deb is what is slow to fetch.
rm -rf "$WORK/kernel" "$ROOT"
echo "$STAMP" > "$OUTDIR/.stamp"
say "done: $OUTDIR/vmlinuz$([ -f "$OUTDIR/vmlinux" ] && echo ", vmlinux"), $OUTDIR/initrd.gz ($(du -h "$OUTDIR/initrd.gz" | cut -f1))"
