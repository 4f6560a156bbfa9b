#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# build-ref.sh COMMIT [DIR]: build the benchmarked binaries (qemu-img,
# qemu-io, qemu-storage-daemon, test-hypercache-mq; no qemu-system) of an
# older commit of the cache in a tree of their own, so that a benchmark can
# run it beside the current code, alternating, in one run (cost.sh with
# HC_BEFORE_BUILD).  The benchmark harness (tests/qemu-unit/*) is taken from
# this checkout, so both sides run the same workload code.  Reuses the
# source package in $HYPERCACHE_CACHE/dl; about 8 minutes on 2 CPUs.
# Prints the build folder last: HC_BEFORE_BUILD=...
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NOW=$(cd "$HERE/../.." && pwd)
[ $# -ge 1 ] || { sed -n '4,12p' "$0" >&2; exit 2; }
commit=$(git -C "$NOW" rev-parse --short "$1")
DIR=${2:-/var/tmp/hypercache-ref/$commit}
mkdir -p "$DIR/src" "$DIR/cache/dl"
if [ ! -f "$DIR/src/configure-qemu.sh" ]; then
    git -C "$NOW" archive "$commit" | tar -x -C "$DIR/src"
fi
cp "$NOW"/tests/qemu-unit/* "$DIR/src/tests/qemu-unit/"
SRC_CACHE=${HYPERCACHE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hypercache}
cp -n "$SRC_CACHE"/dl/* "$DIR/cache/dl/" 2> /dev/null || true

# The tree and build steps of configure-qemu.sh, on that source.
unset QEMU_BUILD QEMU_SRC
TOP=$DIR/src
CACHE=$DIR/cache
QEMU_DEB_VERSION=$(sed -n 's/^QEMU_DEB_VERSION=//p' "$TOP/configure-qemu.sh")
QEMU_UPSTREAM=$(sed -n 's/^QEMU_UPSTREAM=//p' "$TOP/configure-qemu.sh")
JOBS=${JOBS:-$(nproc)}
STEP=start
step() { STEP=$1; printf '\n==> [%s] %s\n' "$(date +%H:%M:%S)" "$1"; }
die() { printf '\nERROR in step "%s": %s\n' "$STEP" "$*" >&2; exit 1; }
. "$TOP/scripts/lib/deps.sh"
. "$TOP/scripts/lib/qemu-tree.sh"
hc_fetch_qemu
hc_graft
hc_configure
HC_TARGETS=(qemu-img qemu-io storage-daemon/qemu-storage-daemon
            tests/unit/test-hypercache-mq)
hc_ninja
echo "HC_BEFORE_BUILD=$QEMU_BUILD"
