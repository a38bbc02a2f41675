#include "varlearn/theory/data_model.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>
#include <sstream>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/limits.hpp"
#include "varlearn/core/names.hpp"
#include "varlearn/core/range.hpp"
#include "varlearn/theory/ranges.hpp"

namespace varlearn::theory {
namespace {


void check_common(const char* where, Index n, double mu, double theta) {
  if (n < 1) throw Error(std::string(where) + ": dimension n = " + std::to_string(n) + " must be >= 1");
  // mu^2 and theta^2 must be finite (and their sum with sigma^2): |mu|, theta <= 1e150.
  check_range(mu, -kMaxSignalScale, kMaxSignalScale, where, "mean mu", "|mu| <= 1e150");
  check_range(theta, 0.0, kMaxSignalScale, where, "standard deviation theta", "0 <= theta <= 1e150");
}

/// The largest eigenvalue of Sigma: <= kMaxEigenvalue (theory/ranges.hpp).
void check_eigenvalue(const char* where, const char* formula, double gamma) {
  if (!(gamma <= kMaxEigenvalue))
    throw_out_of_range(where, std::string("eigenvalue ") + formula, gamma,
                       "<= 1e300: reduce |mu|, theta or n");
}

// Orthonormal basis whose first column is 1/sqrt(n): the Householder reflection that maps
// e_1 to u = 1/sqrt(n); its other columns span the complement of 1.
Matrix ones_basis(Index n) {
  Vector w = Vector::Constant(n, -1.0 / std::sqrt(double(n)));
  w(0) += 1.0;
  const double ww = w.squaredNorm();
  Matrix h = Matrix::Identity(n, n);
  if (ww > 0) h.noalias() -= (2.0 / ww) * w * w.transpose();
  h.col(0) = Vector::Constant(n, 1.0 / std::sqrt(double(n)));  // exact sign
  return h;
}

}  // namespace

DataModel DataModel::constant(Index n, double mu, double theta) {
  check_common("constant data model", n, mu, theta);
  DataModel d;
  d.kind_ = Kind::Constant;
  d.n_ = n;
  d.mu_ = mu;
  d.theta_ = theta;
  d.groups_.push_back({double(n) * (mu * mu + theta * theta), 1});
  check_eigenvalue("constant data model", "n (mu^2 + theta^2)", d.groups_.front().gamma);
  if (n > 1) d.groups_.push_back({0.0, n - 1});
  return d;
}

DataModel DataModel::iid(Index n, double mu, double theta) {
  check_common("iid data model", n, mu, theta);
  DataModel d;
  d.kind_ = Kind::Iid;
  d.n_ = n;
  d.mu_ = mu;
  d.theta_ = theta;
  d.groups_.push_back({double(n) * mu * mu + theta * theta, 1});
  check_eigenvalue("iid data model", "n mu^2 + theta^2", d.groups_.front().gamma);
  if (n > 1) d.groups_.push_back({theta * theta, n - 1});
  return d;
}

DataModel DataModel::ar1(Index n, double mu, double theta, double rho) {
  check_common("ar1 data model", n, mu, theta);
  if (!(std::abs(rho) < 1)) throw_out_of_range("ar1 data model", "correlation rho", rho, "|rho| < 1");
  Matrix s(n, n);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < n; ++j)
      s(i, j) = mu * mu + theta * theta * std::pow(rho, double(std::abs(i - j)));
  DataModel d = dense(s, "ar1 data model");
  d.kind_ = Kind::Ar1;
  d.mu_ = mu;
  d.theta_ = theta;
  d.rho_ = rho;
  return d;
}

DataModel DataModel::dense(const Matrix& sigma, const std::string& where) {
  if (sigma.rows() != sigma.cols() || sigma.rows() == 0)
    throw Error(where + ": second moment must be a square non-empty matrix, got " +
                std::to_string(sigma.rows()) + " x " + std::to_string(sigma.cols()));
  if (!sigma.allFinite()) throw Error(where + ": second moment has a NaN or infinite entry");
  {
    const double entry = sigma.cwiseAbs().maxCoeff();
    if (entry > kMaxEigenvalue) throw_out_of_range(where, "largest |entry| of the second moment", entry, "<= 1e300");
  }
  const double scale = std::max(1.0, sigma.cwiseAbs().maxCoeff());
  const double asym = (sigma - sigma.transpose()).cwiseAbs().maxCoeff();
  if (asym > 1e-8 * scale)
    throw Error(where + ": second moment is not symmetric (max |S - S^T| = " + format_general(asym, 10) + ")");
  Eigen::SelfAdjointEigenSolver<Matrix> eig(0.5 * (sigma + sigma.transpose()));
  if (eig.info() != Eigen::Success) throw Error(where + ": eigendecomposition failed", Error::Kind::Internal);
  const Vector& g = eig.eigenvalues();
  const double gmax = std::max(std::abs(g.maxCoeff()), std::abs(g.minCoeff()));
  const double tol = 1e-10 * double(sigma.rows()) * std::max(gmax, 1e-300);
  if (g.minCoeff() < -tol)
    throw Error(where + ": second moment is not positive semidefinite (smallest eigenvalue " +
                format_general(g.minCoeff(), 10) + ")");
  if (!(g.maxCoeff() <= kMaxEigenvalue))
    throw_out_of_range(where, "largest eigenvalue of the second moment", g.maxCoeff(), "<= 1e300");
  DataModel d;
  d.kind_ = Kind::Dense;
  d.n_ = sigma.rows();
  // Eigen sorts ascending; keep that order, one group per eigenvalue.
  d.groups_.reserve(size_t(g.size()));
  for (Index i = 0; i < g.size(); ++i) d.groups_.push_back({std::max(g(i), 0.0), 1});
  d.sigma_ = std::make_shared<const Matrix>(0.5 * (sigma + sigma.transpose()));
  d.vectors_ = std::make_shared<const Matrix>(eig.eigenvectors());
  return d;
}

std::string DataModel::name() const {
  switch (kind_) {
    case Kind::Constant: return "constant";
    case Kind::Iid: return "iid";
    case Kind::Ar1: return "ar1";
    case Kind::Dense: return "file";
  }
  return "file";
}

double DataModel::trace() const {
  double t = 0;
  for (const auto& g : groups_) t += g.gamma * double(g.multiplicity);
  return t;
}

Matrix DataModel::second_moment() const {
  switch (kind_) {
    case Kind::Constant: return Matrix::Constant(n_, n_, mu_ * mu_ + theta_ * theta_);
    case Kind::Iid: {
      Matrix s = Matrix::Constant(n_, n_, mu_ * mu_);
      s.diagonal().array() += theta_ * theta_;
      return s;
    }
    default: return *sigma_;
  }
}

Matrix DataModel::eigenvectors() const {
  if (vectors_) return *vectors_;
  return ones_basis(n_);
}

double DataModel::quadratic_trace(const Matrix& a) const {
  if (a.cols() != n_)
    throw Error("DataModel::quadratic_trace: matrix has " + std::to_string(a.cols()) + " columns, n = " +
                std::to_string(n_));
  switch (kind_) {
    case Kind::Constant: return (mu_ * mu_ + theta_ * theta_) * a.rowwise().sum().squaredNorm();
    case Kind::Iid: return mu_ * mu_ * a.rowwise().sum().squaredNorm() + theta_ * theta_ * a.squaredNorm();
    default: return (a * (*sigma_)).cwiseProduct(a).sum();
  }
}

namespace {
constexpr NameTable<DataKind, 4> kDataKindNames{{{DataKind::Constant, "constant"}, {DataKind::Iid, "iid"}, {DataKind::Ar1, "ar1"}, {DataKind::File, "file"}}};
}  // namespace

DataKind parse_data_kind(const std::string& name) { return parse_name(kDataKindNames, name, "data model"); }
std::string to_string(DataKind kind) { return name_of(kDataKindNames, kind); }


DataModel make_data_model(DataKind kind, Index n, double mu, double theta, double rho, const DataModel* file) {
  if (kind == DataKind::File) {
    if (!file) throw Error("data model 'file' needs a second-moment matrix (--second-moment FILE)");
    return *file;
  }
  if (n < 1) throw Error("data " + to_string(kind) + ": dimension n must be >= 1 (got " + std::to_string(n) + ")");
  switch (kind) {
    case DataKind::Constant: return DataModel::constant(n, mu, theta);
    case DataKind::Iid: return DataModel::iid(n, mu, theta);
    default: break;
  }
  if (n > kMaxDenseDimension)
    throw Error("data ar1 uses a dense n x n Sigma: n = " + std::to_string(n) + " is above " +
                std::to_string(kMaxDenseDimension));
  return DataModel::ar1(n, mu, theta, rho);
}

}  // namespace varlearn::theory
