#include "varlearn/general/bilevel.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <optional>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/parallel.hpp"

namespace varlearn::general {

const char* to_string(LowerSolver s) { return s == LowerSolver::Lbfgs ? "lbfgs" : "newton-cg"; }

LowerSolver parse_lower_solver(const std::string& s) {
  if (s == "newton-cg") return LowerSolver::NewtonCg;
  if (s == "lbfgs") return LowerSolver::Lbfgs;
  throw Error(std::string("unknown lower-level solver '") + s + "' (newton-cg | lbfgs)");
}

void BilevelOptions::validate() const {
  const std::string where = "general::BilevelOptions: ";
  if (!(tolerance > 0) || !std::isfinite(tolerance)) throw Error(where + "tolerance must be > 0");
  if (lower_solver != LowerSolver::NewtonCg && lower_solver != LowerSolver::Lbfgs)
    throw Error(where + "lower_solver must be NewtonCg or Lbfgs");
  if (max_iterations < 1) throw Error(where + "max_iterations must be >= 1");
  if (lbfgs_max_iterations < 1) throw Error(where + "lbfgs_max_iterations must be >= 1");
  if (lbfgs_memory < 1) throw Error(where + "lbfgs_memory must be >= 1");
  if (!(cg_tolerance > 0) || !std::isfinite(cg_tolerance)) throw Error(where + "cg_tolerance must be > 0");
  if (max_cg_iterations < 0) throw Error(where + "max_cg_iterations must be >= 0 (0: 2 n B)");
}

namespace {

struct Cg {
  Matrix x;
  double residual = 0;  ///< recursive residual norm
  int iterations = 0;
  bool negative_curvature = false;
  double curvature = 0;  ///< p^T H p where it was met
};

/// CG on H x = b from x = 0; stops at |r| <= tol |b|, at max_iter, or on p^T H p <= 0
/// (returns the iterate before that step). Per iteration one product and two fused passes over
/// the n x B iterates (x, r and |r|^2 in one, then p).
Cg conjugate_gradients(const std::function<void(const Matrix&, Matrix&)>& h, const Matrix& b, double tol,
                       int max_iter) {
  Cg cg;
  cg.x = Matrix::Zero(b.rows(), b.cols());
  Matrix r = b, p = b, hp(b.rows(), b.cols());  // hp: every product into the same buffer
  double rr = r.squaredNorm();
  const double stop = tol * std::sqrt(rr);
  const Index size = b.size();
  cg.residual = std::sqrt(rr);
  while (cg.residual > stop && cg.iterations < max_iter) {
    h(p, hp);
    const double php = p.cwiseProduct(hp).sum();
    if (!(php > 0)) {
      cg.negative_curvature = true;
      cg.curvature = php;
      return cg;
    }
    const double step = rr / php;
    double* __restrict x = cg.x.data();
    double* __restrict rd = r.data();
    const double* __restrict pd = p.data();
    const double* __restrict hd = hp.data();
    double rr_new = 0;
#pragma omp simd reduction(+ : rr_new)
    for (Index i = 0; i < size; ++i) {
      x[i] += step * pd[i];
      rd[i] -= step * hd[i];
      rr_new += rd[i] * rd[i];
    }
    const double beta = rr_new / rr;
    p = r + beta * p;
    rr = rr_new;
    cg.residual = std::sqrt(rr);
    ++cg.iterations;
  }
  return cg;
}

int cg_limit(const Energy& e, const BilevelOptions& o) {
  return o.max_cg_iterations > 0 ? o.max_cg_iterations : static_cast<int>(2 * e.dimension() * e.batch());
}

/// Error unless `m` (named `what`) is n x B, the shape of E's frames.
void check_frames(const Energy& e, const Matrix& m, const char* what, const char* where) {
  if (m.rows() != e.dimension() || m.cols() != e.batch())
    throw Error(std::string(where) + ": " + what + " " + std::to_string(m.rows()) + " x " +
                std::to_string(m.cols()) + ", expected " + std::to_string(e.dimension()) + " x " +
                std::to_string(e.batch()));
}

void check_target(const Energy& e, const Matrix& target, const char* where) {
  check_frames(e, target, "targets are", where);
}

using Linearization = Energy::Linearization;

/// E, its gradient and its Hessian-vector products with call counts (the cost measure).
struct Counted {
  const Energy& energy;
  LowerLevelResult& out;
  /// E and its gradient from F's linear images (Energy::linearize).
  double value_at(const Matrix& f, const Linearization& at) const {
    ++out.value_evaluations;
    return energy.value_at(f, at);
  }
  void gradient_at(const Matrix& f, const Linearization& at, Matrix& g) const {
    ++out.gradient_evaluations;
    energy.gradient_at(f, at, g);
  }
  /// The Hessian at f for one CG solve (Energy::curvature: keeps what does not depend on v).
  std::function<void(const Matrix&, Matrix&)> curvature(const Matrix& f, const Linearization* at = nullptr,
                                                       bool single = false) const {
    auto h = at != nullptr ? energy.curvature_at(f, *at, single) : energy.curvature(f);
    return [this, h = std::move(h)](const Matrix& v, Matrix& hv) mutable {
      ++out.hessian_products;
      h(v, hv);
    };
  }
};

/// The images of F + tD from those of F and D.
void along(const Linearization& at, const Linearization& dir, double t, Linearization& out) {
  out.residual = at.residual + t * dir.residual;
  if (at.responses.size() > 0)
    out.responses = at.responses + t * dir.responses;
  else
    out.responses.resize(0, 0);
}

/// E, its gradient and |grad E| at r.f from r.f's own images (recomputed into `at`): both solvers
/// start here and certify their tolerance here, since images carried along the lines collect
/// rounding. Returns E.
double at_own_images(const Counted& e, LowerLevelResult& r, Linearization& at, Matrix& g) {
  e.energy.linearize(r.f, at);
  const double value = e.value_at(r.f, at);
  e.gradient_at(r.f, at, g);
  r.gradient_norm = g.norm();
  return value;
}

/// The solvers' stopping test: true when |grad E| <= tolerance at r.f's own images (`exact`).
/// When it holds only at images carried along the lines, recomputes them (value, g, the norm)
/// and answers for those.
bool certified(const Counted& e, const BilevelOptions& o, LowerLevelResult& r, Linearization& at, Matrix& g,
               double& value, bool& exact) {
  if (r.gradient_norm > o.tolerance) return false;
  if (exact) return true;
  value = at_own_images(e, r, at, g);
  exact = true;
  return r.gradient_norm <= o.tolerance;
}

[[noreturn]] void not_reached(const char* where, const char* solver, const LowerLevelResult& r,
                              const BilevelOptions& o) {
  throw Error(std::string(where) + ": |grad E| = " + format_general(r.gradient_norm, 3) + " after " +
              std::to_string(r.iterations) + " " + solver + " iterations, tolerance " +
              format_general(o.tolerance, 3));
}

/// Newton-CG's line search: backtracking (Armijo) on E along d from f (slope = <grad E, d> < 0),
/// E evaluated from the images of f (`at`) and of d (`dir`), no product per trial. Near the
/// minimizer the decrease of E (~|g|^2) drops below E's rounding, so a full step that halves
/// |grad E| is accepted too (Newton's endgame). On success f, at, value, g, gradient_norm move
/// to the accepted point.
void line_search(const Counted& e, const char* where, const BilevelOptions& o, const Matrix& d,
                 const Linearization& dir, double slope, Matrix& f, Linearization& at, double& value, Matrix& g,
                 LowerLevelResult& r) {
  double t = 1.0;
  Matrix trial = f + d;
  Linearization trial_at;
  along(at, dir, t, trial_at);
  double trial_value = e.value_at(trial, trial_at);
  Matrix trial_g;
  bool have_g = false;
  bool accepted = trial_value <= value + 1e-4 * slope;
  if (!accepted) {
    e.gradient_at(trial, trial_at, trial_g);
    have_g = true;
    accepted = trial_g.allFinite() && trial_g.norm() <= 0.5 * r.gradient_norm;
  }
  int halvings = 0;
  while (!accepted && halvings < 60) {
    t *= 0.5;
    trial = f + t * d;
    along(at, dir, t, trial_at);
    trial_value = e.value_at(trial, trial_at);
    have_g = false;
    ++halvings;
    accepted = trial_value <= value + 1e-4 * t * slope;
  }
  if (!trial.allFinite()) throw Error(std::string(where) + ": a non-finite iterate");
  if (!accepted) {
    // No decrease measurable in floating point: the tolerance is out of reach.
    throw Error(std::string(where) + ": the line search failed at |grad E| = " + format_general(r.gradient_norm, 3) +
                " (tolerance " + format_general(o.tolerance, 3) + " below what this energy's rounding allows?)");
  }
  f = std::move(trial);
  at = std::move(trial_at);
  value = trial_value;
  if (have_g)
    g = std::move(trial_g);
  else
    e.gradient_at(f, at, g);
  r.gradient_norm = g.norm();
}

/// Newton-CG on the images of the iterate (Energy::linearize): per iteration one product for
/// the images of the direction, the CG's Hessian products (in single precision while the
/// forcing term is >= 1e-3), and the adjoints of the gradient.
/// The images moved along the lines carry their rounding, so the tolerance is certified at the
/// iterate's own images (and the iteration goes on should they disagree).
void newton_cg(const Counted& e, const char* where, const BilevelOptions& o, LowerLevelResult& r,
               Linearization* keep) {
  Linearization at, dir;
  Matrix g;
  double value = at_own_images(e, r, at, g);
  bool exact = true;  // `at` computed from r.f itself
  const int max_cg = cg_limit(e.energy, o);
  while (!certified(e, o, r, at, g, value, exact)) {
    if (r.iterations >= o.max_iterations) not_reached(where, "Newton-CG", r, o);
    const Matrix minus_g = -g;
    // Inexact Newton (forcing term min(0.1, sqrt|g|)) for speed far away, tight near the end.
    const double forcing = std::min(0.1, std::sqrt(r.gradient_norm));
    // A direction to 1e-3 or coarser needs no double-precision products: there the CG runs on
    // the curvature in single precision (~1e-7 relative, twice the GEMM rate) where E has it.
    const bool single = forcing >= 1e-3;
    Cg cg = conjugate_gradients(e.curvature(r.f, &at, single), minus_g, forcing, max_cg);
    Matrix d = cg.iterations > 0 ? cg.x : minus_g;
    double slope = g.cwiseProduct(d).sum();
    if (!(slope < 0)) {
      d = minus_g;
      slope = -g.squaredNorm();
    }
    e.energy.linearize_direction(d, dir);
    line_search(e, where, o, d, dir, slope, r.f, at, value, g, r);
    exact = false;
    ++r.iterations;
  }
  if (keep != nullptr) *keep = std::move(at);
}

/// The L-BFGS line search, by halving from t = 1: Armijo, or the approximate Wolfe test of
/// Hager and Zhang, \phi(t) <= \phi(0) + 1e-10 |\phi(0)| and \phi'(t) <= (2 delta - 1) \phi'(0)
/// (delta = 0.1; along a quadratic it is \phi(t) - \phi(0) <= -delta t |\phi'(0)|, measured by
/// the gradient, which stays accurate where E's decrease, ~|grad E|^2, is below E's rounding).
/// E and its gradient come from the images of f (`at`) and d (`dir`), as in Newton-CG's.
void lbfgs_line_search(const Counted& e, const char* where, const BilevelOptions& o, const Matrix& d,
                       const Linearization& dir, double slope, Matrix& f, Linearization& at, double& value,
                       Matrix& g, LowerLevelResult& r) {
  double t = 1.0;
  Linearization trial_at;
  Matrix trial_g;
  for (int halvings = 0; halvings <= 60; ++halvings, t *= 0.5) {
    Matrix trial = f + t * d;
    along(at, dir, t, trial_at);
    const double trial_value = e.value_at(trial, trial_at);
    if (!std::isfinite(trial_value)) continue;
    e.gradient_at(trial, trial_at, trial_g);
    if (!trial_g.allFinite()) continue;
    const bool armijo = trial_value <= value + 1e-4 * t * slope;
    const bool approximate_wolfe = trial_value <= value + 1e-10 * std::abs(value) &&
                                   trial_g.cwiseProduct(d).sum() <= -0.8 * slope;
    if (armijo || approximate_wolfe) {
      f = std::move(trial);
      at = std::move(trial_at);
      value = trial_value;
      g = std::move(trial_g);
      r.gradient_norm = g.norm();
      return;
    }
  }
  throw Error(std::string(where) + ": the L-BFGS line search failed at |grad E| = " +
              format_general(r.gradient_norm, 3) + " (tolerance " + format_general(o.tolerance, 3) +
              " below what this energy's rounding allows?)");
}

/// L-BFGS on E over the n x B frames (Nocedal & Wright Alg. 7.4): d = -H_k g by the two-loop
/// recursion over the last m pairs s = f_{k+1} - f_k, y = g_{k+1} - g_k, H_0 = (s^Ty/y^Ty) I; a
/// pair enters only when s^Ty > 0 (the line search is Armijo only, no Wolfe curvature test).
/// On the images of the iterate, certified at the end as Newton-CG's.
void lbfgs(const Counted& e, const char* where, const BilevelOptions& o, LowerLevelResult& r, Linearization* keep) {
  Linearization at, dir;
  Matrix g;
  double value = at_own_images(e, r, at, g);
  bool exact = true;
  std::deque<Matrix> s_pairs, y_pairs;
  std::deque<double> rho;
  std::vector<double> alpha;
  while (!certified(e, o, r, at, g, value, exact)) {
    if (r.iterations >= o.lbfgs_max_iterations) not_reached(where, "L-BFGS", r, o);
    Matrix d = -g;
    const size_t m = s_pairs.size();
    alpha.assign(m, 0.0);
    for (size_t i = m; i-- > 0;) {
      alpha[i] = rho[i] * s_pairs[i].cwiseProduct(d).sum();
      d -= alpha[i] * y_pairs[i];
    }
    if (m > 0) d *= 1.0 / (rho[m - 1] * y_pairs[m - 1].squaredNorm());
    for (size_t i = 0; i < m; ++i) {
      const double beta = rho[i] * y_pairs[i].cwiseProduct(d).sum();
      d += (alpha[i] - beta) * s_pairs[i];
    }
    double slope = g.cwiseProduct(d).sum();
    if (!(slope < 0)) {  // no descent direction: restart from steepest descent
      s_pairs.clear();
      y_pairs.clear();
      rho.clear();
      d = -g;
      slope = -g.squaredNorm();
    }
    const Matrix f_old = r.f, g_old = g;
    e.energy.linearize_direction(d, dir);
    lbfgs_line_search(e, where, o, d, dir, slope, r.f, at, value, g, r);
    exact = false;
    ++r.iterations;
    Matrix s = r.f - f_old, y = g - g_old;
    const double sy = s.cwiseProduct(y).sum();
    if (sy > 1e-12 * y.squaredNorm() && sy > 0) {
      s_pairs.push_back(std::move(s));
      y_pairs.push_back(std::move(y));
      rho.push_back(1.0 / sy);
      if (static_cast<int>(s_pairs.size()) > o.lbfgs_memory) {
        s_pairs.pop_front();
        y_pairs.pop_front();
        rho.pop_front();
      }
    }
  }
  if (keep != nullptr) *keep = std::move(at);
}

/// The lower level of one column block (or of the whole batch), options validated; `keep`
/// (when given) receives f*'s images (Energy::linearize at f*, for the adjoint's curvature).
LowerLevelResult lower_level_of(const Energy& energy, const BilevelOptions& options, const Matrix* start,
                                const char* where, Linearization* keep = nullptr) {
  LowerLevelResult result;
  if (start != nullptr) {
    result.f = *start;
  } else {
    result.f = options.init == UnrolledInit::Zero ? Matrix(Matrix::Zero(energy.dimension(), energy.batch()))
                                                  : energy.adjoint_observations();
  }
  const Counted counted{energy, result};
  if (options.lower_solver == LowerSolver::Lbfgs)
    lbfgs(counted, where, options, result, keep);
  else
    newton_cg(counted, where, options, result, keep);
  return result;
}

/// The adjoint solve and hypergradient of one column block (or of the whole batch) for the loss
/// 1/2 |f* - target|^2 / `frames` (the whole batch's B), options validated.
ImplicitGradient hypergradient_of(const Energy& energy, const Matrix& f_star, const Matrix& target,
                                  const BilevelOptions& options, Index frames, const char* where,
                                  const Linearization* at = nullptr) {
  const Matrix b = (f_star - target) / static_cast<double>(frames);
  ImplicitGradient out;
  if (b.squaredNorm() == 0) {
    out.w = Matrix::Zero(b.rows(), b.cols());
    out.gradient = Vector::Zero(energy.num_parameters());
    return out;
  }
  // Keeps what does not depend on v (from f*'s images when the lower level kept them).
  auto curvature = at != nullptr && at->residual.size() > 0 ? energy.curvature_at(f_star, *at)
                                                            : energy.curvature(f_star);
  const auto h = [&](const Matrix& v, Matrix& hv) {
    ++out.hessian_products;
    curvature(v, hv);
  };
  const Cg cg = conjugate_gradients(h, b, options.cg_tolerance, cg_limit(energy, options));
  if (cg.negative_curvature)
    throw Error(std::string(where) + ": the Hessian of E at f* is not positive definite (CG met p^T H p = " +
                format_general(cg.curvature, 3) + " <= 0 at iteration " + std::to_string(cg.iterations) +
                "): f* is no strict local minimizer (nonconvex potential?), so there is no implicit gradient");
  out.w = cg.x;
  out.cg_iterations = cg.iterations;
  Matrix hw;
  h(out.w, hw);
  out.cg_residual = (hw - b).norm();
  if (out.cg_residual > 10 * options.cg_tolerance * b.norm())
    throw Error(std::string(where) + ": CG reached residual " + format_general(out.cg_residual, 3) + " after " +
                std::to_string(cg.iterations) + " iterations, asked " +
                format_general(options.cg_tolerance * b.norm(), 3) + " (ill-conditioned H?)");
  out.gradient = -energy.mixed_product(f_star, out.w);
  return out;
}

/// A block's share of the lower-level tolerance: |grad E_b| <= tol sqrt(w / B) in every block
/// of w frames gives |grad E| <= tol for the batch.
BilevelOptions block_options(const BilevelOptions& options, Index width, Index batch) {
  BilevelOptions o = options;
  o.tolerance = options.tolerance * std::sqrt(static_cast<double>(width) / static_cast<double>(batch));
  return o;
}

/// Adds a block's lower-level result into the batch's (f* columns, counts; the gradient norm as
/// a sum of squares, finished by the caller; iterations: the most of any block).
void add_lower(LowerLevelResult& all, LowerLevelResult&& part, Index begin) {
  all.f.middleCols(begin, part.f.cols()) = part.f;
  all.gradient_norm += part.gradient_norm * part.gradient_norm;
  all.iterations = std::max(all.iterations, part.iterations);
  all.hessian_products += part.hessian_products;
  all.gradient_evaluations += part.gradient_evaluations;
  all.value_evaluations += part.value_evaluations;
}

void add_hypergradient(ImplicitGradient& all, ImplicitGradient&& part, Index begin) {
  all.w.middleCols(begin, part.w.cols()) = part.w;
  if (all.gradient.size() == 0)
    all.gradient = std::move(part.gradient);
  else
    all.gradient += part.gradient;
  all.cg_residual += part.cg_residual * part.cg_residual;
  all.cg_iterations = std::max(all.cg_iterations, part.cg_iterations);
  all.hessian_products += part.hessian_products;
}

}  // namespace

// The frames are independent problems (E = sum_b E_b(f_b), H block diagonal): from
// frame_block_columns(n, B) frames on, the lower level and the adjoint solve run per column
// block (general::frame_blocks), each to its share of the tolerances, the blocks on the threads
// and added in block order. A block's iterates stay in cache, and its CG and line search adapt
// to its own frames.

LowerLevelResult solve_lower_level(const Energy& energy, const BilevelOptions& options, const Matrix* start) {
  const char* where = "general::solve_lower_level";
  options.validate();
  if (start != nullptr) check_frames(energy, *start, "the start is", where);
  const FrameBlocks bl = frame_blocks(energy);
  if (bl.count == 1) return lower_level_of(energy, options, start, where);
  const Index batch = energy.batch();
  std::vector<LowerLevelResult> parts(static_cast<std::size_t>(bl.count));
  parallel_for(
      bl.count,
      [&](Index i) {
        const Index c0 = bl.begin(i), w = bl.width(i, batch);
        const Matrix block_start = start != nullptr ? Matrix(start->middleCols(c0, w)) : Matrix();
        parts[static_cast<std::size_t>(i)] = lower_level_of(energy.columns(c0, w), block_options(options, w, batch),
                                                            start != nullptr ? &block_start : nullptr, where);
      },
      Schedule::Dynamic, 1, bl.threads > 1);
  LowerLevelResult result;
  result.f.resize(energy.dimension(), batch);
  for (Index i = 0; i < bl.count; ++i) add_lower(result, std::move(parts[static_cast<std::size_t>(i)]), bl.begin(i));
  result.gradient_norm = std::sqrt(result.gradient_norm);
  return result;
}

ImplicitGradient implicit_hypergradient(const Energy& energy, const Matrix& f_star, const Matrix& target,
                                        const BilevelOptions& options) {
  const char* where = "general::implicit_hypergradient";
  options.validate();
  check_target(energy, target, where);
  check_frames(energy, f_star, "f* is", where);
  const Index batch = energy.batch();
  const FrameBlocks bl = frame_blocks(energy);
  if (bl.count == 1) return hypergradient_of(energy, f_star, target, options, batch, where);
  std::vector<ImplicitGradient> parts(static_cast<std::size_t>(bl.count));
  parallel_for(
      bl.count,
      [&](Index i) {
        const Index c0 = bl.begin(i), w = bl.width(i, batch);
        parts[static_cast<std::size_t>(i)] = hypergradient_of(
            energy.columns(c0, w), f_star.middleCols(c0, w), target.middleCols(c0, w), options, batch, where);
      },
      Schedule::Dynamic, 1, bl.threads > 1);
  ImplicitGradient out;
  out.w.resize(energy.dimension(), batch);
  for (Index i = 0; i < bl.count; ++i)
    add_hypergradient(out, std::move(parts[static_cast<std::size_t>(i)]), bl.begin(i));
  out.cg_residual = std::sqrt(out.cg_residual);
  return out;
}

BilevelResult bilevel_loss(const Energy& energy, const Matrix& target, const BilevelOptions& options,
                           bool with_gradient) {
  const char* where = "general::bilevel_loss";
  options.validate();
  check_target(energy, target, where);
  const Index batch = energy.batch();
  const FrameBlocks bl = frame_blocks(energy);
  struct Part {
    LowerLevelResult lower;
    ImplicitGradient hyper;
  };
  std::vector<Part> parts(static_cast<std::size_t>(bl.count));
  // One block: its lower level, then (with_gradient) its adjoint solve while its frames are in cache.
  const auto solve = [&](Index i) {
    const Index c0 = bl.begin(i), w = bl.width(i, batch);
    Part& p = parts[static_cast<std::size_t>(i)];
    const Energy* sub = &energy;
    std::optional<Energy> own;
    if (bl.count > 1) sub = &own.emplace(energy.columns(c0, w));
    const BilevelOptions o = bl.count > 1 ? block_options(options, w, batch) : options;
    Linearization at;
    p.lower = lower_level_of(*sub, o, nullptr, "general::solve_lower_level", &at);
    if (with_gradient)
      p.hyper = hypergradient_of(*sub, p.lower.f, target.middleCols(c0, w), o, batch,
                                 "general::implicit_hypergradient", &at);
  };
  parallel_for(bl.count, solve, Schedule::Dynamic, 1, bl.threads > 1);
  LowerLevelResult lower;
  ImplicitGradient hyper;
  lower.f.resize(energy.dimension(), batch);
  hyper.w.resize(energy.dimension(), with_gradient ? batch : 0);
  for (Index i = 0; i < bl.count; ++i) {
    Part& p = parts[static_cast<std::size_t>(i)];
    add_lower(lower, std::move(p.lower), bl.begin(i));
    if (with_gradient) add_hypergradient(hyper, std::move(p.hyper), bl.begin(i));
  }
  BilevelResult result;
  result.loss = 0.5 * (lower.f - target).squaredNorm() / static_cast<double>(batch);
  result.lower_gradient_norm = std::sqrt(lower.gradient_norm);
  result.lower_iterations = lower.iterations;
  result.lower_hessian_products = lower.hessian_products;
  result.hessian_products = lower.hessian_products;
  result.gradient_evaluations = lower.gradient_evaluations;
  if (with_gradient) {
    result.gradient = std::move(hyper.gradient);
    result.cg_residual = std::sqrt(hyper.cg_residual);
    result.cg_iterations = hyper.cg_iterations;
    result.hessian_products += hyper.hessian_products;
  }
  result.output = std::move(lower.f);
  return result;
}

BilevelObjective::BilevelObjective(Energy energy, Matrix target, BilevelOptions options)
    : energy_(std::move(energy)), target_(std::move(target)), options_(options) {
  options_.validate();
  check_target(energy_, target_, "general::BilevelObjective");
}

void BilevelObjective::set(const Vector& theta, const char* where) {
  if (theta.size() != num_parameters())
    throw Error(std::string(where) + ": " + std::to_string(theta.size()) + " parameters, expected " +
                std::to_string(num_parameters()));
  energy_.set_parameters(theta);
}

double BilevelObjective::evaluate_with_gradient(const Vector& theta, Vector& grad) {
  set(theta, "general::BilevelObjective::evaluate_with_gradient");
  last_ = bilevel_loss(energy_, target_, options_, true);
  grad = last_.gradient;
  return last_.loss;
}

double BilevelObjective::evaluate(const Vector& theta) {
  set(theta, "general::BilevelObjective::evaluate");
  last_ = bilevel_loss(energy_, target_, options_, false);
  return last_.loss;
}

std::vector<ToleranceRow> tolerance_table(const Energy& energy, const Matrix& target,
                                          const std::vector<double>& tolerances, const BilevelOptions& base) {
  const char* where = "general::tolerance_table";
  base.validate();
  check_target(energy, target, where);
  if (tolerances.empty()) throw Error(std::string(where) + ": no tolerances");
  for (const double t : tolerances)
    if (!(t > 0) || !std::isfinite(t))
      throw Error(std::string(where) + ": a tolerance is " + format_general(t, 3) + ", must be > 0");
  std::vector<ToleranceRow> rows;
  std::vector<Vector> gradients;
  rows.reserve(tolerances.size());
  for (const double t : tolerances) {
    BilevelOptions o = base;
    o.tolerance = t;
    BilevelResult r = bilevel_loss(energy, target, o, true);
    ToleranceRow row;
    row.tolerance = t;
    row.lower_iterations = r.lower_iterations;
    row.hessian_products = r.hessian_products;
    row.lower_gradient_norm = r.lower_gradient_norm;
    row.cg_residual = r.cg_residual;
    row.gradient_evaluations = r.gradient_evaluations;
    row.cg_iterations = r.cg_iterations;
    rows.push_back(row);
    gradients.push_back(std::move(r.gradient));
  }
  const size_t ref = static_cast<size_t>(std::min_element(tolerances.begin(), tolerances.end()) - tolerances.begin());
  const double ref_norm = gradients[ref].norm();
  for (size_t i = 0; i < rows.size(); ++i) {
    const double diff = (gradients[i] - gradients[ref]).norm();
    rows[i].relative_error = ref_norm > 0 ? diff / ref_norm : diff;
  }
  return rows;
}

double reference_fd_error(const Energy& energy, const Matrix& target, const BilevelOptions& options, double step,
                          Index coordinates) {
  const char* where = "general::reference_fd_error";
  options.validate();
  check_target(energy, target, where);
  if (!(step > 0) || !std::isfinite(step)) throw Error(std::string(where) + ": the step must be > 0");
  const BilevelResult at = bilevel_loss(energy, target, options, true);
  const Vector theta = energy.parameters();
  const Index p = theta.size();
  const Index count = coordinates <= 0 || coordinates >= p ? p : coordinates;
  Energy shifted = energy;
  double diff2 = 0, norm2 = 0;
  for (Index j = 0; j < count; ++j) {
    // Evenly spaced coordinates, all of them when count = p.
    const Index i = count == p ? j : (j * p) / count;
    Vector x = theta;
    x(i) = theta(i) + step;
    shifted.set_parameters(x);
    const double plus = bilevel_loss(shifted, target, options, false).loss;
    x(i) = theta(i) - step;
    shifted.set_parameters(x);
    const double minus = bilevel_loss(shifted, target, options, false).loss;
    const double fd = (plus - minus) / (2 * step);
    diff2 += (at.gradient(i) - fd) * (at.gradient(i) - fd);
    norm2 += fd * fd;
  }
  return norm2 > 0 ? std::sqrt(diff2 / norm2) : std::sqrt(diff2);
}

}  // namespace varlearn::general
