// SPDX-License-Identifier: GPL-2.0-or-later
//
// Printing a Report: a table for people, JSON for scripts and tests.
#pragma once

#include <cstdio>
#include <string>

#include "results.h"

namespace hcsim {

void print_table(std::FILE *out, const Report &r);
void print_json(std::FILE *out, const std::vector<Report> &reports);

// The JSON of one report, also fed to the plot script.
std::string report_json(const Report &r);

}  // namespace hcsim
