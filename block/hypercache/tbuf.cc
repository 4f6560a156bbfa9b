// SPDX-License-Identifier: GPL-2.0-or-later
#include "tbuf.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace hypercache {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;  // x86-64 and arm64 (4K base)

size_t page_size() {
    static const size_t ps = size_t(sysconf(_SC_PAGESIZE));
    return ps;
}
}  // namespace

Tbuf::Tbuf(uint32_t block_size, uint32_t align)
    : block_size_(block_size), align_(align) {}

Tbuf::~Tbuf() {
    for (Region &r : regions_) {
        munmap(r.map, r.map_len);
    }
}

bool Tbuf::add_region(uint32_t first, uint32_t count) {
    // Slots are backed by transparent huge pages where the region is large
    // enough: a miss fills a slot nobody touched yet, and with 4 KiB pages
    // every such fill took a page fault (about 5 us under nested
    // virtualisation, more than the miss itself costs) and every hit a TLB
    // miss.  Slots are handed out lowest first, so a partly used cache
    // commits at most one huge page more than it holds.
    size_t bytes = size_t(count) * block_size_;
    size_t align = align_;
    if (bytes >= kHugePage && align < kHugePage) {
        align = kHugePage;
    }
    // mmap is page aligned; ask for more when coarser alignment is wanted
    // and skip to the first aligned address.
    size_t extra = align > page_size() ? align : 0;
    size_t len = bytes + extra;
    void *map = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        return false;
    }
    uintptr_t a = reinterpret_cast<uintptr_t>(map);
    uintptr_t aligned = (a + align - 1) & ~uintptr_t(align - 1);
#ifdef MADV_HUGEPAGE
    if (align >= kHugePage) {
        // Only a hint: without THP the slots work the same, only slower.
        madvise(reinterpret_cast<void *>(aligned), bytes, MADV_HUGEPAGE);
    }
#endif
    if (prealloc_ && !populate(reinterpret_cast<uint8_t *>(aligned), bytes)) {
        munmap(map, len);
        return false;
    }
    regions_.push_back(
        Region{map, len, reinterpret_cast<uint8_t *>(aligned), first, count});
    return true;
}

// Fault in [p, p + len) now, so that no fill pays for a first touch
// later.  MADV_POPULATE_WRITE (Linux 5.14) fails with ENOMEM where memory
// cannot be had; older kernels get one write per page instead.
bool Tbuf::populate(uint8_t *p, size_t len) {
#ifdef MADV_POPULATE_WRITE
    if (madvise(p, len, MADV_POPULATE_WRITE) == 0) {
        return true;
    }
    if (errno != EINVAL) {
        return false;
    }
#endif
    for (size_t off = 0; off < len; off += page_size()) {
        static_cast<volatile uint8_t *>(p)[off] = 0;
    }
    return true;
}

// Give the pages past the first @count slots back to the kernel.
void Tbuf::trim_region(Region &r, uint32_t count) {
    uintptr_t start = reinterpret_cast<uintptr_t>(r.map);
    uintptr_t keep_end =
        reinterpret_cast<uintptr_t>(r.base) + size_t(count) * block_size_;
    keep_end = (keep_end + page_size() - 1) & ~uintptr_t(page_size() - 1);
    uintptr_t map_end = start + r.map_len;
    if (keep_end < map_end) {
        munmap(reinterpret_cast<void *>(keep_end), map_end - keep_end);
        r.map_len = keep_end - start;
    }
    r.count = count;
}

bool Tbuf::resize(uint32_t nslots) {
    if (nslots > nslots_) {
        uint32_t old = nslots_;
        try {
            meta_.resize(nslots);
            free_.reserve(nslots);
        } catch (...) {
            return false;
        }
        if (!add_region(old, nslots - old)) {
            return false;
        }
        // Push in reverse so low slots are handed out first.
        for (uint32_t s = nslots; s-- > old;) {
            free_.push_back(s);
        }
        nslots_ = nslots;
        return true;
    }
    if (nslots < nslots_) {
        // The caller may have moved blocks by hand: trust the used marks.
        free_.clear();
        for (uint32_t s = nslots; s-- > 0;) {
            if (!meta_[s].used) {
                free_.push_back(s);
            }
        }
        while (!regions_.empty() && regions_.back().first >= nslots) {
            munmap(regions_.back().map, regions_.back().map_len);
            regions_.pop_back();
        }
        if (!regions_.empty()) {
            Region &r = regions_.back();
            if (r.first + r.count > nslots) {
                trim_region(r, nslots - r.first);
            }
        }
        meta_.resize(nslots);
        meta_.shrink_to_fit();
        free_.shrink_to_fit();
        nslots_ = nslots;
    }
    return true;
}

bool Tbuf::alloc(uint32_t *slot) {
    if (free_.empty()) {
        return false;
    }
    *slot = free_.back();
    free_.pop_back();
    meta_[*slot].used = true;
    return true;
}

void Tbuf::release(uint32_t slot) {
    SlotMeta &m = meta_[slot];
    m.used = false;
    m.orphan = false;
    m.pins = 0;
    free_.push_back(slot);
}

}  // namespace hypercache
