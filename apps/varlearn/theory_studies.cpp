// varlearn theory map | depth | landscape: sweeps of the exact theory engine, written as CSV,
// figures (PNG + SVG) and JSON. Thin: parse, validate, call varlearn::study, print.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>

#include "commands.hpp"
#include "options.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/study/theory_study.hpp"
#include "varlearn/theory/risk.hpp"

namespace varlearn::cli {
namespace {

using nlohmann::json;

study::DataSpec data_spec(const DataOptions& d) {
  study::DataSpec s;
  s.kind = theory::parse_data_kind(d.data);
  s.rho = d.rho;
  if (d.data == "file") {
    s.file_model = std::make_shared<theory::DataModel>(d.build());
    s.file_name = d.second_moment;
  } else {
    if (!d.second_moment.empty()) throw Error("--second-moment is only read with --data file");
    if (d.data == "ar1" && !(std::abs(d.rho) < 1)) throw Error("--rho must satisfy |rho| < 1");
  }
  return s;
}

json point_json(const study::ModelPoint& p) {
  json j;
  for (study::Param q : study::kAllParams) j[study::param_name(q)] = p.get(q);
  return j;
}

void add_map(CLI::App& theory) {
  struct Opts {
    DataOptions data;
    double sigma = 0.9;
    long long k = 0;
    int depth = 2;
    double stepsize = 0.5;
    std::string x, y, value, out;
    bool force = false, json = false, no_figures = false;
  };
  auto o = std::make_shared<Opts>();
  auto* sub = theory.add_subcommand(
      "map", "Best risk of one method, or the ratio of two, over a grid of one or two parameters "
             "(k, theta, sigma, mu, N, omega, n): CSV + heatmap/line plot (PNG, SVG)");
  o->data.add(sub);
  sub->add_option("--sigma", o->sigma, "Noise standard deviation sigma > 0 (fixed unless an axis)")->capture_default_str();
  sub->add_option("--k", o->k, "Rank k of R (k x n), 1 <= k <= n (fixed unless an axis); default n");
  sub->add_option("--depth", o->depth, "Depth N for methods written with the placeholder N (fixed unless an axis)")
      ->capture_default_str();
  sub->add_option("--stepsize", o->stepsize,
                  "Stepsize omega > 0 for methods written with the placeholder omega (fixed unless an axis)")
      ->capture_default_str();
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
  sub->add_option("--out", o->out, "Write PREFIX.csv, PREFIX.png, PREFIX.svg (folders created)");
  sub->add_flag("--force", o->force, "Allow more than 10^7 grid points");
  sub->add_flag("--no-figures", o->no_figures, "Write the CSV only");
  sub->add_flag("--json", o->json, "Print one JSON object");
  sub->callback([o] {
    study::MapOptions m;
    m.data = data_spec(o->data);
    m.fixed.n = double(o->data.n), m.fixed.mu = o->data.mu, m.fixed.theta = o->data.theta;
    m.fixed.sigma = o->sigma, m.fixed.k = double(o->k), m.fixed.depth = o->depth, m.fixed.stepsize = o->stepsize;
    if (o->k < 0) throw Error("--k must be >= 1 (got " + std::to_string(o->k) + ")");
    m.x = study::Axis::parse(o->x);
    if (!o->y.empty()) m.y = study::Axis::parse(o->y);
    m.value = study::MapValue::parse(o->value);
    m.force = o->force;
    m.validate();
    if (!o->out.empty()) io::check_writable_prefix(o->out);  // before the work
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
    if (!o->out.empty()) {
      json files = json::array();
      for (const auto& f : study::write_map(r, o->out, !o->no_figures)) files.push_back(f.string());
      j["files"] = files;
    }
    print_result(j, o->json);
  });
}

std::vector<double> parse_list(const std::string& s, const std::string& flag) {
  std::vector<double> out;
  std::string cur;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == ',') {
      char* end = nullptr;
      const double v = std::strtod(cur.c_str(), &end);
      if (cur.empty() || *end != '\0' || !std::isfinite(v)) throw Error(flag + ": '" + cur + "' is not a number");
      out.push_back(v);
      cur.clear();
    } else {
      cur += s[i];
    }
  }
  return out;
}

void add_depth(CLI::App& theory) {
  struct Opts {
    DataOptions data;
    double sigma = 0.9;
    long long k = 0;
    int nmax = 20;
    std::string stepsizes = "0.1,0.5,1";
    std::string out;
    bool json = false, no_figures = false;
  };
  auto o = std::make_shared<Opts>();
  auto* sub = theory.add_subcommand(
      "depth", "Best unrolled risk against depth N = 1..Nmax, learned and fixed stepsizes, both parities, "
               "with the best linear and bilevel levels: CSV + figure");
  o->data.add(sub);
  sub->add_option("--sigma", o->sigma, "Noise standard deviation sigma > 0")->capture_default_str();
  sub->add_option("--k", o->k, "Rank k of R (k x n), 1 <= k <= n; default n");
  sub->add_option("--nmax", o->nmax, "Largest depth N")->capture_default_str();
  sub->add_option("--stepsizes", o->stepsizes, "Fixed stepsizes omega, comma separated")->capture_default_str();
  sub->add_option("--out", o->out, "Write PREFIX.csv, PREFIX.png, PREFIX.svg");
  sub->add_flag("--no-figures", o->no_figures, "Write the CSV only");
  sub->add_flag("--json", o->json, "Print one JSON object");
  sub->callback([o] {
    study::DepthOptions d;
    d.data = data_spec(o->data);
    d.fixed.n = double(o->data.n), d.fixed.mu = o->data.mu, d.fixed.theta = o->data.theta;
    d.fixed.sigma = o->sigma;
    if (o->k < 0) throw Error("--k must be >= 1 (got " + std::to_string(o->k) + ")");
    d.fixed.k = double(o->k);
    d.max_depth = o->nmax;
    d.stepsizes = parse_list(o->stepsizes, "--stepsizes");
    d.validate();
    if (!o->out.empty()) io::check_writable_prefix(o->out);
    const study::DepthResult r = study::compute_depth(d);
    json rows = json::array();
    for (const auto& row : r.rows) {
      json jr{{"N", row.depth}, {"learned", row.learned}, {"learned_stepsize", row.learned_stepsize},
              {"learned_attained", row.learned_attained}};
      json fx = json::object();
      for (size_t i = 0; i < d.stepsizes.size(); ++i) fx[std::to_string(d.stepsizes[i])] = row.fixed[i];
      jr["fixed"] = fx;
      rows.push_back(jr);
    }
    json j{{"linear", r.linear}, {"bilevel", r.bilevel}, {"bilevel_attained", r.bilevel_attained}, {"seconds", r.seconds}};
    j["rows"] = rows;
    if (!o->json) {
      std::cout << "N   learned risk          learned omega";
      for (double w : d.stepsizes) std::cout << "  fixed omega=" << w;
      std::cout << "\n";
      for (const auto& row : r.rows) {
        char buf[128];
        std::snprintf(buf, sizeof buf, "%-3d %-21.15g %-13.6g%s", row.depth, row.learned, row.learned_stepsize,
                      row.learned_attained ? " " : "*");
        std::cout << buf;
        for (double v : row.fixed) {
          std::snprintf(buf, sizeof buf, "  %-16.10g", v);
          std::cout << buf;
        }
        std::cout << "\n";
      }
      std::cout << "(* = infimum, approached as omega -> 0+)\n";
      j.erase("rows");
    }
    if (!o->out.empty()) {
      json files = json::array();
      for (const auto& f : study::write_depth(r, o->out, !o->no_figures)) files.push_back(f.string());
      j["files"] = files;
    }
    print_result(j, o->json);
  });
}

void add_landscape(CLI::App& theory) {
  struct Opts {
    study::LandscapeOptions l;
    std::string depths = "1,2,3,4,5,6";
    std::string out;
    bool json = false, no_figures = false;
  };
  auto o = std::make_shared<Opts>();
  auto* sub = theory.add_subcommand(
      "landscape", "k = n = 1 (R = r): risk E(r) for several depths at fixed omega, and over (r, omega); every "
                   "local minimum with its risk, curvature E''(r) and basin width: CSV, figures, JSON summary");
  sub->add_option("--mu", o->l.mu, "Signal mean mu (gamma = mu^2 + theta^2)")->capture_default_str();
  sub->add_option("--theta", o->l.theta, "Signal standard deviation theta >= 0")->capture_default_str();
  sub->add_option("--sigma", o->l.sigma, "Noise standard deviation sigma > 0")->capture_default_str();
  sub->add_option("--stepsize", o->l.stepsize, "Stepsize omega > 0 of the curves")->capture_default_str();
  sub->add_option("--depths", o->depths, "Depths N, comma separated")->capture_default_str();
  sub->add_option("--r-max", o->l.r_max, "Largest r; 0 = automatic 1.5 sqrt(2.5/omega)")->capture_default_str();
  sub->add_option("--r-count", o->l.r_count, "Grid points in r (curves and minimum search)")->capture_default_str();
  sub->add_option("--basin-level", o->l.basin_level,
                  "Basin = connected r-interval where E <= E*(1 + level), E* the minimum's risk")
      ->capture_default_str();
  sub->add_option("--omega-min", o->l.omega_min, "Heatmap: smallest omega")->capture_default_str();
  sub->add_option("--omega-max", o->l.omega_max, "Heatmap: largest omega")->capture_default_str();
  sub->add_option("--omega-count", o->l.omega_count, "Heatmap: points in omega")->capture_default_str();
  sub->add_option("--heat-r-count", o->l.heat_r_count, "Heatmap: points in r")->capture_default_str();
  sub->add_option("--out", o->out,
                  "Write PREFIX.csv (curves), PREFIX_minima.csv, PREFIX.json, PREFIX.png/svg, PREFIX_heatmap.png/svg");
  sub->add_flag("--no-figures", o->no_figures, "Write CSV and JSON only");
  sub->add_flag("--json", o->json, "Print the JSON summary");
  sub->callback([o] {
    study::LandscapeOptions l = o->l;
    l.depths.clear();
    for (double d : parse_list(o->depths, "--depths")) {
      if (d != std::floor(d)) throw Error("--depths: " + std::to_string(d) + " is not an integer");
      l.depths.push_back(int(d));
    }
    l.validate();
    if (!o->out.empty()) io::check_writable_prefix(o->out);
    const study::LandscapeResult r = study::compute_landscape(l);
    json j = json::parse(study::landscape_json(r));
    if (!o->out.empty()) {
      json files = json::array();
      for (const auto& f : study::write_landscape(r, o->out, !o->no_figures)) files.push_back(f.string());
      j["files"] = files;
    }
    if (o->json) {
      print_result(j, true);
      return;
    }
    json h{{"setting", "k = n = 1, mu = " + std::to_string(l.mu) + ", theta = " + std::to_string(l.theta) +
                           ", sigma = " + std::to_string(l.sigma) + ", omega = " + std::to_string(l.stepsize)},
           {"linear_risk", r.linear}};
    for (const auto& d : j["depths"]) {
      std::string line;
      for (const auto& m : d["minima"]) {
        char buf[200];
        if (m.contains("flat")) std::snprintf(buf, sizeof buf, "flat (E = %.6g for every r)", m["risk"].get<double>());
        else
          std::snprintf(buf, sizeof buf, "%sr = %.5g: E = %.8g, E'' = %.4g, basin %.4g%s", line.empty() ? "" : "; ",
                        m["r"].get<double>(), m["risk"].get<double>(), m["curvature"].get<double>(),
                        m["basin_width"].get<double>(), m["basin_open"].get<bool>() ? "+" : "");
        line += buf;
      }
      h["N=" + std::to_string(d["N"].get<int>())] = line;
    }
    if (j.contains("files")) h["files"] = j["files"];
    print_result(h, false);
  });
}

}  // namespace

void add_theory_studies(CLI::App& theory) {
  add_map(theory);
  add_depth(theory);
  add_landscape(theory);
}

}  // namespace varlearn::cli
