#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# configure-qemu.sh: build QEMU 10.0 with the hypercache filter grafted in,
# run the demo guest, and run every test.
#
#   ./configure-qemu.sh [build]   install deps, fetch QEMU, graft, configure, build
#   ./configure-qemu.sh demo      build, then boot a guest on a hypercache disk
#   ./configure-qemu.sh test      build, then run every test
#   ./configure-qemu.sh env       print where the built binaries are
#
# Environment:
#   HYPERCACHE_CACHE  cache folder for the QEMU tree and build
#                     (default: ${XDG_CACHE_HOME:-~/.cache}/hypercache)
#   QEMU_SRC          use this QEMU tree instead of Debian's source package
#   JOBS              parallel build jobs (default: nproc)
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QEMU_DEB_VERSION=1:10.0.13+ds-0+deb13u1
QEMU_UPSTREAM=10.0.13
CACHE=${HYPERCACHE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hypercache}
JOBS=${JOBS:-$(nproc)}

# Everything below runs in steps; a failure names the step.
STEP="start"
step() {
    STEP=$1
    printf '\n==> [%s] %s\n' "$(date +%H:%M:%S)" "$1"
}
die() {
    printf '\nERROR in step "%s": %s\n' "$STEP" "$*" >&2
    exit 1
}
trap 'rc=$?; [ $rc -eq 0 ] || printf "\nconfigure-qemu.sh failed in step \"%s\" (exit %d); fix the cause above and rerun: finished steps are skipped.\n" "$STEP" "$rc" >&2' EXIT

. "$TOP/scripts/lib/deps.sh"
. "$TOP/scripts/lib/qemu-tree.sh"

cmd=${1:-build}
shift || true
case "$cmd" in
build)  hc_build ;;
env)    hc_env_quiet ;;
demo)   hc_build; exec bash "$TOP/tests/e2e/demo.sh" "$@" ;;
test)   hc_build; exec bash "$TOP/tests/run-all.sh" "$@" ;;
-h|--help|help)
    sed -n '4,17p' "$0" | sed 's/^# \{0,1\}//' ;;
*)  die "unknown command '$cmd' (allowed: build, demo, test, env, help)" ;;
esac
