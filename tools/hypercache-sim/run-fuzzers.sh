#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Builds the simulator's libFuzzer targets with clang and runs each for a
# while, seeded with the sample traces of tests/sim/data.
#   tools/hypercache-sim/run-fuzzers.sh [SECONDS_PER_TARGET] [BUILD_DIR]
# Prints the executions of each run; exits nonzero if a target crashed.
set -euo pipefail

secs=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$src/build-sim-fuzz}

if ! command -v clang++ >/dev/null; then
    echo "run-fuzzers.sh: clang++ not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
    exit 1
fi
if [ ! -d "$build" ]; then
    CC=clang CXX=clang++ meson setup "$build" "$src" -Dfuzz=true -Dsim=true \
        -Dbench=false >/dev/null
fi
ninja -C "$build" tools/hypercache-sim/fuzz/fuzz-sim-trace \
    tools/hypercache-sim/fuzz/fuzz-sim-sizes >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Seeds: each sample with every format selector byte in front.
mkdir -p "$work/trace" "$work/sizes"
n=0
for f in "$src"/tests/sim/data/sample.*; do
    case "$f" in *.md) continue ;; esac
    for sel in 0 1 2 3 4; do
        { printf "\\x$(printf %02x $sel)"; cat "$f"; } >"$work/trace/seed$n"
        n=$((n + 1))
    done
done
printf '1%%,5%%,10%%,20%%' >"$work/sizes/a"
printf '1000,2000,64M,1GiB,0.1ws' >"$work/sizes/b"

status=0
for t in trace sizes; do
    bin=$build/tools/hypercache-sim/fuzz/fuzz-sim-$t
    log=$work/$t.log
    if ! "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$build/fuzz-sim-$t-" \
        "$work/$t" >"$log" 2>&1; then
        status=1
        echo "fuzz-sim-$t: FAILED, see artifacts under $build" >&2
        tail -40 "$log" >&2
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ -z "$execs" ]; then
        execs=$(grep -o '#[0-9]*' "$log" | tail -1 | tr -d '#')
    fi
    echo "fuzz-sim-$t: ${execs:-?} executions in ${secs}s"
done
exit $status
