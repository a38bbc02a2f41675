// varlearn theory: point queries of the exact theory engine (optimal, cmin, risk, expressivity);
// the sweeps (map, depth, landscape) are registered by theory_studies.cpp.
#include <cmath>
#include <limits>

#include "commands.hpp"
#include "options.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/limits.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/theory/expressivity.hpp"
#include "varlearn/theory/optimal.hpp"
#include "varlearn/theory/risk.hpp"

namespace varlearn::cli {
namespace {

using nlohmann::json;

/// --method bilevel|unrolled --depth N --stepsize W (the family of T_R = f(R^T R)).
struct FamilyOptions {
  std::string method = "bilevel";
  int depth = 2;
  std::string stepsize = "learned";
  void add(CLI::App* app, bool allow_linear, bool allow_learned) {
    app->add_option("--method", method,
                    std::string(allow_linear ? "linear (best linear denoiser, no constraint), " : "") +
                        "bilevel (T = (I + R^T R)^-1) or unrolled (N gradient steps with stepsize omega from z^0 = 0)")
        ->check(CLI::IsMember(allow_linear ? std::vector<std::string>{"linear", "bilevel", "unrolled"}
                                           : std::vector<std::string>{"bilevel", "unrolled"}))
        ->capture_default_str();
    app->add_option("--depth", depth, "Unrolling depth N >= 1 (unrolled only)")->capture_default_str();
    app->add_option("--stepsize", stepsize,
                    allow_learned ? "Stepsize omega > 0, or 'learned' (optimized over omega in (0,1] and omega -> 0+)"
                                  : "Stepsize omega > 0 (unrolled only)")
        ->capture_default_str();
  }
  bool learned() const { return stepsize == "learned"; }
  double omega() const {
    char* end = nullptr;
    const double w = std::strtod(stepsize.c_str(), &end);
    if (end == stepsize.c_str() || *end != '\0' || !std::isfinite(w))
      throw Error("--stepsize must be a number or 'learned' (got '" + stepsize + "')");
    if (!(w > 0)) throw Error("--stepsize omega must be > 0 (got " + stepsize + ")");
    return w;
  }
  theory::Family family() const {
    if (method == "bilevel") return theory::Family::bilevel();
    if (learned()) throw Error("--stepsize learned is not allowed here: give a number");
    if (depth < 1) throw Error("--depth N must be >= 1 (got " + std::to_string(depth) + ")");
    return theory::Family::unrolled(depth, omega());
  }
};

void add_optimal(CLI::App& theory) {
  struct Opts {
    DataOptions data;
    FamilyOptions family;
    double sigma = 0.9;
    long long k = -1;  // -1: not given, use n
    bool json = false;
    std::string realize;
    double gap = 1e-9;
  };
  auto o = std::make_shared<Opts>();
  auto* sub = theory.add_subcommand("optimal", "Best (infimal) population risk of a denoiser class, exactly");
  o->data.add(sub);
  sub->add_option("--sigma", o->sigma, "Noise standard deviation sigma > 0 (x = y + eps, eps ~ N(0, sigma^2 I))")
      ->capture_default_str();
  sub->add_option("--k", o->k, "Rank k of the regularizer R (k x n), 1 <= k <= n; default n");
  o->family.add(sub, true, true);
  sub->add_option("--realize", o->realize,
                  "Also write a realizing R (k x n) to this file (n up to a few thousand); for an infimum, "
                  "an R whose risk is within --gap of it");
  sub->add_option("--gap", o->gap, "Allowed relative gap (1 + risk) * gap for a realized infimum")->capture_default_str();
  sub->add_flag("--json", o->json, "Print one JSON object");
  sub->callback([o] {
    const theory::DataModel data = o->data.build();
    theory::check_noise_std(o->sigma, "--sigma");
    const long long k = o->k == -1 ? data.n() : o->k;
    if (k < 1 || k > data.n())
      throw Error("--k must satisfy 1 <= k <= n = " + std::to_string(data.n()) + " (got " + std::to_string(k) + ")");
    theory::OptimalOptions opt;
    opt.with_regularizer = !o->realize.empty();
    opt.gap = o->gap;
    if (opt.with_regularizer && data.n() > kMaxDenseDimension)
      throw Error("--realize builds dense n x n matrices: n = " + std::to_string(data.n()) + " is above " +
                  std::to_string(kMaxDenseDimension));
    const std::string& m = o->family.method;
    json j = o->data.describe();
    j["sigma"] = o->sigma;
    j["method"] = m;
    theory::OptimalRisk r;
    if (m == "linear") {
      r = theory::best_linear(data, o->sigma, opt);
    } else {
      j["k"] = k;
      if (m == "bilevel") r = theory::best_bilevel(data, o->sigma, k, opt);
      else {
        if (o->family.depth < 1) throw Error("--depth N must be >= 1 (got " + std::to_string(o->family.depth) + ")");
        j["depth"] = o->family.depth;
        j["stepsize_mode"] = o->family.learned() ? "learned" : "fixed";
        r = o->family.learned() ? theory::best_unrolled_learned(data, o->sigma, k, o->family.depth, opt)
                                : theory::best_unrolled(data, o->sigma, k, o->family.depth, o->family.omega(), opt);
      }
    }
    j["risk"] = r.risk;
    j["attained"] = r.attained;
    if (m == "unrolled") {
      j["stepsize"] = r.stepsize;
      if (r.stepsize_interval) j["stepsize_interval"] = {r.stepsize_interval->first, r.stepsize_interval->second};
    }
    if (m != "linear") j["free_directions"] = r.free_directions;
    const double lin = theory::best_linear(data, o->sigma).risk;
    j["linear_risk"] = lin;
    j["ratio_to_linear"] = r.risk > 0 ? lin / r.risk : 1.0;
    if (opt.with_regularizer) {
      const Matrix& out = m == "linear" ? r.denoiser : r.regularizer;
      io::write_atomic(o->realize, io::format_matrix(out));
      j["realized"] = o->realize;
      j["realized_matrix"] = m == "linear" ? "T" : "R";
      j["realized_risk"] = r.regularizer_risk;
    }
    print_result(j, o->json);
  });
}

void add_cmin(CLI::App& theory) {
  auto depth = std::make_shared<int>(3);
  auto omega = std::make_shared<double>(0.5);
  auto as_json = std::make_shared<bool>(false);
  auto* sub = theory.add_subcommand(
      "cmin", "c_{N,omega} = min_{s>=0} f(s) for odd depth N: the lower end of the unrolled denoisers' spectrum");
  sub->add_option("--depth", *depth, "Odd unrolling depth N >= 1")->capture_default_str();
  sub->add_option("--stepsize", *omega, "Stepsize omega > 0")->capture_default_str();
  sub->add_flag("--json", *as_json, "Print one JSON object");
  sub->callback([=] {
    if (*depth >= 1 && *depth % 2 == 0)
      throw Error("--depth N = " + std::to_string(*depth) + " is even: f is unbounded below, c_{N,omega} exists for odd N");
    const double c = theory::cmin(*depth, *omega);
    const theory::Family f = theory::Family::unrolled(*depth, *omega);
    json j{{"depth", *depth}, {"stepsize", *omega}, {"cmin", c}, {"b", f.at_zero()}};
    if (*depth >= 3) {
      const double q = theory::pmin_argmin(*depth);
      j["qstar"] = q;
      j["m"] = theory::pmin_value(*depth);
      j["interior"] = *omega < 1 - q;  // c = omega m_N at s = (1 - q*)/omega - 1, else c = b at s = 0
      j["argmin_s"] = *omega < 1 - q ? (1 - q) / *omega - 1 : 0.0;
      j["lower_bound"] = *omega * (0.5 + 1.0 / (*depth + 1));
    }
    print_result(j, *as_json);
  });
}

void add_risk(CLI::App& theory) {
  struct Opts {
    DataOptions data;
    FamilyOptions family;
    double sigma = 0.9;
    std::string matrix, as = "denoiser";
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* sub = theory.add_subcommand(
      "risk", "Population risk E = 1/2 tr((T-I) Sigma (T-I)^T) + sigma^2/2 ||T||_F^2 of a matrix from a file");
  o->data.add(sub);
  sub->add_option("--sigma", o->sigma, "Noise standard deviation sigma > 0")->capture_default_str();
  sub->add_option("--matrix", o->matrix, "Text file: the denoiser T (n x n) or the regularizer R (k x n)")->required();
  sub->add_option("--as", o->as, "How to read --matrix: denoiser (T) or regularizer (R, then T = f(R^T R))")
      ->check(CLI::IsMember({"denoiser", "regularizer"}))
      ->capture_default_str();
  o->family.add(sub, false, false);
  sub->add_flag("--json", o->json, "Print one JSON object");
  sub->callback([o] {
    const Matrix mat = io::read_matrix(o->matrix);
    DataOptions d = o->data;
    if (d.data != "file") d.n = mat.cols();  // n from the matrix
    const theory::DataModel data = d.build();
    theory::check_noise_std(o->sigma, "--sigma");
    theory::RiskSplit r;
    json j = d.describe();
    j["sigma"] = o->sigma;
    if (o->as == "denoiser") {
      r = theory::risk(data, o->sigma, mat);
    } else {
      const theory::Family f = o->family.family();
      j["method"] = f.describe();
      j["k"] = mat.rows();
      r = theory::risk_of_regularizer(data, o->sigma, f, mat);
    }
    j["risk"] = r.total();
    j["bias"] = r.bias;
    j["variance"] = r.variance;
    print_result(j, o->json);
  });
}

void add_expressivity(CLI::App& theory) {
  struct Opts {
    FamilyOptions family;
    std::string matrix, realize;
    long long k = -1;  // -1: not given, use n
    double tol = 1e-9;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* sub = theory.add_subcommand(
      "expressivity", "Is a symmetric matrix a bilevel (A_k) or unrolled (B_{N,k,omega}) denoiser? Optionally realize it");
  sub->add_option("--matrix", o->matrix, "Text file with the n x n matrix T")->required();
  sub->add_option("--k", o->k, "Rank k of R (1 <= k <= n); default n");
  o->family.add(sub, false, false);
  sub->add_option("--tol", o->tol, "Absolute tolerance on eigenvalues and symmetry")->capture_default_str();
  sub->add_option("--realize", o->realize, "Write a realizing R (k x n) to this file when T is admissible");
  sub->add_flag("--json", o->json, "Print one JSON object");
  sub->callback([o] {
    const Matrix t = io::read_matrix(o->matrix);
    const theory::Family f = o->family.family();
    const long long k = o->k == -1 ? t.rows() : o->k;
    const theory::Membership m = theory::membership(f, t, k, o->tol);
    json j{{"family", f.describe()}, {"n", t.rows()}, {"k", k}, {"member", m.member}, {"b", f.at_zero()},
           {"eigen_b_count", m.eigen_b_count}, {"min_eigenvalue", m.min_eigenvalue},
           {"max_eigenvalue", m.max_eigenvalue}};
    if (!m.member) j["reason"] = m.reason;
    if (!o->realize.empty()) {
      if (!m.member) throw Error("cannot realize: " + m.reason);
      const Matrix r = theory::realize(f, t, k, o->tol);
      io::write_atomic(o->realize, io::format_matrix(r));
      j["realized"] = o->realize;
      j["realization_error"] = (f.apply(r.transpose() * r) - t).cwiseAbs().maxCoeff();
    }
    print_result(j, o->json);
  });
}

}  // namespace

void add_theory(CLI::App& app) {
  auto* theory = app.add_subcommand("theory", "Exact theory of the toy denoising model (talk notation)");
  theory->require_subcommand(1);
  add_optimal(*theory);
  add_cmin(*theory);
  add_risk(*theory);
  add_expressivity(*theory);
  add_theory_studies(*theory);
}

}  // namespace varlearn::cli
