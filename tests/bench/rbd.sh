#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
#
# rbd.sh: hypercache over Ceph RBD against rbd alone and against librbd's
# own cache (issue 15), in one run on a one-OSD cluster started here.
# Writes docs/bench/rbd.json and docs/bench/rbd.png; the figures in
# docs/BENCHMARKS.md come from them.
#
#   tests/bench/rbd.sh [REPS]       default 3 repetitions, ~6 min
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HC_LOG_TAG=bench-rbd
# shellcheck source=../e2e/lib.sh
. "$HERE/../e2e/lib.sh"
hc_find_bins
hc_require QSD QEMU_IMG
command -v fio > /dev/null || hc_die "fio is needed"
work=$(mktemp -d "${TMPDIR:-/tmp}/hc-bench-rbd.XXXXXX")
trap 'hc_ceph_stop; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
hc_ceph_start bench
out=$HC_TOP/docs/bench/rbd.json
# Debian's python3: python3-matplotlib is installed for it.
PY=/usr/bin/python3
QSD=$QSD QEMU_IMG=$QEMU_IMG $PY "$HERE/rbd.py" --conf "$CEPH_CONF" --pool "$CEPH_POOL" \
    --asok "$HC_CEPH_DIR/run/osd.0.asok" --dir "$work" \
    --reps "${1:-3}" --out "$out"
$PY "$HERE/rbd-plot.py" "$out" "$HC_TOP/docs/bench/rbd.png"
