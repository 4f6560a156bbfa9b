#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# run.sh [--quick|--smoke] [--only W1,W2,W2g,W2i,W3,W4,W5,W6,W7,W8,W9]
#        [--no-report] [--results FILE]
#
# Runs every benchmark workload for every configuration in one run
# (hypercache against cache=none, cache=writeback and null-co), repeated,
# and writes docs/BENCHMARKS.md and docs/bench/*.png from the medians.
#   (default)  5 repetitions, ~20 minutes
#   --quick    3 repetitions, shorter runs, no report unless --report
#   --smoke    1 tiny repetition of each host workload in < 60 s; exits
#              nonzero if any step fails; writes no report
#   --results  raw results file (default $HC_BENCH_DIR/results-PROFILE.json;
#              an --only run merges into an existing one)
#   --only W9  the boot storm alone (~5 min): keeps its figures in
#              docs/bench/w9.json and rewrites only the W9 section of
#              docs/BENCHMARKS.md and docs/bench/w9.png (W9_IOPS,
#              W9_BOOT_MIB, W9_TOTAL_MIB, W9_REPS, W9_CONFIGS change it)
# Needs root (network namespace for workload 6), fio, perf (optional: child
# request counts), cc, python3-matplotlib; installs the Debian packages
# that are missing.  Scratch images live in $HC_BENCH_DIR
# (default /var/tmp/hypercache-bench): O_DIRECT needs a real filesystem.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
profile=full only= report=1 results=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) profile=quick; report=0 ;;
    --smoke) profile=smoke; report=0 ;;
    --full) profile=full ;;
    --report) report=1 ;;
    --no-report) report=0 ;;
    --only) only=$2; shift ;;
    --results) results=$2; shift ;;
    -h | --help) sed -n '4,24p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$profile" = smoke ] && report=0

PY=/usr/bin/python3
need=()
command -v fio > /dev/null || need+=(fio)
command -v cc > /dev/null || need+=(gcc)
command -v ip > /dev/null || need+=(iproute2)
command -v perf > /dev/null || need+=(linux-perf)
[ -x "$PY" ] || need+=(python3)
if [ "$report" = 1 ] && ! "$PY" -c 'import matplotlib' 2> /dev/null; then
    need+=(python3-matplotlib)
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "run.sh: installing ${need[*]}" >&2
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y -qq "${need[@]}" > /dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq "${need[@]}" > /dev/null; }
    else
        echo "run.sh: not root; install: ${need[*]}" >&2; exit 1
    fi
fi

if [ -z "${QEMU_IMG:-}" ] || [ -z "${QSD:-}" ] || [ -z "${QEMU_IO:-}" ]; then
    eval "$("$TOP/configure-qemu.sh" env)"
fi
for v in QEMU_IMG QEMU_IO QSD; do
    [ -x "${!v:-}" ] || { echo "run.sh: $v=${!v:-} is not an executable; build QEMU first" >&2; exit 1; }
done
export QEMU_IMG QEMU_IO QSD QEMU_SYSTEM QEMU_NBD
if ! "$QEMU_IMG" --help | grep -qw hypercache; then
    echo "run.sh: this qemu-img has no hypercache driver" >&2; exit 1
fi

SCRATCH=${HC_BENCH_DIR:-/var/tmp/hypercache-bench}
mkdir -p "$SCRATCH"
# Run private copies: a rebuild of the shared build tree in the middle of a
# run would otherwise mix two builds (or crash a half-written binary).
BIN=$SCRATCH/bin.$$
mkdir -p "$BIN"
trap 'rm -rf "$BIN"' EXIT
for v in QEMU_IMG QEMU_IO QSD QEMU_SYSTEM; do
    [ -x "${!v:-}" ] || continue
    cp -p "${!v}" "$BIN/$(basename "${!v}")"
    export "$v=$BIN/$(basename "${!v}")"
done
MQBIN=${QEMU_BUILD:-}/tests/unit/test-hypercache-mq
if [ -x "$MQBIN" ]; then
    cp "$MQBIN" "$BIN/"
    export W2I_BIN=$BIN/test-hypercache-mq
fi
# Older cache code run beside the current one (W8, W2i; see cost.sh).
for v in HC_BEFORE_QEMU_IMG W2I_BEFORE_BIN; do
    [ -n "${!v:-}" ] || continue
    [ -x "${!v}" ] || { echo "run.sh: $v=${!v} is not an executable" >&2; exit 1; }
    mkdir -p "$BIN/before"
    cp "${!v}" "$BIN/before/"
    export "$v=$BIN/before/$(basename "${!v}")"
done
echo "run.sh: QEMU binaries copied to $BIN ($(stat -c %y "$QEMU_IMG" | cut -d. -f1) build)" >&2
rc=0
results=${results:-$SCRATCH/results-$profile.json}
"$PY" "$HERE/bench.py" --profile "$profile" --scratch "$SCRATCH" \
    --results "$results" ${only:+--only "$only"} || rc=$?
# W7 runs inside QEMU's unit-test harness, not through bench.py.
if [ "$profile" != smoke ] && { [ -z "$only" ] || [[ ,$only, == *,W7,* ]]; }; then
    reps=5
    [ "$profile" = quick ] && reps=3
    bash "$HERE/mq.sh" --reps "$reps" > "$SCRATCH/mq.md" || rc=1
fi
# W2i too (W2 and W3 without NBD); the smoke run's tiny one writes no docs.
if [ -z "$only" ] || [[ ,$only, == *,W2i,* ]]; then
    case $profile in
    full) w2i=(--reps 5 --secs 2) ;;
    quick) w2i=(--reps 3 --secs 2) ;;
    smoke) w2i=(--reps 1 --secs 0.2 --warm 0.2)
        export W2I_OUT=${W2I_OUT:-$SCRATCH} W2I_MIB=64 ;;
    esac
    bash "$HERE/w2i.sh" "${w2i[@]}" > "$SCRATCH/w2i.md" || rc=1
fi
if [ "$report" = 1 ] && [ -f "$results" ]; then
    # W9 keeps its own figures (docs/bench/w9.json), which report.py reads
    # like rbd.json; W9 alone touches only its own section.
    if [ -z "$only" ] || [[ ,$only, == *,W9,* ]]; then
        "$PY" "$HERE/w9_report.py" extract "$results" \
            "$TOP/docs/bench/w9.json" || rc=1
    fi
    if [ "$only" = W9 ]; then
        "$PY" "$HERE/w9_report.py" splice "$TOP/docs/bench/w9.json" \
            "$TOP/docs/BENCHMARKS.md" "$TOP/docs/bench" || rc=1
    else
        "$PY" "$HERE/report.py" "$results" \
            "$TOP/docs/BENCHMARKS.md" "$TOP/docs/bench" || rc=1
    fi
fi
exit "$rc"
