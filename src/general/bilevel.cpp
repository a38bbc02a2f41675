#include "varlearn/general/bilevel.hpp"

#include <cmath>
#include <algorithm>
#include <functional>
#include <string>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"

namespace varlearn::general {

void BilevelOptions::validate() const {
  const std::string where = "general::BilevelOptions: ";
  if (!(tolerance > 0) || !std::isfinite(tolerance)) throw Error(where + "tolerance must be > 0");
  if (max_iterations < 1) throw Error(where + "max_iterations must be >= 1");
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
/// (returns the iterate before that step).
Cg conjugate_gradients(const std::function<Matrix(const Matrix&)>& h, const Matrix& b, double tol, int max_iter) {
  Cg cg;
  cg.x = Matrix::Zero(b.rows(), b.cols());
  Matrix r = b, p = b;
  double rr = r.squaredNorm();
  const double stop = tol * std::sqrt(rr);
  cg.residual = std::sqrt(rr);
  while (cg.residual > stop && cg.iterations < max_iter) {
    const Matrix hp = h(p);
    const double php = p.cwiseProduct(hp).sum();
    if (!(php > 0)) {
      cg.negative_curvature = true;
      cg.curvature = php;
      return cg;
    }
    const double step = rr / php;
    cg.x += step * p;
    r -= step * hp;
    const double rr_new = r.squaredNorm();
    p = r + (rr_new / rr) * p;
    rr = rr_new;
    cg.residual = std::sqrt(rr);
    ++cg.iterations;
  }
  return cg;
}

int cg_limit(const Energy& e, const BilevelOptions& o) {
  return o.max_cg_iterations > 0 ? o.max_cg_iterations : static_cast<int>(2 * e.dimension() * e.batch());
}

void check_target(const Energy& e, const Matrix& target, const char* where) {
  if (target.rows() != e.dimension() || target.cols() != e.batch())
    throw Error(std::string(where) + ": targets are " + std::to_string(target.rows()) + " x " +
                std::to_string(target.cols()) + ", expected " + std::to_string(e.dimension()) + " x " +
                std::to_string(e.batch()));
}

}  // namespace

LowerLevelResult solve_lower_level(const Energy& energy, const BilevelOptions& options, const Matrix* start) {
  const char* where = "general::solve_lower_level";
  options.validate();
  LowerLevelResult result;
  if (start != nullptr) {
    if (start->rows() != energy.dimension() || start->cols() != energy.batch())
      throw Error(std::string(where) + ": the start is " + std::to_string(start->rows()) + " x " +
                  std::to_string(start->cols()) + ", expected " + std::to_string(energy.dimension()) + " x " +
                  std::to_string(energy.batch()));
    result.f = *start;
  } else {
    result.f = options.init == UnrolledInit::Zero ? Matrix(Matrix::Zero(energy.dimension(), energy.batch()))
                                                  : energy.adjoint_observations();
  }
  Matrix g = energy.gradient(result.f);
  double value = energy.value(result.f);
  result.gradient_norm = g.norm();
  const int max_cg = cg_limit(energy, options);
  while (result.gradient_norm > options.tolerance) {
    if (result.iterations >= options.max_iterations)
      throw Error(std::string(where) + ": |grad E| = " + format_general(result.gradient_norm, 3) + " after " +
                  std::to_string(result.iterations) + " Newton-CG iterations, tolerance " +
                  format_general(options.tolerance, 3));
    const Matrix& f = result.f;
    const Matrix minus_g = -g;
    // Inexact Newton (forcing term min(0.1, sqrt|g|)) for speed far away, tight near the end.
    const double forcing = std::min(0.1, std::sqrt(result.gradient_norm));
    Cg cg = conjugate_gradients([&](const Matrix& v) { return energy.hessian_product(f, v); }, minus_g, forcing,
                                max_cg);
    Matrix d = cg.iterations > 0 ? cg.x : minus_g;
    double slope = g.cwiseProduct(d).sum();
    if (!(slope < 0)) {
      d = minus_g;
      slope = -g.squaredNorm();
    }
    // Backtracking (Armijo) on E. Near the minimizer the decrease of E (~|g|^2) drops below
    // E's rounding, so a full step that halves |grad E| is accepted too (Newton's endgame).
    double t = 1.0;
    Matrix trial = f + d;
    double trial_value = energy.value(trial);
    int halvings = 0;
    Matrix trial_g;
    bool accepted = trial_value <= value + 1e-4 * slope;
    if (!accepted) {
      trial_g = energy.gradient(trial);
      accepted = trial_g.allFinite() && trial_g.norm() <= 0.5 * result.gradient_norm;
    }
    while (!accepted && halvings < 60) {
      t *= 0.5;
      trial = f + t * d;
      trial_value = energy.value(trial);
      ++halvings;
      accepted = trial_value <= value + 1e-4 * t * slope;
    }
    if (!trial.allFinite()) throw Error(std::string(where) + ": a non-finite iterate");
    if (!accepted) {
      // No decrease measurable in floating point: the tolerance is out of reach.
      throw Error(std::string(where) + ": the line search failed at |grad E| = " +
                  format_general(result.gradient_norm, 3) + " (tolerance " + format_general(options.tolerance, 3) +
                  " below what this energy's rounding allows?)");
    }
    result.f = trial;
    value = trial_value;
    g = energy.gradient(result.f);
    result.gradient_norm = g.norm();
    ++result.iterations;
  }
  return result;
}

ImplicitGradient implicit_hypergradient(const Energy& energy, const Matrix& f_star, const Matrix& target,
                                        const BilevelOptions& options) {
  const char* where = "general::implicit_hypergradient";
  options.validate();
  check_target(energy, target, where);
  const Matrix b = (f_star - target) / static_cast<double>(energy.batch());
  ImplicitGradient out;
  if (b.squaredNorm() == 0) {
    out.w = Matrix::Zero(b.rows(), b.cols());
    out.gradient = Vector::Zero(energy.num_parameters());
    return out;
  }
  const auto h = [&](const Matrix& v) { return energy.hessian_product(f_star, v); };
  const Cg cg = conjugate_gradients(h, b, options.cg_tolerance, cg_limit(energy, options));
  if (cg.negative_curvature)
    throw Error(std::string(where) + ": the Hessian of E at f* is not positive definite (CG met p^T H p = " +
                format_general(cg.curvature, 3) + " <= 0 at iteration " + std::to_string(cg.iterations) +
                "): f* is no strict local minimizer (nonconvex potential?), so there is no implicit gradient");
  out.w = cg.x;
  out.cg_iterations = cg.iterations;
  out.cg_residual = (h(out.w) - b).norm();
  if (out.cg_residual > 10 * options.cg_tolerance * b.norm())
    throw Error(std::string(where) + ": CG reached residual " + format_general(out.cg_residual, 3) + " after " +
                std::to_string(cg.iterations) + " iterations, asked " +
                format_general(options.cg_tolerance * b.norm(), 3) + " (ill-conditioned H?)");
  out.gradient = -energy.mixed_product(f_star, out.w);
  return out;
}

BilevelResult bilevel_loss(const Energy& energy, const Matrix& target, const BilevelOptions& options,
                           bool with_gradient) {
  check_target(energy, target, "general::bilevel_loss");
  LowerLevelResult lower = solve_lower_level(energy, options);
  BilevelResult result;
  result.loss = 0.5 * (lower.f - target).squaredNorm() / static_cast<double>(energy.batch());
  result.lower_gradient_norm = lower.gradient_norm;
  result.lower_iterations = lower.iterations;
  if (with_gradient) {
    ImplicitGradient ig = implicit_hypergradient(energy, lower.f, target, options);
    result.gradient = std::move(ig.gradient);
    result.cg_residual = ig.cg_residual;
    result.cg_iterations = ig.cg_iterations;
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

}  // namespace varlearn::general
