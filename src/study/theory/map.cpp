// Risk (ratio) maps over any two parameters of the toy model.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "../report/figure.hpp"
#include "plot.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/parse.hpp"
#include "varlearn/core/parallel.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/study/theory_study.hpp"
#include "varlearn/theory/optimal.hpp"
#include "varlearn/theory/risk.hpp"

namespace varlearn::study {
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Parameters

const char* param_name(Param p) {
  switch (p) {
    case Param::K: return "k";
    case Param::Theta: return "theta";
    case Param::Sigma: return "sigma";
    case Param::Mu: return "mu";
    case Param::Depth: return "N";
    case Param::Stepsize: return "omega";
    case Param::Dim: return "n";
  }
  return "?";
}

const char* param_symbol(Param p) {
  switch (p) {
    case Param::K: return "k";
    case Param::Theta: return "θ";
    case Param::Sigma: return "σ";
    case Param::Mu: return "μ";
    case Param::Depth: return "N";
    case Param::Stepsize: return "ω";
    case Param::Dim: return "n";
  }
  return "?";
}

bool param_is_integer(Param p) { return p == Param::K || p == Param::Depth || p == Param::Dim; }

Param parse_param(const std::string& name, const std::string& where) {
  for (Param p : kAllParams)
    if (name == param_name(p)) return p;
  throw Error(where + ": unknown parameter '" + name + "' (one of k, theta, sigma, mu, N, omega, n)");
}

double ModelPoint::get(Param p) const {
  switch (p) {
    case Param::K: return k;
    case Param::Theta: return theta;
    case Param::Sigma: return sigma;
    case Param::Mu: return mu;
    case Param::Depth: return depth;
    case Param::Stepsize: return stepsize;
    case Param::Dim: return n;
  }
  return 0;
}

void ModelPoint::set(Param p, double v) {
  switch (p) {
    case Param::K: k = v; break;
    case Param::Theta: theta = v; break;
    case Param::Sigma: sigma = v; break;
    case Param::Mu: mu = v; break;
    case Param::Depth: depth = v; break;
    case Param::Stepsize: stepsize = v; break;
    case Param::Dim: n = v; break;
  }
}

// ---------------------------------------------------------------------------------------------
// Axis

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) out.push_back(cur), cur.clear();
    else cur += c;
  }
  out.push_back(cur);
  return out;
}


}  // namespace

Axis Axis::parse(const std::string& spec) {
  const std::string where = "axis '" + spec + "'";
  const auto eq = spec.find('=');
  if (eq == std::string::npos) throw Error(where + ": expected NAME=START:STOP:COUNT[:log]");
  Axis a;
  a.param = parse_param(spec.substr(0, eq), where);
  const auto f = split(spec.substr(eq + 1), ':');
  if (f.size() < 3 || f.size() > 4) throw Error(where + ": expected NAME=START:STOP:COUNT[:log]");
  a.start = parse_number<double>(f[0], where + ", START");
  a.stop = parse_number<double>(f[1], where + ", STOP");
  const double c = parse_number<double>(f[2], where + ", COUNT");
  if (c != std::floor(c) || c > 1e12) throw Error(where + ": COUNT must be an integer (got " + f[2] + ")");
  a.count = Index(c);
  if (f.size() == 4) {
    if (f[3] == "log") a.log = true;
    else if (f[3] != "lin") throw Error(where + ": the 4th field must be 'log' or 'lin' (got '" + f[3] + "')");
  }
  a.validate();
  return a;
}

void Axis::validate() const {
  const std::string where = std::string("axis ") + param_name(param);
  if (!std::isfinite(start) || !std::isfinite(stop)) throw Error(where + ": START and STOP must be finite");
  if (count < 2) throw Error(where + ": COUNT must be >= 2 (got " + std::to_string(count) + ")");
  if (start == stop) throw Error(where + ": empty range (START = STOP = " + fmt_num(start) + ")");
  if (start > stop)
    throw Error(where + ": reversed range (START " + fmt_num(start) + " > STOP " + fmt_num(stop) + ")");
  if (log && !(start > 0)) throw Error(where + ": a log axis needs START > 0 (got " + fmt_num(start) + ")");
}

double Axis::nominal(Index i) const {
  if (i == 0) return start;
  if (i == count - 1) return stop;
  const double u = double(i) / double(count - 1);
  return log ? start * std::pow(stop / start, u) : start + (stop - start) * u;
}

double Axis::value(Index i) const {
  const double v = nominal(i);
  return param_is_integer(param) ? std::round(v) : v;
}

std::string Axis::describe() const {
  return std::string(param_name(param)) + "=" + fmt_num(start) + ":" + fmt_num(stop) + ":" + std::to_string(count) +
         (log ? ":log" : "");
}

// ---------------------------------------------------------------------------------------------
// Data

theory::DataModel DataSpec::build(const ModelPoint& p) const {
  return theory::make_data_model(kind, Index(p.n), p.mu, p.theta, rho, file_model.get());
}

bool DataSpec::depends_on(Param p) const {
  return kind != theory::DataKind::File && (p == Param::Dim || p == Param::Mu || p == Param::Theta);
}

// ---------------------------------------------------------------------------------------------
// Methods

Method Method::parse(const std::string& spec) {
  const std::string where = "method '" + spec + "'";
  const auto f = split(spec, ':');
  Method m;
  if (f[0] == "linear" || f[0] == "bilevel") {
    if (f.size() != 1) throw Error(where + ": " + f[0] + " takes no depth or stepsize");
    m.kind = f[0] == "linear" ? Kind::Linear : Kind::Bilevel;
    return m;
  }
  if (f[0] != "unrolled")
    throw Error(where + ": unknown method (linear, bilevel, unrolled[:D[:W]] with D a depth or N, N+1, ...; "
                        "W a stepsize, learned or omega)");
  if (f.size() > 3) throw Error(where + ": expected unrolled[:D[:W]]");
  m.kind = Kind::Unrolled;
  if (f.size() >= 2) {
    const std::string& d = f[1];
    if (!d.empty() && d[0] == 'N') {
      m.depth_from_param = true;
      m.depth = 0;
      if (d.size() > 1) {
        if (d[1] != '+' && d[1] != '-') throw Error(where + ": depth '" + d + "' must be an integer, N, N+j or N-j");
        const double off = parse_number<double>(d.substr(2), where + ", depth offset");
        if (off != std::floor(off) || std::abs(off) > 1e6) throw Error(where + ": depth offset must be an integer");
        m.depth = int(d[1] == '+' ? off : -off);
      }
    } else {
      const double v = parse_number<double>(d, where + ", depth");
      if (v != std::floor(v) || v < 1 || v > 1e6)
        throw Error(where + ": depth must be an integer >= 1, or N (got '" + d + "')");
      m.depth_from_param = false;
      m.depth = int(v);
    }
  }
  if (f.size() == 3) {
    const std::string& w = f[2];
    if (w == "learned") m.step = Step::Learned;
    else if (w == "omega") m.step = Step::FromParam;
    else {
      m.step = Step::Fixed;
      m.stepsize = parse_number<double>(w, where + ", stepsize");
      if (!(m.stepsize > 0)) throw Error(where + ": stepsize must be > 0 (got " + w + ")");
    }
  }
  return m;
}

std::string Method::describe() const {
  if (kind == Kind::Linear) return "linear";
  if (kind == Kind::Bilevel) return "bilevel";
  std::string s = "unrolled:";
  if (depth_from_param) s += depth == 0 ? "N" : (depth > 0 ? "N+" + std::to_string(depth) : "N-" + std::to_string(-depth));
  else s += std::to_string(depth);
  if (step == Step::Fixed) s += ":" + fmt_num(stepsize);
  else if (step == Step::FromParam) s += ":omega";
  return s;
}

bool Method::uses(Param p) const {
  switch (p) {
    case Param::K: return kind != Kind::Linear;
    case Param::Depth: return kind == Kind::Unrolled && depth_from_param;
    case Param::Stepsize: return kind == Kind::Unrolled && step == Step::FromParam;
    default: return true;  // data and noise
  }
}

int Method::depth_at(const ModelPoint& p) const {
  return depth_from_param ? int(std::llround(p.depth)) + depth : depth;
}

double Method::risk(const theory::DataModel& data, const ModelPoint& p) const {
  const Index k = Index(std::llround(p.k));
  switch (kind) {
    case Kind::Linear: return theory::best_linear(data, p.sigma).risk;
    case Kind::Bilevel: return theory::best_bilevel(data, p.sigma, k).risk;
    case Kind::Unrolled: {
      const int d = depth_at(p);
      if (step == Step::Learned) return theory::best_unrolled_learned(data, p.sigma, k, d).risk;
      return theory::best_unrolled(data, p.sigma, k, d, step == Step::Fixed ? stepsize : p.stepsize).risk;
    }
  }
  return 0;
}

MapValue MapValue::parse(const std::string& spec) {
  const auto slash = spec.find('/');
  MapValue v;
  if (slash == std::string::npos) {
    v.a = Method::parse(spec);
    return v;
  }
  if (spec.find('/', slash + 1) != std::string::npos)
    throw Error("--value '" + spec + "': at most one '/' (A or A/B)");
  v.a = Method::parse(spec.substr(0, slash));
  v.b = Method::parse(spec.substr(slash + 1));
  return v;
}

std::string MapValue::describe() const { return a.describe() + (b ? " / " + b->describe() : ""); }

bool MapValue::uses(Param p) const { return a.uses(p) || (b && b->uses(p)); }

double MapValue::evaluate(const theory::DataModel& data, const ModelPoint& p) const {
  const double ra = a.risk(data, p);
  if (!b) return ra;
  const double rb = b->risk(data, p);
  if (rb == 0) return ra == 0 ? 1.0 : std::numeric_limits<double>::infinity();
  return ra / rb;
}

// ---------------------------------------------------------------------------------------------
// Map

namespace {

std::string point_text(const ModelPoint& p) {
  std::string s;
  for (Param q : kAllParams) s += std::string(s.empty() ? "" : ", ") + param_name(q) + " = " + fmt_num(p.get(q));
  return s;
}

/// Validity of one point for the value (only the parameters the value uses).
void check_point(const MapOptions& o, const ModelPoint& p) {
  auto bad = [&](const std::string& what) { throw Error("theory map: " + what + " at grid point (" + point_text(p) + ")"); };
  if (!(p.sigma > 0)) bad("sigma must be > 0");
  if (o.data.kind != theory::DataKind::File) {
    if (!(p.n >= 1)) bad("n must be >= 1");
    if (!(p.theta >= 0)) bad("theta must be >= 0");
  }
  const double n = o.data.kind == theory::DataKind::File ? double(o.data.file_model->n()) : p.n;
  if (o.value.uses(Param::K) && (p.k < 1 || p.k > n)) bad("k must satisfy 1 <= k <= n");
  for (const Method* m : {&o.value.a, o.value.b ? &*o.value.b : nullptr}) {
    if (!m || m->kind != Method::Kind::Unrolled) continue;
    if (m->depth_at(p) < 1) bad("depth N must be >= 1 (method " + m->describe() + ")");
    if (m->step == Method::Step::FromParam && !(p.stepsize > 0)) bad("omega must be > 0");
  }
}

ModelPoint point_at(const MapOptions& o, Index ix, Index iy) {
  ModelPoint p = o.fixed;
  p.set(o.x.param, o.x.value(ix));
  if (o.y) p.set(o.y->param, o.y->value(iy));
  if (o.data.kind == theory::DataKind::File) p.n = double(o.data.file_model->n());
  // k = 0 means k = n (as in `theory optimal`), unless k is an axis.
  if (o.fixed.k == 0 && o.x.param != Param::K && !(o.y && o.y->param == Param::K)) p.k = p.n;
  return p;
}

}  // namespace

void MapOptions::validate() const {
  x.validate();
  if (y) {
    y->validate();
    if (y->param == x.param) throw Error(std::string("theory map: --x and --y sweep the same parameter ") + param_name(x.param));
  }
  if (data.kind == theory::DataKind::File && !data.file_model) throw Error("theory map: --data file needs --second-moment FILE");
  for (const Axis* a : {&x, y ? &*y : nullptr}) {
    if (!a) continue;
    if (data.kind == theory::DataKind::File && (a->param == Param::Dim || a->param == Param::Mu || a->param == Param::Theta))
      throw Error(std::string("theory map: cannot sweep ") + param_name(a->param) +
                  " with --data file (the second moment fixes n, mu and theta)");
    if ((a->param == Param::Depth || a->param == Param::Stepsize) && !value.uses(a->param))
      throw Error(std::string("theory map: the axis ") + param_name(a->param) + " is not used by --value '" +
                  value.describe() + "': write " +
                  (a->param == Param::Depth ? "unrolled:N (depth from the axis)" : "unrolled:N:omega or unrolled:D:omega (stepsize from the axis)"));
    if (a->param == Param::K && !value.uses(Param::K))
      throw Error("theory map: the axis k is not used by --value '" + value.describe() + "' (linear does not depend on k)");
  }
  if (points() > kMaxPoints && !force)
    throw Error("theory map: " + std::to_string(points()) + " grid points exceed " + std::to_string(kMaxPoints) +
                " (pass --force to compute anyway)");
  for (Index iy = 0; iy < (y ? y->count : 1); ++iy)
    for (Index ix = 0; ix < x.count; ++ix) check_point(*this, point_at(*this, ix, iy));
}

Index MapResult::argmin() const { return Index(std::min_element(values.begin(), values.end()) - values.begin()); }
Index MapResult::argmax() const { return Index(std::max_element(values.begin(), values.end()) - values.begin()); }

MapResult compute_map(const MapOptions& o) {
  o.validate();
  const Stopwatch start;
  MapResult res;
  res.options = o;
  res.nx = o.x.count;
  res.ny = o.y ? o.y->count : 1;
  const Index total = res.nx * res.ny;
  res.points.resize(size_t(total));
  res.values.assign(size_t(total), 0.0);
  for (Index iy = 0; iy < res.ny; ++iy)
    for (Index ix = 0; ix < res.nx; ++ix) res.points[size_t(iy * res.nx + ix)] = point_at(o, ix, iy);

  // One data model per distinct (n, mu, theta): along an axis that is a data parameter.
  const bool x_data = o.data.depends_on(o.x.param), y_data = o.y && o.data.depends_on(o.y->param);
  const Index mx = x_data ? res.nx : 1, my = y_data ? res.ny : 1;
  std::vector<std::optional<theory::DataModel>> models(size_t(mx * my));
  // The first failing point (lowest index, whatever the thread count) is reported with its
  // coordinates.
  auto at_point = [&](Index i, auto&& work) {
    try {
      work();
    } catch (const Error& e) {
      throw Error(std::string("theory map: ") + e.what() + " (at " + point_text(res.points[size_t(i)]) + ")", e.kind());
    }
  };
  parallel_for(
      mx * my,
      [&](Index m) {
        const Index i = (m / mx) * res.nx + m % mx;
        at_point(i, [&] { models[size_t(m)] = o.data.build(res.points[size_t(i)]); });
      },
      Schedule::Dynamic);
  parallel_for(
      total,
      [&](Index i) {
        const Index ix = i % res.nx, iy = i / res.nx;
        const auto& data = *models[size_t((y_data ? iy : 0) * mx + (x_data ? ix : 0))];
        at_point(i, [&] { res.values[size_t(i)] = o.value.evaluate(data, res.points[size_t(i)]); });
      },
      Schedule::Dynamic, 16);
  res.seconds = start.seconds();
  return res;
}

std::string map_csv(const MapResult& r) {
  std::string out = "k,theta,sigma,mu,N,omega,n,value\n";
  out.reserve(r.values.size() * 120);
  char buf[64];
  for (size_t i = 0; i < r.values.size(); ++i) {
    const ModelPoint& p = r.points[i];
    for (Param q : kAllParams) {
      const double v = p.get(q);
      if (param_is_integer(q)) std::snprintf(buf, sizeof buf, "%lld,", (long long)std::llround(v));
      else std::snprintf(buf, sizeof buf, "%.17g,", v);
      out += buf;
    }
    std::snprintf(buf, sizeof buf, "%.17g\n", r.values[i]);
    out += buf;
  }
  return out;
}

Index Csv::column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return Index(i);
  throw Error("csv: no column '" + name + "'");
}

Csv parse_csv(const std::string& text) {
  Csv csv;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto f = split(line, ',');
    if (csv.header.empty()) {
      csv.header = f;
      continue;
    }
    if (f.size() != csv.header.size())
      throw Error("csv line " + std::to_string(lineno) + ": " + std::to_string(f.size()) + " fields, header has " +
                  std::to_string(csv.header.size()));
    std::vector<double> row;
    for (const auto& s : f) {
      if (s == "true" || s == "false") row.push_back(s == "true");
      else if (s == "odd" || s == "even") row.push_back(s == "odd");
      else {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (s.empty() || *end != '\0') throw Error("csv line " + std::to_string(lineno) + ": '" + s + "' is not a number");
        row.push_back(v);
      }
    }
    csv.rows.push_back(std::move(row));
  }
  if (csv.header.empty()) throw Error("csv: empty");
  return csv;
}

std::string fixed_parameters_text(const MapOptions& o) {
  auto is_axis = [&](Param p) { return o.x.param == p || (o.y && o.y->param == p); };
  std::vector<std::string> parts;
  if (o.data.kind == theory::DataKind::File) parts.push_back("Σ from " + o.data.file_name);
  else parts.push_back(theory::to_string(o.data.kind) + " data");
  auto add = [&](Param p, bool relevant) {
    if (!relevant || is_axis(p)) return;
    double v = o.fixed.get(p);
    if (p == Param::K && v == 0) {
      parts.push_back(is_axis(Param::Dim) ? "k = n" : "k = " + fmt_num(o.fixed.n));
      return;
    }
    parts.push_back(std::string(param_symbol(p)) + " = " + fmt_num(v));
  };
  const bool file = o.data.kind == theory::DataKind::File;
  if (file) parts.push_back("n = " + std::to_string(o.data.file_model->n()));
  add(Param::Dim, !file);
  add(Param::Mu, !file);
  add(Param::Theta, !file);
  if (o.data.kind == theory::DataKind::Ar1 && !file) parts.push_back("ρ = " + fmt_num(o.data.rho));
  add(Param::Sigma, true);
  add(Param::K, o.value.uses(Param::K));
  add(Param::Depth, o.value.uses(Param::Depth));
  add(Param::Stepsize, o.value.uses(Param::Stepsize));
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : ", ") + p;
  return s;
}

const std::vector<std::string> kMapSuffixes{".csv", ".png", ".svg"};

std::vector<fs::path> write_map(const MapResult& r, const fs::path& target, bool figures, io::Existing existing) {
  io::StagedFiles staged(target, kMapSuffixes, existing);
  const fs::path prefix = staged.prefix();
  if (figures) {
    const MapOptions& o = r.options;
    const std::string value_label = o.value.b ? "risk ratio " + o.value.describe() : "best risk " + o.value.describe();
    const std::string title = value_label + "\n" + fixed_parameters_text(o);
    std::vector<double> xs(size_t(r.nx));
    for (Index i = 0; i < r.nx; ++i) xs[size_t(i)] = o.x.nominal(i);
    if (!o.y) {
      write_figure(prefix, line_plot_body(xs, r.values, o.x, value_label, title, bool(o.value.b)), "1000,700");
    } else {
      std::vector<double> ys(size_t(r.ny));
      for (Index i = 0; i < r.ny; ++i) ys[size_t(i)] = o.y->nominal(i);
      write_figure(prefix, heatmap_body(xs, ys, r.values, o.x, *o.y, value_label, title, bool(o.value.b)), "1100,800");
    }
  }
  io::write_atomic(prefix.string() + ".csv", map_csv(r));
  staged.commit();
  std::vector<fs::path> files{staged.target(".csv")};
  if (figures) files.push_back(staged.target(".png")), files.push_back(staged.target(".svg"));
  return files;
}

}  // namespace varlearn::study
