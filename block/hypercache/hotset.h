// SPDX-License-Identifier: GPL-2.0-or-later
//
// Hot sets: what was hot, never what the data was.  A hot set is a list of
// block numbers, most valuable first by the eviction policy's own ranking
// (hotset.cc); hotset-file.cc turns it into a small versioned, checksummed
// file and back, as pure functions of bytes (the fuzzer calls them), and
// prefetch.cc brings the blocks back into the cache through the same
// reserved-slot fill path as a guest's read miss.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "block/hypercache-core.h"

struct hc_hotset {
    uint32_t block_size = 0;
    uint64_t image_size = 0;       // of the image the blocks belong to
    std::string identity;          // of that image (the glue's choice)
    std::vector<uint64_t> blocks;  // hottest first
};

namespace hypercache {

// The file format, version 1 (all integers little-endian):
//
//   0  8  magic "HCHOTSET"
//   8  4  version (1)
//  12  4  header length: 64 + identity length
//  16  4  block size, a power of two from 512 to 65536
//  20  4  identity length, at most kHotsetMaxIdentity
//  24  8  image size in bytes
//  32  8  blocks listed
//  40  8  runs in the body
//  48  8  body length in bytes
//  56  4  CRC-32C of the whole file, computed with these 4 bytes zero
//  60  4  reserved, 0
//  64     identity (no terminating NUL)
//         body: one entry per run of blocks that are contiguous and
//         consecutive in the list, hottest run first: the varint of the
//         zigzag-coded distance from the end of the previous run (from 0
//         for the first) to its first block, then the varint of its length
//         minus one.
//
// A lone block on a disk of B blocks costs ceil(log2(2B) / 7) + 1 bytes:
// 4 on 1 GiB, 6 on 16 TiB (4 KiB blocks), at most 8 below 2^48 blocks
// (1 EiB of 4 KiB blocks); a run of neighbours costs no more than its
// first block.
inline constexpr char kHotsetMagic[8] = {'H', 'C', 'H', 'O',
                                         'T', 'S', 'E', 'T'};
inline constexpr uint32_t kHotsetVersion = 1;
inline constexpr uint32_t kHotsetHeaderSize = 64;
inline constexpr uint32_t kHotsetMaxIdentity = 4096;

// CRC-32C (Castagnoli), the checksum of the file.
uint32_t crc32c(const uint8_t *p, size_t n, uint32_t crc = 0);

// The file's bytes for @hs; std::bad_alloc is the only failure.
std::vector<uint8_t> hotset_encode(const hc_hotset &hs);

// Parse and check a file's bytes.  At most @max_blocks blocks are kept
// (the hottest); the whole body is still checked.  On error returns
// -EINVAL with a message in @err that names the check that failed.
int hotset_parse(const uint8_t *p, size_t len, uint64_t max_blocks,
                 hc_hotset *out, std::string *err);

// Whether a parsed hot set belongs to this node: same block size, image
// size and identity.  -EINVAL with a message naming the mismatch.
int hotset_check(const hc_hotset &hs, uint32_t block_size, uint64_t image_size,
                 const char *identity, std::string *err);

}  // namespace hypercache
