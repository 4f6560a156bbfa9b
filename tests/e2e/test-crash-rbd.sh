#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
#
# test-crash-rbd.sh: crash consistency over Ceph RBD.  crash.py's trials
# (SIGKILL of qemu-storage-daemon before a flush returns, right after it,
# or during background write-back) with the hypercache node over an rbd
# image (cache.direct=on: librbd's cache off) in a one-OSD cluster started
# here; after each kill the image is read with `rbd export` (librbd alone)
# and must hold every write acknowledged before a completed flush.
#
#   tests/e2e/test-crash-rbd.sh             8 random trials
#   HC_CRASH_TRIALS=N HC_CRASH_SEED=S ...   choose; a failure prints its seed
#   tests/e2e/test-crash-rbd.sh --selftest  must FAIL: proves the check works
set -euo pipefail

HC_LOG_TAG=crash-rbd
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
hc_find_bins
hc_require QSD QEMU_IMG
hc_have_driver hypercache || hc_die "no hypercache block driver in $QEMU_IMG"
hc_have_driver rbd || hc_die "no rbd block driver in $QEMU_IMG: configure QEMU with --enable-rbd"
trap hc_ceph_stop EXIT
trap 'exit 130' INT TERM
hc_ceph_start crash 1
# crash.py makes the image anew (32 MiB, without exclusive-lock).
rbd=$CEPH_CONF:$CEPH_POOL/$CEPH_IMAGE
args=(--trials "${HC_CRASH_TRIALS:-8}" --max-batches 20 --rbd "$rbd")
[ -n "${HC_CRASH_SEED:-}" ] && args+=(--seed "$HC_CRASH_SEED")
d=$(mktemp -d "${TMPDIR:-/tmp}/hc-crash-rbd.XXXXXX")
if [ "${1:-}" = --selftest ]; then
    if QSD=$QSD python3 "$HC_E2E_DIR/crash.py" --trials 3 --selftest \
        --dir "$d" --rbd "$rbd"; then
        rm -rf "$d"; echo "FAIL: self-test: lost data went unnoticed"; exit 1
    fi
    rm -rf "$d"
    echo "PASS: self-test: the check saw the lost data"; exit 0
fi
rc=0
QSD=$QSD python3 "$HC_E2E_DIR/crash.py" "${args[@]}" --dir "$d" || rc=$?
[ "$rc" -ne 0 ] || rm -rf "$d"
exit "$rc"
