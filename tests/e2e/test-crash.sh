#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
#
# test-crash.sh: crash consistency.  qemu-storage-daemon with a hypercache
# node over a raw image is driven over NBD and killed with SIGKILL before a
# flush returns, right after it, or during background write-back; the image
# must hold every write acknowledged before a completed flush, byte for
# byte, and old or new data (never garbage) elsewhere.  See crash.py.
#
#   tests/e2e/test-crash.sh                 24 random trials (~30 s)
#   HC_SOAK=1 tests/e2e/test-crash.sh       500 trials
#   HC_CRASH_TRIALS=N HC_CRASH_SEED=S ...   choose; a failure prints its seed
#   tests/e2e/test-crash.sh --selftest      must FAIL: proves the check works
set -euo pipefail

HC_LOG_TAG=crash
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
hc_find_bins
hc_require QSD QEMU_IMG
if ! hc_have_driver hypercache; then
    echo "SKIP: no hypercache block driver in $QEMU_IMG"
    exit 77
fi
trials=${HC_CRASH_TRIALS:-24}
max_batches=40
if [ "${HC_SOAK:-0}" = 1 ]; then
    trials=${HC_CRASH_TRIALS:-500}
    max_batches=150
fi
args=(--trials "$trials" --max-batches "$max_batches")
[ -n "${HC_CRASH_SEED:-}" ] && args+=(--seed "$HC_CRASH_SEED")
if [ "${1:-}" = --selftest ]; then
    d=$(mktemp -d "${TMPDIR:-/tmp}/hc-crash-self.XXXXXX")
    if QSD=$QSD python3 "$HC_E2E_DIR/crash.py" --trials 5 --selftest --dir "$d"; then
        rm -rf "$d"; echo "FAIL: self-test: lost data went unnoticed"; exit 1
    fi
    rm -rf "$d"
    echo "PASS: self-test: the check saw the lost data"; exit 0
fi
QSD=$QSD python3 "$HC_E2E_DIR/crash.py" "${args[@]}"
