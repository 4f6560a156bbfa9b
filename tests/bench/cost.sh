#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# cost.sh [LABEL] [run.sh options]: the figures issue 13 is judged on, in
# one run: W8 (the cost matrix), W1 (hot re-read), W3 (no locality, NBD)
# and W2i (W2 and W3 inside QEMU, no NBD), quick profile unless another
# is given.  Keeps them as docs/bench/cost-LABEL.json (LABEL defaults to
# "after"; "before" was measured on the cache code before issue 13), then
# writes docs/bench/cost.md and cost.png: the targets and tables, after
# against before when both files exist.
#
#   tests/bench/cost.sh after            # the current code, ~8 min
#   HC_BEFORE_BUILD=DIR tests/bench/cost.sh after   # and the old, ~13 min
#   tests/bench/cost.sh after --full     # 5 repetitions instead of 3
#
# cost-before.json came from the binaries of the code before issue 13:
#   tests/bench/build-ref.sh abdaf71     # prints HC_BEFORE_BUILD=DIR
#   QEMU_BUILD=DIR QEMU_IMG=DIR/qemu-img QEMU_IO=DIR/qemu-io \
#   QSD=DIR/storage-daemon/qemu-storage-daemon tests/bench/cost.sh before
#
# Environment: as run.sh (QEMU_IMG, QEMU_IO, QSD and QEMU_BUILD select
# other binaries), HC_COST_CODE: what to record as the cache code (default:
# this checkout's commit).  HC_BEFORE_BUILD=DIR (a build of the older code
# by tests/bench/build-ref.sh COMMIT) runs that code too, in the same run,
# alternating with the current one, in W8 and W2i: a shared, noisy machine
# is compared with itself, not with another hour.  HC_BEFORE_CODE names it.
# COST_OUT: where the JSON, cost.md and the plots go (default docs/bench).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
label=after
if [ $# -gt 0 ] && [[ $1 != -* ]]; then
    label=$1
    shift
fi
profile=--quick
for a in "$@"; do
    case $a in --full | --quick | --smoke) profile= ;; esac
done
if ! /usr/bin/python3 -c 'import matplotlib' 2> /dev/null; then
    echo "cost.sh: installing python3-matplotlib" >&2
    apt-get install -y -qq python3-matplotlib > /dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq python3-matplotlib > /dev/null; }
fi
SCRATCH=${HC_BENCH_DIR:-/var/tmp/hypercache-bench}
mkdir -p "$SCRATCH/cost-$label"
RES=$SCRATCH/cost-$label/results.json
rm -f "$RES"    # a fresh file: an --only run would merge into an old one
export W2I_OUT=$SCRATCH/cost-$label
if [ -n "${HC_BEFORE_BUILD:-}" ]; then
    export HC_BEFORE_QEMU_IMG=$HC_BEFORE_BUILD/qemu-img
    export W2I_BEFORE_BIN=$HC_BEFORE_BUILD/tests/unit/test-hypercache-mq
    export HC_BEFORE_CODE=${HC_BEFORE_CODE:-$HC_BEFORE_BUILD}
fi
rc=0
"$HERE/run.sh" $profile --only W1,W3,W8,W2i --no-report --results "$RES" \
    "$@" || rc=$?
[ -f "$RES" ] || { echo "cost.sh: no results" >&2; exit 1; }
OUT=${COST_OUT:-$TOP/docs/bench}
mkdir -p "$OUT"
/usr/bin/python3 "$HERE/report.py" --save-cost "$RES" "$W2I_OUT/w2i.json" \
    "$OUT/cost-$label.json" "$label"
for f in w2i.json w2i.png; do
    cp "$W2I_OUT/$f" "$OUT/$f" 2> /dev/null || rc=1
done
if [ "$label" != before ] && [ -f "$OUT/cost-before.json" ]; then
    /usr/bin/python3 "$HERE/report.py" --cost "$OUT/cost.md" "$OUT" \
        "$OUT/cost-before.json" "$OUT/cost-$label.json"
else
    /usr/bin/python3 "$HERE/report.py" --cost "$OUT/cost.md" "$OUT" \
        "$OUT/cost-$label.json"
fi
exit "$rc"
