// Best risk against unrolling depth N: learned and fixed stepsizes, both
// parities, next to the best linear and bilevel levels.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "../report/figure.hpp"
#include "plot.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/parallel.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/study/theory_study.hpp"
#include "varlearn/theory/optimal.hpp"
#include "varlearn/theory/risk.hpp"

namespace varlearn::study {
namespace fs = std::filesystem;

namespace {
ModelPoint resolved(const DepthOptions& o) {
  ModelPoint p = o.fixed;
  if (o.data.kind == theory::DataKind::File) p.n = double(o.data.file_model->n());
  if (p.k == 0) p.k = p.n;
  return p;
}
}  // namespace

void DepthOptions::validate() const {
  if (max_depth < 1 || max_depth > kMaxDepth)
    throw Error("theory depth: --nmax must be in 1.." + std::to_string(kMaxDepth) + " (got " + std::to_string(max_depth) + ")");
  if (data.kind == theory::DataKind::File && !data.file_model) throw Error("theory depth: --data file needs --second-moment FILE");
  for (double w : stepsizes)
    if (!(w > 0) || !std::isfinite(w)) throw Error("theory depth: every stepsize omega must be > 0 (got " + fmt_num(w) + ")");
  const ModelPoint p = resolved(*this);
  theory::check_noise_std(p.sigma, "theory depth: --sigma");
  if (data.kind != theory::DataKind::File && (!(p.theta >= 0) || p.n < 1)) throw Error("theory depth: need theta >= 0 and n >= 1");
  if (p.k < 1 || p.k > p.n)
    throw Error("theory depth: --k must satisfy 1 <= k <= n = " + fmt_num(p.n) + " (got " + fmt_num(p.k) + ")");
}

DepthResult compute_depth(const DepthOptions& o) {
  o.validate();
  const Stopwatch start;
  const ModelPoint p = resolved(o);
  const theory::DataModel data = o.data.build(p);
  const Index k = Index(std::llround(p.k));
  DepthResult res;
  res.options = o;
  res.linear = theory::best_linear(data, p.sigma).risk;
  const auto bl = theory::best_bilevel(data, p.sigma, k);
  res.bilevel = bl.risk;
  res.bilevel_attained = bl.attained;
  res.rows.resize(size_t(o.max_depth));
  try {
    parallel_for(
        o.max_depth,
        [&](Index i) {
          const int d = int(i) + 1;
          DepthRow& row = res.rows[size_t(i)];
          row.depth = d;
          const auto l = theory::best_unrolled_learned(data, p.sigma, k, d);
          row.learned = l.risk;
          row.learned_stepsize = l.stepsize;
          row.learned_attained = l.attained;
          for (double w : o.stepsizes) row.fixed.push_back(theory::best_unrolled(data, p.sigma, k, d, w).risk);
        },
        Schedule::Dynamic);
  } catch (const Error& e) {
    throw Error(std::string("theory depth: ") + e.what(), e.kind());
  }
  res.seconds = start.seconds();
  return res;
}

std::string depth_csv(const DepthResult& r) {
  std::string out = "N,parity,learned,learned_stepsize,learned_attained";
  for (double w : r.options.stepsizes) out += ",fixed_" + fmt_num(w);
  out += ",linear,bilevel\n";
  char buf[64];
  for (const DepthRow& row : r.rows) {
    out += std::to_string(row.depth) + (row.depth % 2 ? ",odd," : ",even,");
    std::snprintf(buf, sizeof buf, "%.17g,%.17g,", row.learned, row.learned_stepsize);
    out += buf;
    out += row.learned_attained ? "true" : "false";
    for (double v : row.fixed) {
      std::snprintf(buf, sizeof buf, ",%.17g", v);
      out += buf;
    }
    std::snprintf(buf, sizeof buf, ",%.17g,%.17g\n", r.linear, r.bilevel);
    out += buf;
  }
  return out;
}

const std::vector<std::string> kDepthSuffixes{".csv", ".png", ".svg"};

std::vector<fs::path> write_depth(const DepthResult& r, const fs::path& target, bool figures, io::Existing existing) {
  io::StagedFiles staged(target, kDepthSuffixes, existing);
  const fs::path prefix = staged.prefix();
  if (figures) {
    const DepthOptions& o = r.options;
    const ModelPoint p = resolved(o);
    std::ostringstream s;
    s.precision(15);
    s << "$D << EOD\n";
    for (const DepthRow& row : r.rows) {
      s << row.depth << ' ' << row.learned;
      for (double v : row.fixed) s << ' ' << v;
      s << '\n';
    }
    s << "EOD\n";
    std::string title = "Best risk against depth N: ";
    title += o.data.kind == theory::DataKind::File ? "Σ from " + o.data.file_name : theory::to_string(o.data.kind) + " data, n = " + fmt_num(p.n) +
                                                                        ", μ = " + fmt_num(p.mu) + ", θ = " + fmt_num(p.theta);
    title += ", σ = " + fmt_num(p.sigma) + ", k = " + fmt_num(p.k);
    double lo = std::min(r.linear, r.bilevel), hi = std::max(r.linear, r.bilevel);
    for (const DepthRow& row : r.rows) {
      lo = std::min(lo, row.learned), hi = std::max(hi, row.learned);
      for (double v : row.fixed) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    s << "set termoption noenhanced\nset border lw 1.2\nset tics out nomirror\n"
      << "set title " << gp_dq(title) << "\n"
      << "set xlabel 'N (unrolling depth)'\nset ylabel 'best risk E (log scale)'\n"
      << "set grid lc rgb '#dddddd'\nset key outside right top box opaque\n"
      << "set xrange [0.5:" << o.max_depth + 0.5 << "]\n"
      << (o.max_depth <= 30 ? "set xtics 1\n" : "")
      << "set logscale y\nset format y '%.3g'\n";
    if (lo > 0) s << "set yrange [" << lo / 1.3 << ":" << hi * 1.3 << "]\n";
    const char* colours[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"};
    s << "plot " << r.linear << " with lines lw 2 dt 2 lc rgb 'black' title " << gp_dq("best linear")
      << ", " << r.bilevel << " with lines lw 2 dt 4 lc rgb '#666666' title "
      << gp_dq(std::string("bilevel") + (r.bilevel_attained ? "" : " (infimum)"))
      << ", $D using 1:(int($1)%2==1 ? $2 : 1/0) with points pt 7 ps 1.6 lc rgb '#b2182b' title 'learned ω, odd N'"
      << ", $D using 1:(int($1)%2==0 ? $2 : 1/0) with points pt 5 ps 1.4 lc rgb '#2166ac' title 'learned ω, even N'";
    for (size_t j = 0; j < o.stepsizes.size(); ++j)
      s << ", $D using 1:" << j + 3 << " with linespoints lw 1.5 pt 6 ps 0.9 lc rgb '" << colours[j % 7]
        << "' title " << gp_dq("fixed ω = " + fmt_num(o.stepsizes[j]));
    s << "\n";
    write_figure(prefix, s.str(), "1200,700");
  }
  io::write_atomic(prefix.string() + ".csv", depth_csv(r));
  staged.commit();
  std::vector<fs::path> files{staged.target(".csv")};
  if (figures) files.push_back(staged.target(".png")), files.push_back(staged.target(".svg"));
  return files;
}

}  // namespace varlearn::study
