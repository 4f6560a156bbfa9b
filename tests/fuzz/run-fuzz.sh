#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# run-fuzz.sh [SECONDS] [WORK_DIR]: build the libFuzzer target for the
# hypercache core's C API (tests/fuzz/fuzz_core.cc, model-checked random
# operation sequences) with clang-14, ASan and UBSan, and run it for
# SECONDS (default 30).  Prints "N execs" and exits nonzero if the target
# crashed or found a model violation (the input is kept as crash-* in
# WORK_DIR, replay it with: WORK_DIR/fuzz-core WORK_DIR/crash-...).
#   HC_SOAK=1 without SECONDS: run for 30 minutes.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=${1:-}
if [ -z "$secs" ]; then
    if [ "${HC_SOAK:-0}" = 1 ]; then secs=1800; else secs=30; fi
fi
work=${2:-${HC_FUZZ_DIR:-$top/build-fuzz}}
mkdir -p "$work/corpus"

cxx=
for c in clang++-14 clang++; do
    if command -v "$c" > /dev/null; then cxx=$c; break; fi
done
[ -n "$cxx" ] || { echo "run-fuzz.sh: no clang++ (apt-get install clang-14 libclang-rt-14-dev llvm-14)" >&2; exit 1; }

bin=$work/fuzz-core
srcs=("$top"/block/hypercache/*.cc "$top/tests/fuzz/fuzz_core.cc")
stale=0
[ -x "$bin" ] || stale=1
for f in "${srcs[@]}" "$top"/block/hypercache/*.h "$top/include/block/hypercache-core.h"; do
    [ "$f" -nt "$bin" ] && stale=1
done
if [ "$stale" = 1 ]; then
    echo "building $bin with $cxx" >&2
    # Coverage instrumentation only for the core: the harness's byte-wise
    # model checks would otherwise dominate the run time.
    # shellcheck disable=SC2054 # commas belong to compiler flags
    common=(-std=c++20 -O1 -g -fno-omit-frame-pointer
        -fsanitize=address,undefined -fno-sanitize-recover=undefined
        -I"$top/include" -I"$top/block/hypercache")
    objs=()
    mkdir -p "$work/obj"
    for f in "$top"/block/hypercache/*.cc; do
        o=$work/obj/$(basename "$f" .cc).o
        "$cxx" "${common[@]}" -fsanitize=fuzzer-no-link -c "$f" -o "$o"
        objs+=("$o")
    done
    "$cxx" "${common[@]}" -O2 -c "$top/tests/fuzz/fuzz_core.cc" -o "$work/obj/fuzz_core.o"
    "$cxx" "${common[@]}" -fsanitize=fuzzer "${objs[@]}" "$work/obj/fuzz_core.o" \
        -o "$bin.tmp" -lpthread
    mv "$bin.tmp" "$bin"
fi

log=$work/fuzz-core.log
rc=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$bin" -max_total_time="$secs" -max_len=4096 -rss_limit_mb=2048 -timeout=20 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" > "$log" 2>&1 || rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
[ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
echo "fuzz-core: ${execs:-0} execs in ${secs}s (corpus $(find "$work/corpus" -type f | wc -l) inputs)"
if [ "$rc" -ne 0 ]; then
    echo "fuzz-core: FAILED (rc $rc); log $log" >&2
    grep -E 'fuzz_core:|ERROR|SUMMARY|Test unit written|#[0-9]+ in ' "$log" | head -n 30 >&2
    exit 1
fi
echo "${execs:-0} execs"
