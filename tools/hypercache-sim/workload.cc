// SPDX-License-Identifier: GPL-2.0-or-later
#include "workload.h"

#include <unordered_map>

namespace hcsim {

namespace {

// 2^31 accesses is 10 GiB of workload arrays; ids are 32-bit as well.
constexpr uint64_t kMaxAccesses = UINT64_C(1) << 31;

}  // namespace

bool build_workload(const std::vector<Request> &reqs, uint32_t block_size,
                    bool reads_only, Workload *out, std::string *err) {
    Workload &w = *out;
    w = Workload{};
    w.block_size = block_size;
    uint64_t total = 0;
    for (size_t i = 0; i < reqs.size(); i++) {
        const Request &r = reqs[i];
        if (reads_only && r.write) {
            continue;
        }
        total +=
            (r.offset + r.len - 1) / block_size - r.offset / block_size + 1;
        if (total > kMaxAccesses) {
            *err =
                "request " + std::to_string(i + 1) +
                ": the trace has more than 2^31 block accesses; use a larger "
                "--block-size";
            return false;
        }
    }
    w.ids.reserve(total);
    w.is_write.reserve(total);
    std::unordered_map<uint64_t, uint32_t> dense;
    dense.reserve(reqs.size());
    for (const Request &r : reqs) {
        if (reads_only && r.write) {
            continue;
        }
        // Bytes [offset, offset + len): the last byte decides the last block.
        uint64_t first = r.offset / block_size;
        uint64_t last = (r.offset + r.len - 1) / block_size;
        for (uint64_t b = first; b <= last; b++) {
            auto [it, fresh] =
                dense.try_emplace(b, static_cast<uint32_t>(w.block_of.size()));
            if (fresh) {
                w.block_of.push_back(b);
            }
            w.ids.push_back(it->second);
            w.is_write.push_back(r.write ? 1 : 0);
        }
        (r.write ? w.write_accesses : w.read_accesses) += last - first + 1;
    }
    return true;
}

}  // namespace hcsim
