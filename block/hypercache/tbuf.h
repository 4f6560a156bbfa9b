// SPDX-License-Identifier: GPL-2.0-or-later
//
// tbuf, the buffer table: all cache memory, split into block-sized slots.
//
// HB (history block buffer, clean blocks) and WB (write-back block buffer,
// dirty blocks) share one pool of slots; a slot is HB or WB by the state of
// the tindx entry that owns it, so a block turns clean or dirty without a
// copy.  Memory comes from the kernel once per size change (mmap, so the
// tail can be returned on shrink and fresh pages read as zeroes) and is
// never more than the configured size.
//
// Locking: the free list is guarded by the tmaster mutex; a slot's pin count
// by the tindx shard lock of the block that owns (or owned) the slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hypercache {

struct SlotMeta {
    uint16_t pins = 0;    // read plans holding a pointer into this slot
    bool orphan = false;  // owner dropped or moved while pinned: free on unpin
    bool used = false;
};

class Tbuf {
public:
    Tbuf(uint32_t block_size, uint32_t align);
    ~Tbuf();
    Tbuf(const Tbuf &) = delete;
    Tbuf &operator=(const Tbuf &) = delete;

    // Grow to @nslots (new memory) or shrink (slots >= @nslots must be
    // unused; the free list is rebuilt from the slots' used marks).
    // Returns false if memory could not be had; nothing changes then.
    bool resize(uint32_t nslots);
    // Fault in the memory of slots added from now on (hc_config.prealloc).
    void set_prealloc(bool on) { prealloc_ = on; }

    uint8_t *ptr(uint32_t slot) const {
        for (const Region &r : regions_) {
            if (slot - r.first < r.count) {
                return r.base + size_t(slot - r.first) * block_size_;
            }
        }
        return nullptr;
    }

    bool alloc(uint32_t *slot);
    void release(uint32_t slot);

    uint32_t nslots() const { return nslots_; }
    uint32_t free_count() const { return uint32_t(free_.size()); }
    uint32_t used_count() const { return nslots_ - free_count(); }
    SlotMeta &meta(uint32_t slot) { return meta_[slot]; }
    const SlotMeta &meta(uint32_t slot) const { return meta_[slot]; }
    uint32_t block_size() const { return block_size_; }
    size_t metadata_bytes() const {
        return meta_.capacity() * sizeof(SlotMeta) +
               free_.capacity() * sizeof(uint32_t);
    }

private:
    struct Region {
        void *map = nullptr;  // what mmap returned
        size_t map_len = 0;
        uint8_t *base = nullptr;  // aligned start of slot 'first'
        uint32_t first = 0;
        uint32_t count = 0;
    };

    bool add_region(uint32_t first, uint32_t count);
    bool populate(uint8_t *p, size_t len);
    void trim_region(Region &r, uint32_t count);

    uint32_t block_size_;
    uint32_t align_;
    bool prealloc_ = false;
    uint32_t nslots_ = 0;
    std::vector<Region> regions_;
    std::vector<SlotMeta> meta_;
    std::vector<uint32_t> free_;  // LIFO: recently freed slots are warm
};

}  // namespace hypercache
