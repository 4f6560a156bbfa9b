#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Every test of hypercache, in order from fast to slow.  Called by
# `./configure-qemu.sh test` after the QEMU build, with QEMU_BUILD etc. in
# the environment.  Ends with one line: "N passed, N failed".
#
#   tests/run-all.sh [--quick]    --quick skips the sanitizer builds
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
: "${QEMU_BUILD:?run me through ./configure-qemu.sh test}"
CORE_BUILD=${CORE_BUILD:-$TOP/build-test}
LOGDIR=${HC_TEST_LOGS:-$CORE_BUILD/test-logs}
mkdir -p "$LOGDIR"

passed=0
failed=0
failures=()

# suite NAME LOG: count a suite's own tests from its log, or 1 for a script.
count() {
    local name=$1 rc=$2 p=$3 f=$4
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] || [ "$f" -gt 0 ]; then
        failures+=("$name")
        [ "$f" -gt 0 ] || { failed=$((failed + 1)); }
        printf '    FAIL %s (log: %s)\n' "$name" "$LOGDIR/$name.log"
    else
        printf '    ok   %s (%d passed)\n' "$name" "$p"
    fi
}

step() { printf '\n==> [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# logged LOG CMD...: run CMD with its output in LOG.  Every step's output
# goes to its log, so while a long one runs (minutes, for the sanitizer
# builds or a guest test) nothing else would be printed: every
# HC_HEARTBEAT seconds (default 20) print the time so far and the log's
# last line.  Returns CMD's exit status.
logged() {
    local log=$1 pid t0=$SECONDS next every=${HC_HEARTBEAT:-20} last
    shift
    "$@" > "$log" 2>&1 &
    pid=$!
    next=$((SECONDS + every))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$next" ]; then
            last=$(tail -n 1 "$log" 2>/dev/null | tr -d '\r' | cut -c1-100)
            printf '    ... %3ds  %s\n' $((SECONDS - t0)) "$last"
            next=$((next + every))
        fi
        sleep 1
    done
    wait "$pid"
}

# --- 1. the core: GoogleTest unit tests, simulator checks (meson) --------
step "core and simulator tests (meson test)"
log=$LOGDIR/meson.log
core_tests() {
    if [ -f "$CORE_BUILD/build.ninja" ]; then
        meson configure "$CORE_BUILD" -Dsim=true -Dbench=true
    else
        meson setup "$CORE_BUILD" "$TOP" -Dsim=true -Dbench=true
    fi
    meson compile -C "$CORE_BUILD" && meson test -C "$CORE_BUILD" --print-errorlogs
}
logged "$log" core_tests
rc=$?
grep -E '^ *[0-9]+/[0-9]+ ' "$log" | sed 's/^/    /'
ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
bad=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
count meson "$rc" "${ok:-0}" "${bad:-0}"
[ "$rc" -eq 0 ] || tail -n 40 "$log"

# --- 1a. the C++ style (.clang-format) ----------------------------------
step "C++ style of the core, its tests and the simulator (clang-format)"
log=$LOGDIR/clang-format.log
(cd "$TOP" && git ls-files -z 'block/hypercache/*.cc' 'block/hypercache/*.h' \
    'tests/unit/*.cc' 'tests/unit/*.h' 'tests/fuzz/*.cc' \
    'tools/hypercache-sim/*.cc' 'tools/hypercache-sim/*.h' \
    'tools/hypercache-sim/fuzz/*.cc' |
    xargs -0 clang-format --style=file --dry-run -Werror) > "$log" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
    count clang-format 0 1 0
else
    grep -c 'error:' "$log" | sed 's/^/    lines to reformat: /'
    count clang-format 1 0 1
    head -n 20 "$log"
fi

# --- 1b. QEMU's style for the glue (scripts/checkpatch.pl) ---------------
step "QEMU coding style of the glue (checkpatch.pl)"
log=$LOGDIR/checkpatch.log
# Paths relative to the top: checkpatch exempts files under tests/ from
# some rules (g_assert_cmpint is fine in a test) by their path.
(cd "$TOP" && perl "$QEMU_TREE/scripts/checkpatch.pl" --no-tree -f \
    block/hypercache*.c block/hypercache-int.h tests/qemu-unit/*.[ch]) \
    > "$log" 2>&1
rc=$?
grep '^total:' "$log" | sed 's/^/    /'
if [ "$rc" -eq 0 ]; then count checkpatch 0 1 0; else count checkpatch 1 0 1; fi

# --- 1c. several iothreads on one node, inside QEMU (g_test, TAP) -------
step "multiqueue: several iothreads on one node (test-hypercache-mq)"
log=$LOGDIR/qemu-unit-mq.log
logged "$log" timeout 300 "$QEMU_BUILD/tests/unit/test-hypercache-mq" --tap
rc=$?
grep -E '^(ok|not ok) ' "$log" | sed 's/^/    /'
count qemu-unit-mq "$rc" "$(grep -c '^ok ' "$log")" "$(grep -c '^not ok ' "$log")"
[ "$rc" -eq 0 ] || tail -n 40 "$log"

# --- 2. the core under ASan/UBSan and TSan ------------------------------
if [ "$QUICK" -eq 0 ]; then
    step "core under sanitizers (ASan+UBSan, TSan)"
    log=$LOGDIR/sanitizers.log
    SAN_BUILD=${SAN_BUILD:-$TOP/build-san} logged "$log" bash "$TOP/tests/unit/run-sanitizers.sh"
    rc=$?
    grep -E '^(PASS|FAIL)' "$log" | sed 's/^/    /'
    count sanitizers "$rc" "$(grep -c '^PASS' "$log")" "$(grep -c '^FAIL' "$log")"
    [ "$rc" -eq 0 ] || tail -n 40 "$log"
fi

# --- 3. fuzzing: the core's API, the simulator's and hot-set file parsers ---
step "fuzzing (libFuzzer, ASan+UBSan; HC_SOAK=1 runs longer)"
fuzz_secs=30
sim_fuzz_secs=15
if [ "${HC_SOAK:-0}" = 1 ]; then fuzz_secs=1800; sim_fuzz_secs=600; fi
log=$LOGDIR/fuzz-core.log
logged "$log" bash "$TOP/tests/fuzz/run-fuzz.sh" "$fuzz_secs"
rc=$?
tail -n 2 "$log" | sed 's/^/    /'
if [ "$rc" -eq 0 ]; then count fuzz-core 0 1 0; else count fuzz-core 1 0 1; fi
log=$LOGDIR/fuzz-sim.log
logged "$log" bash "$TOP/tools/hypercache-sim/run-fuzzers.sh" "$sim_fuzz_secs" "$TOP/build-sim-fuzz"
rc=$?
grep '^fuzz-sim' "$log" | sed 's/^/    /'
if [ "$rc" -eq 0 ]; then count fuzz-sim 0 2 0; else count fuzz-sim 1 0 1; fi
log=$LOGDIR/fuzz-hotset.log
logged "$log" bash "$TOP/tests/fuzz/run-fuzz-hotset.sh" "$sim_fuzz_secs"
rc=$?
grep '^fuzz-hotset' "$log" | sed 's/^/    /'
if [ "$rc" -eq 0 ]; then count fuzz-hotset 0 1 0; else count fuzz-hotset 1 0 1; fi

# --- 3a. one Ceph cluster for every rbd test (iotests and e2e) ----------
# Started once here (~15 s) rather than by each rbd test; a test finds it
# through HC_CEPH_SHARED.  If it does not start, each rbd test tries its
# own and fails loudly.
ceph_dir=/tmp/hc-ceph-runall-$(echo "$TOP" | md5sum | cut -c1-8)
ceph_stop() {
    [ -n "${HC_CEPH_SHARED:-}" ] || return 0
    bash "$TOP/tests/e2e/ceph-cluster.sh" stop "$ceph_dir" >> "$LOGDIR/ceph-cluster.log" 2>&1
    unset HC_CEPH_SHARED
}
trap ceph_stop EXIT
step "a one-OSD Ceph cluster for the rbd tests (tests/e2e/ceph-cluster.sh)"
if bash "$TOP/tests/e2e/ceph-cluster.sh" start "$ceph_dir" > "$LOGDIR/ceph-cluster.log" 2>&1; then
    export HC_CEPH_SHARED=$ceph_dir
    echo "    up in $ceph_dir"
else
    echo "    did not start (log: $LOGDIR/ceph-cluster.log); each rbd test will try its own"
    tail -n 5 "$LOGDIR/ceph-cluster.log" | sed 's/^/    /'
fi

# --- 4. qemu-iotests, run by QEMU's ./check against the built binaries --
iotests=()
for t in "$TOP"/tests/qemu-iotests/tests/hypercache-*; do
    case "$t" in *.out) continue ;; esac
    iotests+=("$(basename "$t")")
done
iotests_check() { cd "$QEMU_BUILD/tests/qemu-iotests" && ./check "$@"; }
for fmt in raw qcow2; do
    step "qemu-iotests -$fmt: ${iotests[*]}"
    log=$LOGDIR/iotests-$fmt.log
    logged "$log" iotests_check -"$fmt" "${iotests[@]}"
    rc=$?
    grep -E '^(hypercache|Passed|Failed|Not run)' "$log" | sed 's/^/    /'
    total=$(sed -n 's/^Passed all \([0-9]*\) iotests.*/\1/p' "$log")
    if [ -n "$total" ]; then
        count "iotests-$fmt" "$rc" "$total" 0
    else
        nfail=$(sed -n 's/^Failed \([0-9]*\) of \([0-9]*\) iotests.*/\1/p' "$log")
        nall=$(sed -n 's/^Failed \([0-9]*\) of \([0-9]*\) iotests.*/\2/p' "$log")
        if grep -q '^Not run' "$log"; then
            echo "    tests were NOT RUN: $(grep '^Not run' "$log")"
            nfail=${nfail:-0}; nfail=$((nfail + 1))
        fi
        count "iotests-$fmt" 1 $(( ${nall:-0} - ${nfail:-0} )) "${nfail:-1}"
        tail -n 60 "$log"
    fi
done

# --- 5. end to end: real guests, crashes, libvirt -----------------------
for t in "$TOP"/tests/e2e/test-*.sh; do
    [ -e "$t" ] || continue
    name=e2e-$(basename "$t" .sh)
    step "$name"
    log=$LOGDIR/$name.log
    logged "$log" bash "$t"
    rc=$?
    tail -n 5 "$log" | sed 's/^/    /'
    if [ "$rc" -eq 0 ]; then count "$name" 0 1 0; else count "$name" 1 0 1; fi
done

ceph_stop

# --- 6. the benchmark suite's smoke run, so that it cannot rot ---------
step "benchmark smoke run (tests/bench/smoke.sh)"
log=$LOGDIR/bench-smoke.log
logged "$log" bash "$TOP/tests/bench/smoke.sh"
rc=$?
tail -n 3 "$log" | sed 's/^/    /'
if [ "$rc" -eq 0 ]; then count bench-smoke 0 1 0; else count bench-smoke 1 0 1; fi

echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "failed suites: ${failures[*]} (logs in $LOGDIR)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
