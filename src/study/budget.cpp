#include "varlearn/study/budget.hpp"

#include <omp.h>

#include <algorithm>
#include <iterator>

namespace varlearn::study {
namespace {

constexpr double kBase = 30e6;       // the program itself
constexpr double kDenseCopies = 24;  // dense n x n matrices of one AR(1)/file model (as train)
constexpr double kCsvBytes = 25;     // one number as round-trip text, with its separator

/// Dense bytes per thread for the largest n of a sweep (0 for the structured models whose
/// spectrum is known in closed form).
double dense_bytes(const DataSpec& data, double largest_n) {
  if (data.kind == theory::DataKind::File && data.file_model) largest_n = double(data.file_model->n());
  else if (data.kind != theory::DataKind::Ar1) return 0;
  return kDenseCopies * 8.0 * largest_n * largest_n * double(std::max(1, omp_get_max_threads()));
}

}  // namespace

double estimate_memory(const MapOptions& m) {
  const double points = double(m.x.count) * (m.y ? double(m.y->count) : 1.0);
  // Per point: the ModelPoint (7 doubles), the value, and one CSV row of 8 numbers.
  const double per_point = 8.0 * double(std::size(kAllParams) + 1) + 8 * kCsvBytes;
  double largest_n = m.fixed.n;
  for (const Axis* a : {&m.x, m.y ? &*m.y : nullptr})
    if (a && a->param == Param::Dim) largest_n = std::max(a->start, a->stop);
  return kBase + points * per_point + dense_bytes(m.data, largest_n);
}

double estimate_memory(const DepthOptions& d) {
  const double rows = double(d.max_depth) * (4.0 + double(d.stepsizes.size()));
  return kBase + rows * 8.0 * (1 + kCsvBytes) + dense_bytes(d.data, d.fixed.n);
}

double estimate_memory(const LandscapeOptions& l) {
  // Curves: r and E(r) per depth (values and CSV text); heatmap: omega x r values and text.
  const double curves = double(l.depths.size()) * double(l.r_count) * (3 * 8.0 + 2 * kCsvBytes);
  const double heat = double(l.omega_count) * double(l.heat_r_count) * (3 * 8.0 + 3 * kCsvBytes);
  return kBase + curves + heat;
}

}  // namespace varlearn::study
