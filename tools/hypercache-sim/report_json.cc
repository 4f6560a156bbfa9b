// SPDX-License-Identifier: GPL-2.0-or-later
#include <cmath>

#include "report.h"

namespace hcsim {

namespace {

class Json {
public:
    void open(char c) {
        sep();
        s_ += c;
        first_ = true;
    }
    void close(char c) {
        s_ += c;
        first_ = false;
    }
    void key(const char *k) {
        sep();
        str(k);
        s_ += ':';
        first_ = true;
    }
    void value(const std::string &v) {
        sep();
        str(v);
    }
    void value(uint64_t v) {
        sep();
        s_ += std::to_string(v);
    }
    void value(double v) {
        sep();
        if (!std::isfinite(v)) {
            s_ += "null";
            return;
        }
        char b[32];
        std::snprintf(b, sizeof(b), "%.6g", v);
        s_ += b;
    }
    template <typename T>
    void field(const char *k, const T &v) {
        key(k);
        value(v);
    }
    std::string take() { return std::move(s_); }

private:
    void sep() {
        if (!first_) {
            s_ += ',';
        }
        first_ = false;
    }
    void str(const std::string &v) {
        s_ += '"';
        for (unsigned char c : v) {
            if (c == '"' || c == '\\') {
                s_ += '\\';
                s_ += static_cast<char>(c);
            } else if (c < 0x20) {
                char b[8];
                std::snprintf(b, sizeof(b), "\\u%04x", c);
                s_ += b;
            } else {
                s_ += static_cast<char>(c);
            }
        }
        s_ += '"';
    }

    std::string s_;
    bool first_ = true;
};

}  // namespace

std::string report_json(const Report &r) {
    Json j;
    j.open('{');
    j.field("trace", r.trace);
    j.field("format", r.format);
    j.field("requests", r.requests);
    j.field("accesses", r.accesses);
    j.field("read_accesses", r.read_accesses);
    j.field("write_accesses", r.write_accesses);
    j.field("working_set_blocks", r.working_set);
    j.field("block_size", uint64_t(r.block_size));
    j.field("load_seconds", r.load_s);
    j.key("runs");
    j.open('[');
    for (const RunResult &x : r.runs) {
        j.open('{');
        j.field("policy", x.policy);
        j.field("mode", x.mode);
        j.field("size", x.size_label);
        j.field("size_blocks", x.size_blocks);
        j.field("size_bytes", x.size_bytes);
        j.field("accesses", x.accesses);
        j.field("misses", x.misses);
        j.field("miss_ratio", x.miss_ratio);
        j.field("evictions", x.evictions);
        if (x.has_core_stats) {
            j.field("admissions", x.admissions);
            j.field("rejections", x.rejections);
            j.field("bypassed", x.bypassed);
            j.field("metadata_bytes", x.metadata_bytes);
        }
        if (x.mode != "count") {
            j.field("guest_write_blocks", x.guest_write_blocks);
            j.field("child_write_blocks", x.child_write_blocks);
            j.field("writeback_requests", x.writeback_requests);
            j.field("writeback_blocks", x.writeback_blocks);
            j.field("writeback_errors", x.writeback_errors);
            j.field("child_write_requests", x.child_write_requests);
            j.field("enospc", x.enospc);
            j.field("eagain", x.eagain);
            j.field("writes_stalled", x.writes_stalled);
            j.field("peak_dirty_blocks", x.peak_dirty_blocks);
            static const char *const kCause[] = {"watermark", "age", "full",
                                                 "final_flush"};
            j.key("writeback_by_cause");
            j.open('{');
            for (int c = 0; c < RunResult::kWbCauses; c++) {
                j.key(kCause[c]);
                j.open('{');
                j.field("requests", x.wb_requests_by[c]);
                j.field("blocks", x.wb_blocks_by[c]);
                j.close('}');
            }
            j.close('}');
        }
        j.field("elapsed_seconds", x.elapsed_s);
        j.close('}');
    }
    j.close(']');
    j.key("mrc");
    j.open('[');
    for (const MrcPoint &p : r.mrc) {
        j.open('{');
        j.field("policy", p.policy);
        j.field("size_blocks", p.size_blocks);
        j.field("factor", p.factor);
        j.key("estimate_hit_ratio");
        if (p.estimate < 0) {
            j.value(std::nan(""));
        } else {
            j.value(p.estimate);
        }
        j.field("exact_hit_ratio", p.exact);
        j.close('}');
    }
    j.close(']');
    j.key("io");
    j.open('[');
    for (const IoResult &x : r.io) {
        j.open('{');
        j.field("policy", x.policy);
        j.field("size_blocks", x.size_blocks);
        j.field("requests", x.requests);
        j.field("baseline_ios", x.baseline_ios);
        j.field("baseline_bytes", x.baseline_bytes);
        j.field("baseline_seconds", x.baseline_s);
        j.field("cached_ios", x.cached_ios);
        j.field("cached_bytes", x.cached_bytes);
        j.field("cached_seconds", x.cached_s);
        j.field("core_only_seconds", x.core_only_s);
        j.field("saved_seconds", x.baseline_s - x.cached_s);
        j.close('}');
    }
    j.close(']');
    j.key("lru_curve");
    j.open('[');
    for (const auto &[blocks, miss] : r.lru_curve) {
        j.open('[');
        j.value(blocks);
        j.value(miss);
        j.close(']');
    }
    j.close(']');
    j.close('}');
    return j.take();
}

void print_json(std::FILE *out, const std::vector<Report> &reports) {
    std::fputs("{\"reports\":[", out);
    for (size_t i = 0; i < reports.size(); i++) {
        std::fputs(i ? ",\n" : "\n", out);
        std::fputs(report_json(reports[i]).c_str(), out);
    }
    std::fputs("\n]}\n", out);
}

}  // namespace hcsim
