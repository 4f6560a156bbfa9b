#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# run-fuzz-hotset.sh [SECONDS] [WORK_DIR]: build the libFuzzer target for
# the hot-set file parser (tests/fuzz/fuzz_hotset.cc: files as QEMU would
# read them, with the checksum and lengths made to match or not, and encoder
# round trips) with clang, ASan and UBSan, and run it for SECONDS (default
# 30), seeded with a few valid files.  Prints "fuzz-hotset: N execs" and
# exits nonzero if the target crashed or a check failed (the input is kept
# as crash-* in WORK_DIR; replay it with WORK_DIR/fuzz-hotset WORK_DIR/crash-...).
#   HC_SOAK=1 without SECONDS: run for 30 minutes.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=${1:-}
if [ -z "$secs" ]; then
    if [ "${HC_SOAK:-0}" = 1 ]; then secs=1800; else secs=30; fi
fi
work=${2:-${HC_FUZZ_HOTSET_DIR:-$top/build-fuzz-hotset}}
mkdir -p "$work/corpus"

cxx=
for c in clang++-14 clang++; do
    if command -v "$c" > /dev/null; then cxx=$c; break; fi
done
[ -n "$cxx" ] || { echo "run-fuzz-hotset.sh: no clang++ (apt-get install clang-14 libclang-rt-14-dev llvm-14)" >&2; exit 1; }

bin=$work/fuzz-hotset
# The parser and the lists' C API only: they touch no cache, so a build
# from scratch takes seconds rather than the whole core's minutes.
core=("$top/block/hypercache/hotset.cc" "$top/block/hypercache/hotset-file.cc")
srcs=("${core[@]}" "$top/tests/fuzz/fuzz_hotset.cc")
stale=0
[ -x "$bin" ] || stale=1
for f in "${srcs[@]}" "$top/block/hypercache/hotset.h" "$top/include/block/hypercache-core.h" "$0"; do
    [ "$f" -nt "$bin" ] && stale=1
done
if [ "$stale" = 1 ]; then
    echo "building $bin with $cxx" >&2
    # shellcheck disable=SC2054 # commas belong to compiler flags
    common=(-std=c++20 -O1 -g -fno-omit-frame-pointer
        -fsanitize=address,undefined -fno-sanitize-recover=undefined
        -I"$top/include" -I"$top/block/hypercache")
    objs=()
    mkdir -p "$work/obj"
    for f in "${core[@]}"; do
        o=$work/obj/$(basename "$f" .cc).o
        "$cxx" "${common[@]}" -fsanitize=fuzzer-no-link -c "$f" -o "$o"
        objs+=("$o")
    done
    "$cxx" "${common[@]}" -c "$top/tests/fuzz/fuzz_hotset.cc" -o "$work/obj/fuzz_hotset.o"
    "$cxx" "${common[@]}" -fsanitize=fuzzer "${objs[@]}" "$work/obj/fuzz_hotset.o" \
        -o "$bin.tmp" -lpthread
    mv "$bin.tmp" "$bin"
fi

# Seeds: valid files (mode byte 0) of a few shapes, written the way the
# format says, so that the fuzzer starts past the checksum.
python3 - "$work/corpus" <<'PY'
import struct, sys
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff
def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7f) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)
def hotset(blocks, bs=4096, image=64 << 20, ident=b'/images/vm.qcow2'):
    body, runs, prev, i = bytearray(), 0, 0, 0
    while i < len(blocks):
        n = 1
        while i + n < len(blocks) and blocks[i + n] == blocks[i] + n:
            n += 1
        d = blocks[i] - prev
        body += varint(d << 1 if d >= 0 else ((-d) << 1) - 1) + varint(n - 1)
        prev, runs, i = blocks[i] + n, runs + 1, i + n
    head = b'HCHOTSET' + struct.pack('<IIII', 1, 64 + len(ident), bs, len(ident))
    head += struct.pack('<QQQQ', image, len(blocks), runs, len(body)) + bytes(8)
    data = bytearray(head + ident + body)
    struct.pack_into('<I', data, 56, crc32c(data))
    return bytes(data)
seeds = {
    'empty': hotset([]),
    'run': hotset(list(range(100, 164))),
    'scattered': hotset([5, 9000, 3, 16383, 0, 7, 8, 9, 12000]),
    'bs512': hotset([1, 2, 3, 1 << 20], bs=512, image=1 << 30, ident=b''),
}
for name, data in seeds.items():
    with open(f'{sys.argv[1]}/seed-{name}', 'wb') as f:
        f.write(b'\x00' + data)
PY

log=$work/fuzz-hotset.log
rc=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$bin" -max_total_time="$secs" -max_len=8192 -rss_limit_mb=2048 -timeout=20 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" > "$log" 2>&1 || rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
[ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
echo "fuzz-hotset: ${execs:-0} execs in ${secs}s (corpus $(find "$work/corpus" -type f | wc -l) inputs)"
if [ "$rc" -ne 0 ]; then
    echo "fuzz-hotset: FAILED (rc $rc); log $log" >&2
    grep -E 'fuzz_hotset:|ERROR|SUMMARY|Test unit written|#[0-9]+ in ' "$log" | head -n 30 >&2
    exit 1
fi
echo "${execs:-0} execs"
