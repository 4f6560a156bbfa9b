#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# smoke.sh: the benchmark suite's smoke run (run.sh --smoke): one tiny
# repetition of every host workload, < 60 s, nonzero exit if anything is
# broken.  Exit 77 (skip) when not root or QEMU with hypercache is not built.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "$(id -u)" != 0 ]; then
    echo "bench smoke: SKIP (needs root for the network namespace)"; exit 77
fi
t0=$SECONDS
rc=0
"$HERE/run.sh" --smoke "$@" || rc=$?
echo "bench smoke: $([ $rc = 0 ] && echo PASS || echo FAIL) in $((SECONDS - t0)) s"
exit "$rc"
