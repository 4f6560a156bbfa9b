// SPDX-License-Identifier: GPL-2.0-or-later
//
// HC_POLICY_LRU: textbook least-recently-used, the reference point.  A hit
// must move the entry to the head, so the list has its own mutex (always
// the innermost lock; never held while calling try_evict).
#include <mutex>

#include "policy.h"

namespace hypercache {

void EntryList::push_head(Tindx &tx, uint32_t e) {
    Entry &en = tx.at(e);
    en.qprev = kNil;
    en.qnext = head_;
    if (head_ != kNil) {
        tx.at(head_).qprev = e;
    } else {
        tail_ = e;
    }
    head_ = e;
    size_++;
}

void EntryList::push_tail(Tindx &tx, uint32_t e) {
    Entry &en = tx.at(e);
    en.qnext = kNil;
    en.qprev = tail_;
    if (tail_ != kNil) {
        tx.at(tail_).qnext = e;
    } else {
        head_ = e;
    }
    tail_ = e;
    size_++;
}

void EntryList::unlink(Tindx &tx, uint32_t e) {
    Entry &en = tx.at(e);
    if (en.qprev != kNil) {
        tx.at(en.qprev).qnext = en.qnext;
    } else {
        head_ = en.qnext;
    }
    if (en.qnext != kNil) {
        tx.at(en.qnext).qprev = en.qprev;
    } else {
        tail_ = en.qprev;
    }
    en.qprev = en.qnext = kNil;
    size_--;
}

namespace {

class LruPolicy final : public EvictionPolicy {
public:
    void insert(Tindx &tx, uint32_t e) override {
        std::lock_guard g(mu_);
        list_.push_head(tx, e);
    }
    void touch(Tindx &tx, uint32_t e) override {
        std::lock_guard g(mu_);
        list_.unlink(tx, e);
        list_.push_head(tx, e);
    }
    void remove(Tindx &tx, uint32_t e) override {
        std::lock_guard g(mu_);
        list_.unlink(tx, e);
    }
    bool evict_one(Tindx &tx, EvictFn try_evict) override {
        uint32_t tries;
        {
            std::lock_guard g(mu_);
            tries = list_.size();
        }
        while (tries-- > 0) {
            uint32_t e;
            {
                std::lock_guard g(mu_);
                e = list_.tail();
            }
            if (e == kNil) {
                return false;
            }
            bool gone = try_evict(e);
            std::lock_guard g(mu_);
            list_.unlink(tx, e);
            if (!gone) {
                list_.push_head(tx, e);  // dirty or pinned: look further
            } else {
                return true;
            }
        }
        return false;
    }
    void resize(uint32_t) override {}
    size_t metadata_bytes() const override { return sizeof(*this); }

    // Most recently used first.
    void rank(const Tindx &tx, std::vector<uint32_t> *out) const override {
        std::lock_guard g(mu_);
        for (uint32_t e = list_.head(); e != kNil; e = tx.at(e).qnext) {
            out->push_back(e);
        }
    }
    // Least recently used of all: the guest's own blocks outrank it.
    void insert_warm(Tindx &tx, uint32_t e) override {
        std::lock_guard g(mu_);
        list_.push_tail(tx, e);
    }

private:
    mutable std::mutex mu_;
    EntryList list_;
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_lru_policy(uint32_t) {
    return std::make_unique<LruPolicy>();
}

}  // namespace hypercache
