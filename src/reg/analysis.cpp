#include "varlearn/reg/analysis.hpp"

#include <Eigen/SVD>
#include <cmath>
#include <numbers>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/random.hpp"

namespace varlearn::reg {

// ---------------------------------------------------------------- AnalysisBase

AnalysisBase::AnalysisBase(Potential potential, const Vector& weights, const char* where)
    : potential_(potential), beta_(weights.size()) {
  require(weights.size() > 0, where, "no weights");
  for (Index j = 0; j < weights.size(); ++j) {
    if (!(weights(j) > 0) || !std::isfinite(weights(j)))
      throw Error(std::string(where) + ": weight a[" + std::to_string(j) + "] = " + format_general(weights(j)) +
                  " must be > 0 and finite");
    beta_(j) = softplus_inverse(weights(j));
  }
}

Vector AnalysisBase::weights() const { return beta_.unaryExpr([](double b) { return softplus(b); }); }

Vector AnalysisBase::row_weights(Index rows) const {
  const Index per = rows_per_group();
  Vector a(rows);
  for (Index r = 0; r < rows; ++r) a(r) = softplus(beta_(r / per));
  return a;
}

double AnalysisBase::value(const Matrix& f) const {
  check_frames(f, "reg::AnalysisBase::value");
  const Matrix u = apply(f);
  const Vector a = row_weights(u.rows());
  double total = 0;
  for (Index b = 0; b < u.cols(); ++b)
    for (Index r = 0; r < u.rows(); ++r) total += a(r) * potential_.value(u(r, b));
  return total;
}

Matrix AnalysisBase::gradient(const Matrix& f) const {
  check_frames(f, "reg::AnalysisBase::gradient");
  Matrix u = apply(f);
  const Vector a = row_weights(u.rows());
  for (Index b = 0; b < u.cols(); ++b)
    for (Index r = 0; r < u.rows(); ++r) u(r, b) = a(r) * potential_.first(u(r, b));
  return adjoint(u);
}

Matrix AnalysisBase::hessian_product(const Matrix& f, const Matrix& v) const {
  check_frames(f, "reg::AnalysisBase::hessian_product", &v);
  const Matrix u = apply(f);
  Matrix kv = apply(v);
  const Vector a = row_weights(u.rows());
  for (Index b = 0; b < u.cols(); ++b)
    for (Index r = 0; r < u.rows(); ++r) kv(r, b) *= a(r) * potential_.second(u(r, b));
  return adjoint(kv);
}

Index AnalysisBase::num_parameters() const {
  return num_operator_parameters() + beta_.size() + (potential_.learned() ? 1 : 0);
}

Vector AnalysisBase::parameters() const {
  Vector theta(num_parameters());
  const Index p = num_operator_parameters();
  if (p > 0) theta.head(p) = operator_parameters();
  theta.segment(p, beta_.size()) = beta_;
  if (potential_.learned()) theta(theta.size() - 1) = potential_.eta();
  return theta;
}

void AnalysisBase::set_parameters(const Vector& theta) {
  require(theta.size() == num_parameters(), "reg::AnalysisBase::set_parameters",
          std::string("theta has ") + std::to_string(theta.size()) + " entries, expected " +
              std::to_string(num_parameters()));
  require(theta.allFinite(), "reg::AnalysisBase::set_parameters", "theta has a non-finite entry");
  const Index p = num_operator_parameters();
  if (potential_.learned()) potential_.set_eta(theta(theta.size() - 1));
  if (p > 0) set_operator_parameters(theta.head(p));
  beta_ = theta.segment(p, beta_.size());
}

// theta layout: [operator (p), beta (J), eta]. With U = K F, Psi = a phi'(U):
// dR/dK = pullback of Psi F^T, dR/da_j = sum_group phi(U), dR/deps = sum a d_eps phi(U).
Vector AnalysisBase::parameter_gradient(const Matrix& f) const {
  check_frames(f, "reg::AnalysisBase::parameter_gradient");
  const Matrix u = apply(f);
  const Vector a = row_weights(u.rows());
  const Index per = rows_per_group();
  Matrix psi(u.rows(), u.cols());
  Vector da = Vector::Zero(beta_.size());
  double deps = 0;
  for (Index b = 0; b < u.cols(); ++b)
    for (Index r = 0; r < u.rows(); ++r) {
      psi(r, b) = a(r) * potential_.first(u(r, b));
      da(r / per) += potential_.value(u(r, b));
      if (potential_.learned()) deps += a(r) * potential_.value_eps(u(r, b));
    }
  Vector g(num_parameters());
  const Index p = num_operator_parameters();
  if (p > 0) g.head(p) = operator_gradient(psi, f);
  for (Index j = 0; j < beta_.size(); ++j) g(p + j) = da(j) * softplus_derivative(beta_(j));
  if (potential_.learned()) g(g.size() - 1) = deps * potential_.depsilon_deta();
  return g;
}

// d/dtheta <W, K^T Psi(K F)> = d/dtheta <Z, Psi(U)>, Z = K W:
// dK: pullback of Psi W^T + (a phi''(U) Z) F^T; da_j: sum Z phi'(U); deps: sum a Z d_eps phi'(U).
Vector AnalysisBase::mixed_product(const Matrix& f, const Matrix& w) const {
  check_frames(f, "reg::AnalysisBase::mixed_product", &w);
  const Matrix u = apply(f);
  Matrix z = apply(w);
  const Vector a = row_weights(u.rows());
  const Index per = rows_per_group();
  Matrix psi(u.rows(), u.cols());
  Vector da = Vector::Zero(beta_.size());
  double deps = 0;
  for (Index b = 0; b < u.cols(); ++b)
    for (Index r = 0; r < u.rows(); ++r) {
      const double x = u(r, b);
      const double zr = z(r, b);
      psi(r, b) = a(r) * potential_.first(x);
      da(r / per) += zr * potential_.first(x);
      if (potential_.learned()) deps += a(r) * zr * potential_.first_eps(x);
      z(r, b) = a(r) * potential_.second(x) * zr;
    }
  Vector g(num_parameters());
  const Index p = num_operator_parameters();
  if (p > 0) g.head(p) = operator_gradient(psi, w) + operator_gradient(z, f);
  for (Index j = 0; j < beta_.size(); ++j) g(p + j) = da(j) * softplus_derivative(beta_(j));
  if (potential_.learned()) g(g.size() - 1) = deps * potential_.depsilon_deta();
  return g;
}

std::optional<double> AnalysisBase::hessian_bound() const {
  const double k = operator_norm_bound();
  return k * k * weights().maxCoeff() * potential_.max_abs_second();
}

std::string AnalysisBase::describe_weights() const {
  const Vector a = weights();
  std::string s = potential_.describe();
  s.append(", weights softplus (a in [")
      .append(format_general(a.minCoeff()))
      .append(", ")
      .append(format_general(a.maxCoeff()))
      .append("])");
  return s;
}

// ---------------------------------------------------------------- AnalysisOptions

void AnalysisOptions::validate() const {
  require(filters >= 0, "reg::AnalysisOptions", std::string("filters = ") + std::to_string(filters) + " must be >= 0");
  require(weight > 0 && std::isfinite(weight), "reg::AnalysisOptions",
          std::string("weight = ") + format_general(weight) + " must be > 0 and finite");
  require(scale > 0 && std::isfinite(scale), "reg::AnalysisOptions",
          std::string("scale = ") + format_general(scale) + " must be > 0 and finite");
}

// ---------------------------------------------------------------- Analysis

Analysis::Analysis(Matrix k, const Vector& weights, Potential potential)
    : AnalysisBase(potential, weights, "reg::Analysis"), k_(std::move(k)) {
  require(k_.size() > 0, "reg::Analysis", "K is empty");
  require(k_.allFinite(), "reg::Analysis", "K has a non-finite entry");
  require(weights.size() == k_.rows(), "reg::Analysis",
          std::string("weights has ") + std::to_string(weights.size()) + " entries, expected m = " +
              std::to_string(k_.rows()));
}

Matrix Analysis::dct_rows(Index m, Index n) {
  require(n >= 1 && m >= 1 && m <= n, "reg::Analysis::dct_rows",
          std::string("need 1 <= m <= n, got m = ") + std::to_string(m) + ", n = " + std::to_string(n));
  Matrix k(m, n);
  for (Index j = 0; j < m; ++j) {
    const double c = std::sqrt((j == 0 ? 1.0 : 2.0) / static_cast<double>(n));
    for (Index t = 0; t < n; ++t)
      k(j, t) = c * std::cos(std::numbers::pi * (static_cast<double>(t) + 0.5) * static_cast<double>(j) /
                             static_cast<double>(n));
  }
  return k;
}

Matrix Analysis::difference_rows(Index m, Index n) {
  require(n >= 2 && m >= 1 && m <= n - 1, "reg::Analysis::difference_rows",
          std::string("need 1 <= m <= n - 1, got m = ") + std::to_string(m) + ", n = " + std::to_string(n));
  Matrix k = Matrix::Zero(m, n);
  for (Index j = 0; j < m; ++j) {
    k(j, j) = -1;
    k(j, j + 1) = 1;
  }
  return k;
}

Analysis Analysis::make(Index n, const AnalysisOptions& options, Potential potential) {
  options.validate();
  require(n >= 1, "reg::Analysis::make", std::string("n = ") + std::to_string(n) + " must be >= 1");
  Matrix k;
  switch (options.init) {
    case AnalysisInit::Dct: k = dct_rows(options.filters == 0 ? n : options.filters, n); break;
    case AnalysisInit::FiniteDifferences: k = difference_rows(options.filters == 0 ? n - 1 : options.filters, n); break;
    case AnalysisInit::Random: {
      Rng rng(options.seed);
      k = gaussian_matrix(options.filters == 0 ? n : options.filters, n,
                          options.scale / std::sqrt(static_cast<double>(n)), rng);
      break;
    }
  }
  const Vector weights = Vector::Constant(k.rows(), options.weight);
  return Analysis(std::move(k), weights, potential);
}

Vector Analysis::operator_parameters() const { return Eigen::Map<const Vector>(k_.data(), k_.size()); }
void Analysis::set_operator_parameters(const Eigen::Ref<const Vector>& k) {
  k_ = Eigen::Map<const Matrix>(k.data(), k_.rows(), k_.cols());
}
Vector Analysis::operator_gradient(const Matrix& p, const Matrix& f) const {
  const Matrix g = p * f.transpose();
  return Eigen::Map<const Vector>(g.data(), g.size());
}
double Analysis::operator_norm_bound() const { return Eigen::JacobiSVD<Matrix>(k_).singularValues()(0); }

std::string Analysis::describe() const {
  std::string s = "analysis(m=";
  s.append(std::to_string(k_.rows())).append(", n=").append(std::to_string(k_.cols())).append(", ");
  s.append(describe_weights()).append(")");
  return s;
}

}  // namespace varlearn::reg
