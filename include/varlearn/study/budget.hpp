#pragma once
/// \file budget.hpp
/// Memory estimates of the theory sweeps, from their options, before anything is allocated
/// (`theory map|depth|landscape --max-memory`). Upper estimates for ordinary runs: the grid's
/// points and values, the CSV text written from them, and the dense matrices a grid point
/// builds (AR(1) and file models: n x n per thread).
#include "varlearn/study/theory_study.hpp"

namespace varlearn::study {

double estimate_memory(const MapOptions& options);
double estimate_memory(const DepthOptions& options);
double estimate_memory(const LandscapeOptions& options);

}  // namespace varlearn::study
