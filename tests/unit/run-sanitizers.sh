#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the core and its unit tests under ASan+UBSan (all tests) and TSan
# (the concurrency tests), each in its own meson build directory under
# $HC_SAN_DIR (default: build-san/ in the repository), and run them.
# Prints one PASS/FAIL line per sanitizer; exits non-zero if any failed.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${HC_SAN_DIR:-$here/build-san}
mkdir -p "$out"
status=0

run() { # name, meson options, test selection
    name=$1 opts=$2 sel=$3
    dir=$out/$name
    log=$out/$name.log
    if [ ! -d "$dir" ]; then
        # shellcheck disable=SC2086
        meson setup "$dir" "$here" -Dsim=false -Dbench=false \
            -Dbuildtype=debugoptimized $opts >"$log" 2>&1 || {
            echo "FAIL $name: meson setup (see $log)"; status=1; return; }
    fi
    if ! ninja -C "$dir" >>"$log" 2>&1; then
        echo "FAIL $name: build (see $log)"; status=1; return
    fi
    # shellcheck disable=SC2086
    if meson test -C "$dir" --print-errorlogs $sel >>"$log" 2>&1; then
        echo "PASS $name"
    else
        echo "FAIL $name: tests (see $log)"; status=1
    fi
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
run asan-ubsan "-Db_sanitize=address,undefined -Db_lundef=false" "--suite unit"
run tsan "-Db_sanitize=thread -Db_lundef=false" "--suite concurrency"
exit $status
