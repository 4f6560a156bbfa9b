// SPDX-License-Identifier: GPL-2.0-or-later
//
// --plot: a PNG miss-ratio curve drawn by python3-matplotlib.
#pragma once

#include <string>
#include <vector>

#include "results.h"

namespace hcsim {

bool write_plot(const std::vector<Report> &reports, const std::string &png,
                std::string *err);

}  // namespace hcsim
