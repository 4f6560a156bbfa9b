#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# synth-trace.py KIND BLOCKS ACCESSES SEED > trace.lis: a synthetic ARC
# .lis trace (one 1-page request per line, pages of the block size) for
# hypercache-sim, e.g. the restart figures of docs/SIMULATOR.md:
#   uniform  every access uniform over BLOCKS blocks
#   zipfA    zipf with exponent A (zipf0.9, zipf1.2) over BLOCKS blocks,
#            the ranks scattered over the disk by a seeded permutation
import bisect
import random
import sys


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__ if False else
                 'usage: synth-trace.py uniform|zipfA BLOCKS ACCESSES SEED')
    kind, blocks, n, seed = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                             int(sys.argv[4]))
    rng = random.Random(seed)
    out = sys.stdout
    if kind == 'uniform':
        for i in range(n):
            out.write(f'{rng.randrange(blocks)} 1 0 {i}\n')
        return
    if not kind.startswith('zipf'):
        sys.exit(f'synth-trace.py: unknown kind {kind!r}')
    alpha = float(kind[4:])
    cdf, total = [], 0.0
    for r in range(1, blocks + 1):
        total += r ** -alpha
        cdf.append(total)
    where = list(range(blocks))
    rng.shuffle(where)
    for i in range(n):
        rank = bisect.bisect_left(cdf, rng.random() * total)
        out.write(f'{where[min(rank, blocks - 1)]} 1 0 {i}\n')


if __name__ == '__main__':
    main()
