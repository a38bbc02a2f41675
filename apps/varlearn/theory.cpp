// varlearn theory: point queries of the exact theory engine (optimal, cmin, risk, expressivity);
// the sweeps (map, depth, landscape) are registered by theory_studies.cpp.
#include <memory>

#include "commands.hpp"
#include "options.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/limits.hpp"
#include "varlearn/study/budget.hpp"
#include "varlearn/theory/expressivity.hpp"
#include "varlearn/theory/optimal.hpp"
#include "varlearn/theory/risk.hpp"

namespace varlearn::cli {
namespace {

using nlohmann::json;

FamilyOptions::Config optimal_family() {
  FamilyOptions::Config c;
  c.methods = {"linear", "bilevel", "unrolled"};
  c.method = "bilevel";
  c.default_depth = int(theory_defaults().depth);
  c.depth_note = "(unrolled only)";
  c.stepsize = "learned";
  c.learned = true;
  c.stepsize_note = "('learned': optimized over omega in (0,1] and omega -> 0+)";
  return c;
}

struct OptimalCli {
  DataOptions data{Index(theory_defaults().n)};
  NoiseOptions noise{theory_defaults().sigma};
  RankOption rank;
  FamilyOptions family{optimal_family()};
  OutputOptions output;
  std::string realize;
  BudgetOptions budget;
  double gap = theory::OptimalOptions{}.gap;
  CLI::Option* gap_option = nullptr;
};

/// The best risk of the chosen class, with the realizing matrix when asked for.
json optimal_json(const OptimalCli& o) {
  o.family.refuse_unused();
  refuse_if_given(o.rank.option(), o.family.method == "linear", "--method linear", "no regularizer R");
  refuse_if_given(o.gap_option, o.realize.empty(), "no --realize", "the gap of a realized infimum");
  check_output_path("--realize", o.realize);
  const learn::DataSource src = o.data.resolved();
  o.budget.check(study::estimate_memory(study::PointQuery{src, "", !o.realize.empty()}), "theory optimal");
  const theory::DataModel data = src.theory_model();
  const double sigma = o.noise.checked();
  const Index k = o.rank.resolve(data.n());
  theory::OptimalOptions opt;
  opt.with_regularizer = !o.realize.empty();
  opt.gap = o.gap;
  if (opt.with_regularizer && data.n() > kMaxDenseDimension)
    throw Error("--realize builds dense n x n matrices: n = " + std::to_string(data.n()) + " is above " +
                std::to_string(kMaxDenseDimension));
  const std::string& m = o.family.method;
  json j = DataOptions::describe(src);
  j["sigma"] = sigma;
  j["method"] = m;
  theory::OptimalRisk r;
  if (m == "linear") {
    r = theory::best_linear(data, sigma, opt);
  } else {
    j["k"] = k;
    if (m == "bilevel") r = theory::best_bilevel(data, sigma, k, opt);
    else {
      const int depth = o.family.depth;
      j["depth"] = depth;
      j["stepsize_mode"] = o.family.learned() ? "learned" : "fixed";
      r = o.family.learned() ? theory::best_unrolled_learned(data, sigma, k, depth, opt)
                             : theory::best_unrolled(data, sigma, k, depth, o.family.omega(), opt);
    }
  }
  j["risk"] = r.risk;
  j["attained"] = r.attained;
  if (m == "unrolled") {
    j["stepsize"] = r.stepsize;
    if (r.stepsize_interval) j["stepsize_interval"] = {r.stepsize_interval->first, r.stepsize_interval->second};
  }
  if (m != "linear") j["free_directions"] = r.free_directions;
  const double lin = theory::best_linear(data, sigma).risk;
  j["linear_risk"] = lin;
  j["ratio_to_linear"] = r.risk > 0 ? lin / r.risk : 1.0;
  if (opt.with_regularizer) {
    const Matrix& out = m == "linear" ? r.denoiser : r.regularizer;
    io::write_atomic(o.realize, io::format_matrix(out));
    j["realized"] = o.realize;
    j["realized_matrix"] = m == "linear" ? "T" : "R";
    j["realized_risk"] = r.regularizer_risk;
  }
  return j;
}

void add_optimal(CLI::App& theory) {
  auto o = std::make_shared<OptimalCli>();
  auto* sub = theory.add_subcommand("optimal", "Best (infimal) population risk of a denoiser class, exactly");
  o->data.add(sub);
  o->noise.add(sub);
  o->rank.add(sub);
  o->family.add(sub);
  sub->add_option("--realize", o->realize,
                  "Also write a realizing R (k x n) to this file (n up to a few thousand); for an infimum, "
                  "an R whose risk is within --gap of it");
  o->gap_option = add_number(sub, "--gap", o->gap, "Allowed relative gap (1 + risk) * gap for a realized infimum (with --realize)")
                      ->capture_default_str();
  o->output.add(sub);
  o->budget.add(sub);
  sub->callback([o] { print_result(optimal_json(*o), o->output.json); });
}

FamilyOptions::Config cmin_family() {
  FamilyOptions::Config c;
  c.default_depth = 3;
  c.depth_note = "(odd)";
  c.stepsize = format_general(theory_defaults().stepsize, kExactDigits);
  return c;
}

void add_cmin(CLI::App& theory) {
  struct Opts {
    FamilyOptions family{cmin_family()};
    OutputOptions output;
  };
  auto o = std::make_shared<Opts>();
  auto* sub = theory.add_subcommand(
      "cmin", "c_{N,omega} = min_{s>=0} f(s) for odd depth N: the lower end of the unrolled denoisers' spectrum");
  o->family.add(sub);
  o->output.add(sub);
  sub->callback([o] {
    const int depth = o->family.depth;
    const double omega = o->family.stepsize_number();
    if (depth % 2 == 0)
      throw Error("--depth N = " + std::to_string(depth) + " is even: f is unbounded below, c_{N,omega} exists for odd N");
    const double c = theory::cmin(depth, omega);
    const theory::Family f = theory::Family::unrolled(depth, omega);
    json j{{"depth", depth}, {"stepsize", omega}, {"cmin", c}, {"b", f.at_zero()}};
    if (depth >= 3) {
      const double q = theory::pmin_argmin(depth);
      j["qstar"] = q;
      j["m"] = theory::pmin_value(depth);
      j["interior"] = omega < 1 - q;  // c = omega m_N at s = (1 - q*)/omega - 1, else c = b at s = 0
      j["argmin_s"] = omega < 1 - q ? (1 - q) / omega - 1 : 0.0;
      j["lower_bound"] = omega * (0.5 + 1.0 / (depth + 1));
    }
    print_result(j, o->output.json);
  });
}

/// --method/--depth/--stepsize of the commands that take a fixed family (risk, expressivity).
FamilyOptions::Config fixed_family() {
  FamilyOptions::Config c;
  c.methods = {"bilevel", "unrolled"};
  c.method = "bilevel";
  c.default_depth = int(theory_defaults().depth);
  c.depth_note = "(unrolled only)";
  c.stepsize = "learned";
  c.stepsize_note = "(unrolled only; required there)";
  return c;
}

void add_risk(CLI::App& theory) {
  struct Opts {
    DataOptions data{Index(theory_defaults().n)};
    NoiseOptions noise{theory_defaults().sigma};
    FamilyOptions family{fixed_family()};
    OutputOptions output;
    BudgetOptions budget;
    std::string matrix, as = "denoiser";
  };
  auto o = std::make_shared<Opts>();
  auto* sub = theory.add_subcommand(
      "risk", "Population risk E = 1/2 tr((T-I) Sigma (T-I)^T) + sigma^2/2 ||T||_F^2 of a matrix from a file");
  o->data.add(sub);
  o->noise.add(sub);
  sub->add_option("--matrix", o->matrix, "Text file: the denoiser T (n x n) or the regularizer R (k x n)")->required();
  sub->add_option("--as", o->as, "How to read --matrix: denoiser (T) or regularizer (R, then T = f(R^T R))")
      ->check(CLI::IsMember({"denoiser", "regularizer"}))
      ->capture_default_str();
  o->family.add(sub);
  o->output.add(sub);
  o->budget.add(sub);
  sub->callback([o] {
    for (const CLI::Option* f : {o->family.method_option(), o->family.depth_option(), o->family.stepsize_option()})
      refuse_if_given(f, o->as == "denoiser", "--as denoiser", "the family of --as regularizer");
    if (o->as == "regularizer") o->family.refuse_unused();
    // Before reading --matrix: its n from its first line, the data model's from the flags.
    o->budget.check(study::estimate_memory(study::PointQuery{o->data.resolved(), o->matrix, false}), "theory risk");
    const Matrix mat = io::read_matrix(o->matrix);
    const learn::DataSource src = o->data.resolved(mat.cols());  // n from the matrix
    const theory::DataModel data = src.theory_model();
    const double sigma = o->noise.checked();
    theory::RiskSplit r;
    json j = DataOptions::describe(src);
    j["sigma"] = sigma;
    if (o->as == "denoiser") {
      r = theory::risk(data, sigma, mat);
    } else {
      const theory::Family f = o->family.family();
      j["method"] = f.describe();
      j["k"] = mat.rows();
      r = theory::risk_of_regularizer(data, sigma, f, mat);
    }
    j["risk"] = r.total();
    j["bias"] = r.bias;
    j["variance"] = r.variance;
    print_result(j, o->output.json);
  });
}

void add_expressivity(CLI::App& theory) {
  struct Opts {
    RankOption rank;
    FamilyOptions family{fixed_family()};
    OutputOptions output;
    std::string matrix, realize;
    BudgetOptions budget;
    double tol = 1e-9;
  };
  auto o = std::make_shared<Opts>();
  auto* sub = theory.add_subcommand(
      "expressivity", "Is a symmetric matrix a bilevel (A_k) or unrolled (B_{N,k,omega}) denoiser? Optionally realize it");
  sub->add_option("--matrix", o->matrix, "Text file with the n x n matrix T")->required();
  o->rank.add(sub);
  o->family.add(sub);
  add_number(sub, "--tol", o->tol, "Absolute tolerance on eigenvalues and symmetry, 0 <= tol <= 1e300")
      ->check(number_range(0, 1e300, "0 <= tol <= 1e300"))
      ->capture_default_str();
  sub->add_option("--realize", o->realize, "Write a realizing R (k x n) to this file when T is admissible");
  o->output.add(sub);
  o->budget.add(sub);
  sub->callback([o] {
    o->family.refuse_unused();
    if (o->family.method == "unrolled") o->family.omega();  // the flags, before reading the file
    check_output_path("--realize", o->realize);
    o->budget.check(study::estimate_memory(study::PointQuery{learn::DataSource::with_n(0), o->matrix, !o->realize.empty()}),
                    "theory expressivity");
    const Matrix t = io::read_matrix(o->matrix);
    const theory::Family f = o->family.family();
    const Index k = o->rank.resolve(t.rows());
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
    print_result(j, o->output.json);
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
