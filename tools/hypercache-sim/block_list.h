// SPDX-License-Identifier: GPL-2.0-or-later
//
// Intrusive doubly linked lists over dense block ids, shared by the
// reference policies: several lists live in one pair of link arrays because
// a block is in at most one list at a time.
#pragma once

#include <cstdint>
#include <vector>

namespace hcsim {

class ListArena {
public:
    static constexpr uint32_t kNil = UINT32_MAX;

    explicit ListArena(uint64_t n) : prev_(n, kNil), next_(n, kNil) {}

    struct List {
        uint32_t head = kNil;  // most recently used end
        uint32_t tail = kNil;  // least recently used end
        uint64_t size = 0;
    };

    void push_front(List &l, uint32_t x) {
        prev_[x] = kNil;
        next_[x] = l.head;
        if (l.head != kNil) {
            prev_[l.head] = x;
        } else {
            l.tail = x;
        }
        l.head = x;
        l.size++;
    }

    void remove(List &l, uint32_t x) {
        if (prev_[x] != kNil) {
            next_[prev_[x]] = next_[x];
        } else {
            l.head = next_[x];
        }
        if (next_[x] != kNil) {
            prev_[next_[x]] = prev_[x];
        } else {
            l.tail = prev_[x];
        }
        prev_[x] = next_[x] = kNil;
        l.size--;
    }

    // Neighbours: prev is toward the head (more recent), next toward the
    // tail; kNil at either end.
    uint32_t prev(uint32_t x) const { return prev_[x]; }
    uint32_t next(uint32_t x) const { return next_[x]; }

    uint32_t pop_back(List &l) {
        uint32_t x = l.tail;
        remove(l, x);
        return x;
    }

private:
    std::vector<uint32_t> prev_;
    std::vector<uint32_t> next_;
};

}  // namespace hcsim
