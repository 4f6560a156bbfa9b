#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
#
# rbd.sh: hypercache over Ceph RBD against rbd alone and against librbd's
# own cache (issue 15), in one run on a one-OSD cluster started here.
# Writes docs/bench/rbd.json and docs/bench/rbd.png; the figures in
# docs/BENCHMARKS.md come from them.
#
#   tests/bench/rbd.sh [REPS]       default 3 repetitions, ~10 min
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

# In-process (no NBD, no fio): test-hypercache-mq's file workloads over an
# rbd child, hypercache against the bare rbd node, so that the cache's own
# gain is measured rather than the transport.  Merged into rbd.json.
MQ=$(dirname "$QEMU_IMG")/tests/unit/test-hypercache-mq
[ -x "$MQ" ] || hc_die "$MQ is not built; run ./configure-qemu.sh build"
rbd --conf "$CEPH_CONF" create --size 256M "$CEPH_POOL/inproc"
rbd --conf "$CEPH_CONF" bench --io-type write --io-size 4M \
    --io-pattern seq --io-total 256M "$CEPH_POOL/inproc" > /dev/null 2>&1
for wl in zipf-read:128M uniform-read:16M; do
    echo "bench rbd: in-process ${wl%%:*} over rbd (cache ${wl#*:})" >&2
    "$MQ" --bench --rbd "$CEPH_CONF:$CEPH_POOL/inproc" --footprint 256M \
        --cache-size "${wl#*:}" --workload "${wl%%:*}" --secs 3 \
        --reps "${1:-3}" --warm 5 --json "$work/${wl%%:*}.json" >&2
done
$PY "$HERE/rbd-merge-inproc.py" "$out" "$work/zipf-read.json" \
    "$work/uniform-read.json"
$PY "$HERE/rbd-plot.py" "$out" "$HC_TOP/docs/bench/rbd.png"
