#include "varlearn/optim/gradient_check.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "varlearn/core/error.hpp"
#include "varlearn/core/random.hpp"

namespace varlearn::optim {

void GradientCheckOptions::validate() const {
  const char* w = "GradientCheckOptions";
  require(std::isfinite(step) && step > 0, w, "step must be > 0");
  require(order == 2 || order == 4, w, "order must be 2 or 4");
  require(std::isfinite(tolerance) && tolerance > 0, w, "tolerance must be > 0");
  require(std::isfinite(floor) && floor >= 0, w, "floor must be >= 0");
  require(max_coordinates >= 0, w, "max_coordinates must be >= 0");
}

std::string GradientCheckResult::summary() const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "gradient check %s: max rel err %.3g at coordinate %lld (%zu checked)",
                passed ? "passed" : "FAILED", max_rel_error, static_cast<long long>(worst_index),
                coordinates.size());
  return buf;
}

GradientCheckResult check_gradient(const Function<double>& fn, const Vector& x,
                                   const GradientCheckOptions& options) {
  options.validate();
  const char* where = "check_gradient";
  require(x.size() > 0, where, "empty parameter vector");
  require(x.allFinite(), where, "parameter vector has NaN/inf entries");
  Vector grad = Vector::Zero(x.size());
  GradientCheckResult res;
  res.loss = fn.evaluate_with_gradient(x, grad);
  require(std::isfinite(res.loss), where, "loss is not finite at x");
  require(grad.size() == x.size(), where,
          "gradient has " + std::to_string(grad.size()) + " entries, parameters " +
              std::to_string(x.size()));
  require(grad.allFinite(), where, "gradient has NaN/inf entries");

  std::vector<Index> idx(static_cast<size_t>(x.size()));
  std::iota(idx.begin(), idx.end(), Index{0});
  if (options.max_coordinates > 0 && options.max_coordinates < x.size()) {
    Rng rng(options.seed);
    std::shuffle(idx.begin(), idx.end(), rng);
    idx.resize(static_cast<size_t>(options.max_coordinates));
    std::sort(idx.begin(), idx.end());
  }
  // Rounding noise of the differences is ~eps |L| / h: never judge against less than that.
  const double scale = std::max(options.floor * grad.cwiseAbs().maxCoeff(), 1e-5 * std::abs(res.loss));
  Vector xp = x;
  auto at = [&](Index i, double delta) {
    xp(i) = x(i) + delta;
    const double v = fn.evaluate(xp);
    xp(i) = x(i);
    return v;
  };
  res.passed = true;
  for (Index i : idx) {
    const double h = options.step * std::max(1.0, std::abs(x(i)));
    double d;
    if (options.order == 2) {
      d = (at(i, h) - at(i, -h)) / (2 * h);
    } else {
      d = (-at(i, 2 * h) + 8 * at(i, h) - 8 * at(i, -h) + at(i, -2 * h)) / (12 * h);
    }
    CoordinateCheck c;
    c.index = i;
    c.analytic = grad(i);
    c.numeric = d;
    c.abs_error = std::abs(c.analytic - d);
    const double denom = std::max({std::abs(c.analytic), std::abs(d), scale});
    c.rel_error = denom > 0 ? c.abs_error / denom : 0.0;
    if (!std::isfinite(d)) c.rel_error = std::numeric_limits<double>::infinity();
    if (!(c.rel_error < options.tolerance)) res.passed = false;
    if (c.rel_error > res.max_rel_error || res.worst_index < 0) {
      res.max_rel_error = std::max(res.max_rel_error, c.rel_error);
      if (c.rel_error >= res.max_rel_error) res.worst_index = i;
    }
    res.max_abs_error = std::max(res.max_abs_error, c.abs_error);
    res.coordinates.push_back(c);
  }
  return res;
}

Matrix finite_difference_hessian(const Function<double>& fn, const Vector& x, double step) {
  require(x.size() > 0 && x.allFinite(), "finite_difference_hessian", "need a finite, non-empty x");
  require(std::isfinite(step) && step > 0, "finite_difference_hessian", "step must be > 0");
  const Index p = x.size();
  Matrix h(p, p);
  Vector xp = x, gp(p), gm(p);
  for (Index i = 0; i < p; ++i) {
    const double d = step * std::max(1.0, std::abs(x(i)));
    xp(i) = x(i) + d;
    gp.setZero();
    fn.evaluate_with_gradient(xp, gp);
    xp(i) = x(i) - d;
    gm.setZero();
    fn.evaluate_with_gradient(xp, gm);
    xp(i) = x(i);
    h.col(i) = (gp - gm) / (2 * d);
  }
  return 0.5 * (h + h.transpose());
}

Curvature curvature(const Function<double>& fn, const Vector& x, double step) {
  const Matrix h = finite_difference_hessian(fn, x, step);
  Eigen::SelfAdjointEigenSolver<Matrix> es(h, Eigen::EigenvaluesOnly);
  Curvature c;
  c.min_eigenvalue = es.eigenvalues().minCoeff();
  c.max_eigenvalue = es.eigenvalues().maxCoeff();
  const double scale = es.eigenvalues().cwiseAbs().maxCoeff();
  c.negative = (es.eigenvalues().array() < -1e-6 * scale).count();
  return c;
}

Vector hessian_vector_product(const Function<double>& fn, const Vector& x, const Vector& v, double h) {
  require(v.size() == x.size(), "hessian_vector_product", "v and x differ in size");
  require(std::isfinite(h) && h > 0, "hessian_vector_product", "step h must be > 0");
  Vector gp = Vector::Zero(x.size()), gm = Vector::Zero(x.size());
  fn.evaluate_with_gradient(x + h * v, gp);
  fn.evaluate_with_gradient(x - h * v, gm);
  return (gp - gm) / (2 * h);
}

double max_curvature(const Function<double>& fn, const Vector& x, const Vector& start, int iterations, double h) {
  require(iterations >= 1, "max_curvature", "iterations must be >= 1");
  require(start.size() == x.size() && start.norm() > 0, "max_curvature", "need a non-zero start vector of x's size");
  Vector v = start.normalized();
  double rayleigh = 0;
  for (int it = 0; it < iterations; ++it) {
    const Vector hv = hessian_vector_product(fn, x, v, h);
    rayleigh = v.dot(hv);
    if (hv.norm() == 0) break;
    v = hv.normalized();
  }
  return rayleigh;
}

}  // namespace varlearn::optim
