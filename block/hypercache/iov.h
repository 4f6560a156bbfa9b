// SPDX-License-Identifier: GPL-2.0-or-later
//
// Reading a guest write's data out of its iovec array block by block.
// Positions only move forward within one write, so the cursor remembers
// where it is instead of walking the array from the start every time.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

struct IovCursor {
    const iovec *iov;
    int iovcnt;
    size_t skip;  // bytes of the array before the write's first byte
    mutable int idx = 0;
    mutable size_t base = 0;  // array position where iov[idx] starts

    // Copy bytes [pos, pos + n) of the write (pos relative to its start).
    void copy_to(void *dst, size_t pos, size_t n) const {
        size_t at = skip + pos;
        if (at < base) {
            idx = 0;
            base = 0;
        }
        auto *out = static_cast<uint8_t *>(dst);
        while (n > 0 && idx < iovcnt) {
            size_t len = iov[idx].iov_len;
            if (at >= base + len) {
                base += len;
                idx++;
                continue;
            }
            size_t off = at - base;
            size_t k = len - off < n ? len - off : n;
            memcpy(out, static_cast<const uint8_t *>(iov[idx].iov_base) + off,
                   k);
            out += k;
            at += k;
            n -= k;
        }
        // A short iovec array reads as zeroes rather than garbage.
        if (n > 0) {
            memset(out, 0, n);
        }
    }
};
