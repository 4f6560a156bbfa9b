# SPDX-License-Identifier: GPL-2.0-or-later
# Fetch QEMU's source, graft hypercache into it, configure and build.
# Sourced by configure-qemu.sh, which defines TOP, CACHE, JOBS, step, die.

QEMU_DSC=qemu_10.0.13+ds-0+deb13u1.dsc
# sha256 of Debian's source package files (apt also checks them against the
# signed archive index; these pin the exact bytes we tested).
HC_QEMU_SHA256="\
a426c892e5369058c3423816c8625bc8010bb5a58ece57261f62b64ee4d765ad  qemu_10.0.13+ds-0+deb13u1.dsc
6a0888e806c2ffc0c5f0733e974f9aea55491950d3c47c98669c8b236dde59ae  qemu_10.0.13+ds.orig.tar.xz
da73c092f5684c551b0334d675eb16a3dec91e1edea94759cfb1102fa4a0364e  qemu_10.0.13+ds-0+deb13u1.debian.tar.xz"

HC_CONFIGURE_ARGS=(
    --target-list=x86_64-softmmu --enable-tools
    --enable-kvm --enable-linux-io-uring --enable-linux-aio --enable-slirp
    --enable-rbd
    --disable-install-blobs --disable-docs --disable-download --disable-werror
    --disable-gtk --disable-sdl --disable-vnc --disable-opengl --disable-spice
    --disable-rust
)
HC_TARGETS=(qemu-system-x86_64 qemu-img qemu-io qemu-nbd
            storage-daemon/qemu-storage-daemon
            tests/unit/test-hypercache-mq)

# Where the QEMU tree and its build live.
if [ -n "${QEMU_SRC:-}" ]; then
    QEMU_TREE=$(cd "$QEMU_SRC" && pwd) || die "QEMU_SRC=$QEMU_SRC is not a folder"
    QEMU_BUILD=${QEMU_BUILD:-$CACHE/build-$(echo "$QEMU_TREE" | md5sum | cut -c1-8)}
else
    QEMU_TREE=$CACHE/qemu-$QEMU_UPSTREAM
    QEMU_BUILD=${QEMU_BUILD:-$QEMU_TREE/build}
fi

# hc_heartbeat LABEL [--size PATH] CMD...: run CMD; while it runs, print
# "... LABEL: Ns" (and PATH's size so far) every HC_HEARTBEAT seconds
# (default 15), so that a step which prints nothing for a minute (a
# download, an unpack, QEMU's configure) still shows it is alive in a log.
# Returns CMD's exit status.
hc_heartbeat() {
    local label=$1 size='' pid t0=$SECONDS next every=${HC_HEARTBEAT:-15} mb
    shift
    if [ "${1:-}" = --size ]; then
        size=$2
        shift 2
    fi
    "$@" &
    pid=$!
    next=$((SECONDS + every))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$next" ]; then
            mb=
            [ -n "$size" ] && mb=", $(du -sm "$size" 2>/dev/null | cut -f1) MiB so far"
            echo "    ... $label: $((SECONDS - t0))s$mb"
            next=$((next + every))
        fi
        sleep 1
    done
    wait "$pid"
}

hc_in_dir() { # DIR CMD...: CMD run in DIR
    local d=$1
    shift
    (cd "$d" && "$@")
}
hc_quiet() { "$@" > /dev/null; }
hc_logged() { # LOG CMD...: CMD with its output in LOG
    local log=$1
    shift
    "$@" > "$log" 2>&1
}

hc_fetch_qemu() {
    step "QEMU source"
    if [ -n "${QEMU_SRC:-}" ]; then
        [ -f "$QEMU_TREE/block/io.c" ] || die "QEMU_SRC=$QEMU_SRC does not look like a QEMU tree (no block/io.c)"
        echo "using the QEMU tree in $QEMU_TREE"
        return 0
    fi
    if [ -f "$QEMU_TREE/.hypercache-unpacked" ]; then
        echo "Debian's qemu $QEMU_DEB_VERSION already unpacked in $QEMU_TREE"
        return 0
    fi
    local dl=$CACHE/dl
    mkdir -p "$dl"
    if ! (cd "$dl" && echo "$HC_QEMU_SHA256" | sha256sum --quiet -c - >/dev/null 2>&1); then
        echo "downloading Debian's source package qemu=$QEMU_DEB_VERSION (trixie)"
        hc_apt_update
        hc_heartbeat "downloading" --size "$dl" \
            hc_in_dir "$dl" apt-get source -q --download-only "qemu=$QEMU_DEB_VERSION" ||
            die "apt-get source qemu=$QEMU_DEB_VERSION failed; is the trixie deb-src entry in /etc/apt/sources.list.d/hypercache.sources reachable?"
    fi
    (cd "$dl" && echo "$HC_QEMU_SHA256" | sha256sum --quiet -c -) ||
        die "checksum mismatch in $dl; delete it and rerun"
    echo "unpacking with dpkg-source (applies Debian's patches)"
    rm -rf "$QEMU_TREE" "$QEMU_TREE.tmp"
    hc_heartbeat "unpacking" --size "$QEMU_TREE.tmp" \
        hc_in_dir "$dl" hc_quiet dpkg-source -q -x "$QEMU_DSC" "$QEMU_TREE.tmp" ||
        die "dpkg-source -x $QEMU_DSC failed"
    mv "$QEMU_TREE.tmp" "$QEMU_TREE"
    touch "$QEMU_TREE/.hypercache-unpacked"
}

# New files are symlinked, so an edit in the checkout is rebuilt in the tree.
HC_LINKS=(
    block/hypercache.c
    block/hypercache-int.h
    block/hypercache-qmp.c
    block/hypercache-hmp.c
    block/hypercache-hotset.c
    block/hypercache-pool.c
    block/hypercache
    include/block/hypercache-core.h
    docs/system/hypercache.rst
)
# Files that live elsewhere in the tree than here: "ours:theirs".
HC_LINKS_MOVED=(
    tests/qemu-unit/test-hypercache-mq.c:tests/unit/test-hypercache-mq.c
    tests/qemu-unit/hypercache-mq.h:tests/unit/hypercache-mq.h
    tests/qemu-unit/hypercache-mq-common.c:tests/unit/hypercache-mq-common.c
    tests/qemu-unit/hypercache-mq-bench.c:tests/unit/hypercache-mq-bench.c
)

hc_graft() {
    step "graft hypercache into the QEMU tree"
    local f t
    for f in "${HC_LINKS[@]}" "${HC_LINKS_MOVED[@]}"; do
        t=$QEMU_TREE/${f#*:}
        if [ -e "$t" ] && [ ! -L "$t" ]; then
            die "$t exists and is not our symlink: is this tree already patched by something else?"
        fi
        ln -sfn "$TOP/${f%%:*}" "$t"
    done
    for f in "$TOP"/tests/qemu-iotests/tests/hypercache-*; do
        [ -e "$f" ] || continue
        ln -sfn "$f" "$QEMU_TREE/tests/qemu-iotests/tests/$(basename "$f")"
    done
    # Remove links to iotests that were deleted here.
    for t in "$QEMU_TREE"/tests/qemu-iotests/tests/hypercache-*; do
        [ -L "$t" ] && [ ! -e "$t" ] && rm -f "$t"
    done
    # ninja goes by mtimes: after the links move to another checkout whose
    # files are older than what the last one built, it would rebuild
    # nothing (and miss new sources).  Drop our objects and make meson
    # read the build files again.
    local stamp=$QEMU_TREE/.hypercache-top
    if [ -d "$QEMU_BUILD" ] && [ "$(cat "$stamp" 2>/dev/null)" != "$TOP" ]; then
        (cd "$QEMU_BUILD" && find . -path '*hypercache*' -name '*.o' -delete)
        touch "$QEMU_TREE/block/meson.build"
    fi
    echo "$TOP" > "$stamp"
    hc_apply_patches
}

# The series is applied in file-name order.  What was applied is recorded in
# the tree, so a changed series is first reversed and then applied anew.
hc_apply_patches() {
    local applied=$QEMU_TREE/.hypercache-patches new=$TOP/patches p
    mkdir -p "$applied"
    if diff -rq "$applied" "$new" >/dev/null 2>&1; then
        echo "patch series already applied ($(ls "$new" | wc -l) patches)"
        return 0
    fi
    for p in $(ls -r "$applied"/*.patch 2>/dev/null); do
        echo "reverting old $(basename "$p")"
        patch -s -d "$QEMU_TREE" -p1 -R -N < "$p" ||
            die "could not revert $(basename "$p"); remove $QEMU_TREE and rerun"
        rm -f "$p"
    done
    for p in "$new"/*.patch; do
        echo "applying $(basename "$p")"
        if ! patch -s -d "$QEMU_TREE" -p1 -N --dry-run < "$p" >/dev/null; then
            die "patches/$(basename "$p") does not apply to $QEMU_TREE; hypercache is pinned to QEMU $QEMU_UPSTREAM (Debian $QEMU_DEB_VERSION)"
        fi
        patch -s -d "$QEMU_TREE" -p1 -N < "$p"
        cp "$p" "$applied/"
    done
}

hc_configure() {
    step "configure QEMU (lean: x86_64-softmmu + tools)"
    local want="${HC_CONFIGURE_ARGS[*]}"
    if [ -f "$QEMU_BUILD/build.ninja" ] &&
       [ "$(cat "$QEMU_BUILD/.hypercache-configure" 2>/dev/null)" = "$want" ]; then
        echo "already configured in $QEMU_BUILD"
        return 0
    fi
    mkdir -p "$QEMU_BUILD"
    hc_heartbeat "configuring" hc_in_dir "$QEMU_BUILD" hc_logged "$QEMU_BUILD/configure.log" \
        "$QEMU_TREE/configure" --python=/usr/bin/python3 "${HC_CONFIGURE_ARGS[@]}" || {
        tail -n 30 "$QEMU_BUILD/configure.log" >&2
        die "QEMU's configure failed; full log in $QEMU_BUILD/configure.log"
    }
    echo "$want" > "$QEMU_BUILD/.hypercache-configure"
    echo "configured in $QEMU_BUILD"
}

# ninja's [n/N] counter is the progress: one rewritten line on a terminal,
# every 100th step in a log.  Not awk: into a pipe or a file it holds
# lines back until the build ends, and Debian's mawk also buffers its
# input, so even fflush() would not help.  bash's read takes one line at a
# time and printf writes it at once.
hc_progress() {
    local l
    if [ -t 1 ]; then
        while IFS= read -r l; do printf '\r\033[K%s' "${l:0:110}"; done
        echo
    else
        while IFS= read -r l; do
            if [[ $l =~ ^\[([0-9]+)/([0-9]+)\] ]] &&
                [ $((10#${BASH_REMATCH[1]} % 100)) -ne 0 ] &&
                [ "${BASH_REMATCH[1]}" != "${BASH_REMATCH[2]}" ]; then
                continue
            fi
            printf '%s\n' "$l"
        done
    fi
}

hc_ninja() {
    step "build QEMU (ninja ${HC_TARGETS[*]})"
    local log=$QEMU_BUILD/build.log rc
    set +e
    ninja -C "$QEMU_BUILD" -j "$JOBS" "${HC_TARGETS[@]}" 2>&1 | tee "$log" | hc_progress
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -ne 0 ]; then
        grep -A 30 '^FAILED:' "$log" | head -n 60 >&2
        die "ninja failed (exit $rc); full log in $log"
    fi
    echo "built: ${HC_TARGETS[*]}"
}

# Debian's QEMU source has no firmware blobs: give the build tree's
# binaries Debian's SeaBIOS and option ROMs, where they look for data.
hc_firmware() {
    local dir=$QEMU_BUILD/qemu-bundle/usr/local/share/qemu f
    mkdir -p "$dir"
    for f in /usr/share/seabios/*.bin /usr/share/qemu/*.bin /usr/share/qemu/*.rom; do
        [ -e "$f" ] || continue
        [ -e "$dir/$(basename "$f")" ] || ln -sf "$f" "$dir/$(basename "$f")"
    done
}

hc_build() {
    hc_install_deps
    hc_fetch_qemu
    hc_graft
    hc_configure
    hc_ninja
    hc_firmware
    hc_env_export
}

hc_env_vars() {
    cat <<ENV
QEMU_BUILD=$QEMU_BUILD
QEMU_TREE=$QEMU_TREE
QEMU_SYSTEM=$QEMU_BUILD/qemu-system-x86_64
QEMU_IMG=$QEMU_BUILD/qemu-img
QEMU_IO=$QEMU_BUILD/qemu-io
QEMU_NBD=$QEMU_BUILD/qemu-nbd
QSD=$QEMU_BUILD/storage-daemon/qemu-storage-daemon
HYPERCACHE_CACHE=$CACHE
ENV
}

hc_env_export() {
    local line
    while IFS= read -r line; do export "${line?}"; done < <(hc_env_vars)
}

hc_env_quiet() {
    hc_env_vars | sed 's/^/export /'
}
