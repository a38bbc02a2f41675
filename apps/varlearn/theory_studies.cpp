// varlearn theory map | depth | landscape: sweeps of the exact theory engine, written as CSV,
// figures (PNG + SVG) and JSON. Thin: parse, validate, call varlearn::study, print.
#include <cmath>
#include <iostream>
#include <limits>
#include <memory>

#include "commands.hpp"
#include "options.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/study/budget.hpp"
#include "varlearn/study/theory_study.hpp"
#include "varlearn/theory/risk.hpp"

namespace varlearn::cli {
namespace {

using nlohmann::json;

/// The files a sweep wrote, as the JSON array printed under "files".
json paths_json(const std::vector<std::filesystem::path>& paths) {
  json files = json::array();
  for (const auto& f : paths) files.push_back(f.string());
  return files;
}

/// The sweep's data: a structured kind (n, mu, theta may be axes) or the file model.
study::DataSpec data_spec(const DataOptions& d) {
  const learn::DataSource src = d.resolved();
  study::DataSpec s;
  s.kind = src.kind;
  s.rho = src.rho;
  if (src.kind == theory::DataKind::File) {
    s.file_model = std::make_shared<theory::DataModel>(src.theory_model());
    s.file_name = src.second_moment_file.empty() ? src.clean_file : src.second_moment_file;
  } else if (src.kind == theory::DataKind::Ar1 && !(std::abs(src.rho) < 1)) {
    throw Error("--rho must satisfy |rho| < 1");
  }
  return s;
}

/// --k against the fixed n when neither is swept (a swept k or n is checked per grid point).
void check_fixed_rank(const RankOption& rank, const study::DataSpec& data, double fixed_n, bool swept) {
  if (swept) return;
  rank.resolve(data.kind == theory::DataKind::File ? data.file_model->n() : Index(fixed_n));
}

/// --force: an existing output file of the set is replaced (the whole set: no stale files).
io::Existing existing(bool force) { return force ? io::Existing::Replace : io::Existing::Refuse; }

/// `s` left-justified in `width` characters (printf "%-*s").
std::string padded(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

json point_json(const study::ModelPoint& p) {
  json j;
  for (study::Param q : study::kAllParams) j[study::param_name(q)] = p.get(q);
  return j;
}

FamilyOptions::Config map_family() {
  FamilyOptions::Config c;
  c.default_depth = int(theory_defaults().depth);
  c.depth_note = "for methods written with the placeholder N (fixed unless an axis)";
  c.stepsize = format_general(theory_defaults().stepsize, kExactDigits);
  c.stepsize_note = "for methods written with the placeholder omega (fixed unless an axis)";
  return c;
}

struct MapCli {
  DataOptions data{Index(theory_defaults().n)};
  NoiseOptions noise{theory_defaults().sigma};
  RankOption rank;
  FamilyOptions family{map_family()};
  OutputOptions output;
  BudgetOptions budget;
  std::string x, y, value;
  bool force = false, no_figures = false;
};

json map_json(const MapCli& o) {
  study::MapOptions m;
  m.data = data_spec(o.data);
  m.fixed.n = double(o.data.source.n), m.fixed.mu = o.data.source.mu, m.fixed.theta = o.data.source.theta;
  m.fixed.sigma = o.noise.checked(), m.fixed.depth = o.family.depth;
  m.fixed.stepsize = o.family.stepsize_number();
  m.x = study::Axis::parse(o.x);
  if (!o.y.empty()) m.y = study::Axis::parse(o.y);
  auto swept = [&](study::Param p) { return m.x.param == p || (m.y && m.y->param == p); };
  // A fixed value given for a swept parameter would be ignored: an error naming both.
  const std::pair<study::Param, const CLI::Option*> fixed_flags[] = {
      {study::Param::K, o.rank.option()},           {study::Param::Theta, o.data.theta_option()},
      {study::Param::Sigma, o.noise.option()},      {study::Param::Mu, o.data.mu_option()},
      {study::Param::Depth, o.family.depth_option()}, {study::Param::Stepsize, o.family.stepsize_option()},
      {study::Param::Dim, o.data.n_option()}};
  for (const auto& [param, flag] : fixed_flags)
    refuse_if_given(flag, swept(param), std::string("the axis ") + study::param_name(param), "the axis sets it");
  check_fixed_rank(o.rank, m.data, m.fixed.n, swept(study::Param::K) || swept(study::Param::Dim));
  m.fixed.k = double(o.rank.value());
  m.value = study::MapValue::parse(o.value);
  m.force = o.force;
  o.budget.check(study::estimate_memory(m), "theory map");  // before validate(), which visits every point
  m.validate();
  check_output_path("--out", o.output.out);  // before the work
  if (!o.output.out.empty()) io::check_output_files(o.output.out, study::kMapSuffixes, existing(o.force));  // before the work
  const study::MapResult r = study::compute_map(m);
  json j{{"value", m.value.describe()}, {"x", m.x.describe()}, {"fixed", study::fixed_parameters_text(m)},
         {"points", r.values.size()}, {"seconds", r.seconds}};
  if (m.y) j["y"] = m.y->describe();
  const auto lo = r.argmin(), hi = r.argmax();
  j["min"] = r.values[size_t(lo)];
  j["min_at"] = point_json(r.points[size_t(lo)]);
  j["max"] = r.values[size_t(hi)];
  j["max_at"] = point_json(r.points[size_t(hi)]);
  if (m.value.b) {
    size_t above = 0;
    for (double v : r.values) above += v > 1;
    j["share_above_1"] = double(above) / double(r.values.size());
  }
  if (!o.output.out.empty()) {
    j["files"] = paths_json(study::write_map(r, o.output.out, !o.no_figures, existing(o.force)));
  }
  if (const Embedding* e = embedding(); e && e->arrays) {
    // The grid itself (not printed by the command line): values row-major over (y, x) and the
    // parameter values along each axis.
    json grid{{"values", r.values}, {"nx", r.nx}, {"ny", r.ny}};
    std::vector<double> xs, ys;
    for (Index i = 0; i < r.nx; ++i) xs.push_back(m.x.value(i));
    grid["x_values"] = xs;
    if (m.y) {
      for (Index i = 0; i < r.ny; ++i) ys.push_back(m.y->value(i));
      grid["y_values"] = ys;
    }
    j["grid"] = grid;
  }
  return j;
}

void add_map(CLI::App& theory) {
  auto o = std::make_shared<MapCli>();
  auto* sub = theory.add_subcommand(
      "map", "Best risk of one method, or the ratio of two, over a grid of one or two parameters "
             "(k, theta, sigma, mu, N, omega, n): CSV + heatmap/line plot (PNG, SVG)");
  o->data.add(sub);
  o->noise.add(sub, "(fixed unless an axis)");
  o->rank.add(sub, "(fixed unless an axis)");
  o->family.add(sub);
  sub->add_option("--x", o->x,
                  "First axis NAME=START:STOP:COUNT[:log], NAME one of k theta sigma mu N omega n "
                  "(k, N, n rounded to integers); e.g. k=1:500:500")
      ->required();
  sub->add_option("--y", o->y, "Second axis, same form (omit for a one-dimensional sweep and a line plot)");
  sub->add_option("--value", o->value,
                  "A or A/B (ratio of best risks); a method is linear, bilevel, unrolled:D (learned omega) or "
                  "unrolled:D:W (fixed omega = W). D is a depth or the placeholder N (the parameter N: axis or "
                  "--depth), also N+1, N-1; W may be the placeholder omega (axis or --stepsize). "
                  "E.g. bilevel/unrolled:2, linear/unrolled:N:omega, unrolled:N/unrolled:N+1")
      ->required();
  o->output.add(sub, "Write PREFIX.csv, PREFIX.png, PREFIX.svg (folders created)");
  sub->add_flag("--force", o->force, "Allow more than 10^7 grid points, and replace existing PREFIX.* files");
  sub->add_flag("--no-figures", o->no_figures, "Write the CSV only");
  o->budget.add(sub);
  sub->callback([o] { print_result(map_json(*o), o->output.json); });
}

struct DepthCli {
  DataOptions data{Index(theory_defaults().n)};
  NoiseOptions noise{theory_defaults().sigma};
  RankOption rank;
  OutputOptions output;
  BudgetOptions budget;
  int nmax = study::DepthOptions{}.max_depth;
  std::string stepsizes = "0.1,0.5,1";
  bool no_figures = false, force = false;
};

/// The human table of `theory depth`: one row per depth, learned and fixed stepsizes.
void print_depth_table(const study::DepthOptions& d, const study::DepthResult& r) {
  std::cout << "N   learned risk          learned omega";
  for (double w : d.stepsizes) std::cout << "  fixed omega=" << format_general(w);
  std::cout << "\n";
  for (const auto& row : r.rows) {
    std::cout << padded(std::to_string(row.depth), 3) << ' ' << padded(format_general(row.learned, 15), 21) << ' '
              << padded(format_general(row.learned_stepsize, 6), 13) << (row.learned_attained ? " " : "*");
    for (double v : row.fixed) std::cout << "  " << padded(format_general(v, 10), 16);
    std::cout << "\n";
  }
  std::cout << "(* = infimum, approached as omega -> 0+)\n";
}

json depth_json(const DepthCli& o) {
  study::DepthOptions d;
  d.data = data_spec(o.data);
  d.fixed.n = double(o.data.source.n), d.fixed.mu = o.data.source.mu, d.fixed.theta = o.data.source.theta;
  d.fixed.sigma = o.noise.checked();
  check_fixed_rank(o.rank, d.data, d.fixed.n, false);
  d.fixed.k = double(o.rank.value());
  d.max_depth = o.nmax;
  d.stepsizes = parse_list(o.stepsizes, "--stepsizes");
  d.validate();
  o.budget.check(study::estimate_memory(d), "theory depth");
  check_output_path("--out", o.output.out);
  if (!o.output.out.empty()) io::check_output_files(o.output.out, study::kDepthSuffixes, existing(o.force));
  const study::DepthResult r = study::compute_depth(d);
  json j{{"linear", r.linear}, {"bilevel", r.bilevel}, {"bilevel_attained", r.bilevel_attained}, {"seconds", r.seconds}};
  if (o.output.json) {
    json rows = json::array();
    for (const auto& row : r.rows) {
      json jr{{"N", row.depth}, {"learned", row.learned}, {"learned_stepsize", row.learned_stepsize},
              {"learned_attained", row.learned_attained}};
      json fx = json::object();
      for (size_t i = 0; i < d.stepsizes.size(); ++i) fx[format_fixed(d.stepsizes[i], 6)] = row.fixed[i];
      jr["fixed"] = fx;
      rows.push_back(jr);
    }
    j["rows"] = rows;
  } else {
    print_depth_table(d, r);
  }
  if (!o.output.out.empty()) {
    j["files"] = paths_json(study::write_depth(r, o.output.out, !o.no_figures, existing(o.force)));
  }
  return j;
}

void add_depth(CLI::App& theory) {
  auto o = std::make_shared<DepthCli>();
  auto* sub = theory.add_subcommand(
      "depth", "Best unrolled risk against depth N = 1..Nmax, learned and fixed stepsizes, both parities, "
               "with the best linear and bilevel levels: CSV + figure");
  o->data.add(sub);
  o->noise.add(sub);
  o->rank.add(sub);
  add_number(sub, "--nmax", o->nmax, "Largest depth N, 1 <= N <= " + std::to_string(study::DepthOptions::kMaxDepth))
      ->check(number_range(1, study::DepthOptions::kMaxDepth))
      ->capture_default_str();
  sub->add_option("--stepsizes", o->stepsizes, "Fixed stepsizes omega, comma separated")->capture_default_str();
  o->output.add(sub, "Write PREFIX.csv, PREFIX.png, PREFIX.svg");
  sub->add_flag("--no-figures", o->no_figures, "Write the CSV only");
  sub->add_flag("--force", o->force, "Replace existing PREFIX.* output files (the whole set: no stale files)");
  o->budget.add(sub);
  sub->callback([o] { print_result(depth_json(*o), o->output.json); });
}

FamilyOptions::Config landscape_family() {
  FamilyOptions::Config c;
  c.depth = false;
  c.stepsize = format_general(study::LandscapeOptions{}.stepsize, kExactDigits);
  c.stepsize_note = "of the curves";
  return c;
}

struct LandscapeCli {
  study::LandscapeOptions l;
  NoiseOptions noise{study::LandscapeOptions{}.sigma};
  FamilyOptions family{landscape_family()};
  OutputOptions output;
  BudgetOptions budget;
  std::string depths = "1,2,3,4,5,6";
  bool no_figures = false, force = false;
};

/// One line per depth: its local minima (location, risk, curvature, basin width).
json landscape_human(const study::LandscapeOptions& l, const study::LandscapeResult& r, const json& j) {
  json h{{"setting", "k = n = 1, mu = " + format_fixed(l.mu, 6) + ", theta = " + format_fixed(l.theta, 6) +
                         ", sigma = " + format_fixed(l.sigma, 6) + ", omega = " + format_fixed(l.stepsize, 6)},
         {"linear_risk", r.linear}};
  for (const auto& d : j["depths"]) {
    std::string line;
    for (const auto& m : d["minima"]) {
      if (m.contains("flat")) {
        line += "flat (E = " + format_general(m["risk"].get<double>(), 6) + " for every r)";
        continue;
      }
      line += std::string(line.empty() ? "" : "; ") + "r = " + format_general(m["r"].get<double>(), 5) +
              ": E = " + format_general(m["risk"].get<double>(), 8) +
              ", E'' = " + format_general(m["curvature"].get<double>(), 4) +
              ", basin " + format_general(m["basin_width"].get<double>(), 4) +
              (m["basin_open"].get<bool>() ? "+" : "");
    }
    h["N=" + std::to_string(d["N"].get<int>())] = line;
  }
  if (j.contains("files")) h["files"] = j["files"];
  return h;
}

void add_landscape(CLI::App& theory) {
  auto o = std::make_shared<LandscapeCli>();
  auto* sub = theory.add_subcommand(
      "landscape", "k = n = 1 (R = r): risk E(r) for several depths at fixed omega, and over (r, omega); every "
                   "local minimum with its risk, curvature E''(r) and basin width: CSV, figures, JSON summary");
  add_number(sub, "--mu", o->l.mu, "Signal mean mu (gamma = mu^2 + theta^2)")->capture_default_str();
  add_number(sub, "--theta", o->l.theta, "Signal standard deviation theta >= 0")->capture_default_str();
  o->noise.add(sub);
  o->family.add(sub);
  sub->add_option("--depths", o->depths, "Depths N, comma separated")->capture_default_str();
  add_number(sub, "--r-max", o->l.r_max, "Largest r; 0 = automatic 1.5 sqrt(2.5/omega)")->capture_default_str();
  add_number(sub, "--r-count", o->l.r_count, "Grid points in r (curves and minimum search)")->capture_default_str();
  add_number(sub, "--basin-level", o->l.basin_level,
                  "Basin = connected r-interval where E <= E*(1 + level), E* the minimum's risk")
      ->capture_default_str();
  add_number(sub, "--omega-min", o->l.omega_min, "Heatmap: smallest omega")->capture_default_str();
  add_number(sub, "--omega-max", o->l.omega_max, "Heatmap: largest omega")->capture_default_str();
  add_number(sub, "--omega-count", o->l.omega_count, "Heatmap: points in omega")->capture_default_str();
  add_number(sub, "--heat-r-count", o->l.heat_r_count, "Heatmap: points in r")->capture_default_str();
  o->output.add(sub, "Write PREFIX.csv (curves), PREFIX_minima.csv, PREFIX.json, PREFIX.png/svg, "
                     "PREFIX_heatmap.png/svg");
  sub->add_flag("--no-figures", o->no_figures, "Write CSV and JSON only");
  sub->add_flag("--force", o->force, "Replace existing PREFIX.* output files (the whole set: no stale files)");
  o->budget.add(sub);
  sub->callback([o] {
    study::LandscapeOptions l = o->l;
    l.sigma = o->noise.checked();
    l.stepsize = o->family.stepsize_number();
    l.depths.clear();
    l.depths = parse_int_list(o->depths, "--depths");
    l.validate();
    o->budget.check(study::estimate_memory(l), "theory landscape");
    const std::string& out = o->output.out;
    check_output_path("--out", out);
    if (!out.empty()) io::check_output_files(out, study::kLandscapeSuffixes, existing(o->force));
    const study::LandscapeResult r = study::compute_landscape(l);
    json j = json::parse(study::landscape_json(r));
    if (!out.empty()) {
      j["files"] = paths_json(study::write_landscape(r, out, !o->no_figures, existing(o->force)));
    }
    print_result(o->output.json ? j : landscape_human(l, r, j), o->output.json);
  });
}

}  // namespace

void add_theory_studies(CLI::App& theory) {
  add_map(theory);
  add_depth(theory);
  add_landscape(theory);
}

}  // namespace varlearn::cli
