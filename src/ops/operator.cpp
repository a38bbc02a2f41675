#include "varlearn/ops/operator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "varlearn/core/error.hpp"
#include "varlearn/core/range.hpp"

namespace varlearn::ops {
namespace {

std::string shape(Index rows, Index cols) { return std::to_string(rows) + " x " + std::to_string(cols); }

template <class T>
bool shape_fits(const MatrixT<T>& x, Index rows, Index batch) {
  return x.rows() == rows && (batch == 0 || x.cols() == batch);
}

}  // namespace

void require_shape(Index x_rows, Index x_cols, Index rows, Index batch, const std::string& where,
                   const std::string& description) {
  if (x_rows == rows && (batch == 0 || x_cols == batch)) return;
  std::string message = where;
  message.append(": input is ").append(shape(x_rows, x_cols)).append(", ").append(description).append(" takes ");
  message.append(std::to_string(rows)).append(" x ").append(batch == 0 ? std::string("B") : std::to_string(batch));
  throw Error(message);
}

const Operator::Concept& Operator::impl(const char* where) const {
  if (!impl_) throw Error(std::string(where) + ": empty operator (default-constructed)", Error::Kind::Internal);
  return *impl_;
}

template <class T>
MatrixT<T> Operator::apply_checked(const MatrixT<T>& f) const {
  const Concept& a = impl("ops::Operator::apply");
  if (!shape_fits(f, a.input_size(), a.batch_size()))  // describe() only on failure: it may cost O(n B)
    require_shape(f.rows(), f.cols(), a.input_size(), a.batch_size(), "ops::Operator::apply", a.describe());
  MatrixT<T> out = a.apply(f);
  if (out.rows() != a.output_size() || out.cols() != f.cols())
    throw Error(std::string("ops::Operator::apply: ") + a.describe() + " returned " + shape(out.rows(), out.cols()) +
                    " for an input of " + shape(f.rows(), f.cols()) + " (expected " +
                    shape(a.output_size(), f.cols()) + ")",
                Error::Kind::Internal);
  return out;
}

template <class T>
MatrixT<T> Operator::adjoint_checked(const MatrixT<T>& g) const {
  const Concept& a = impl("ops::Operator::adjoint");
  if (!shape_fits(g, a.output_size(), a.batch_size()))
    require_shape(g.rows(), g.cols(), a.output_size(), a.batch_size(), "ops::Operator::adjoint", a.describe());
  MatrixT<T> out = a.adjoint(g);
  if (out.rows() != a.input_size() || out.cols() != g.cols())
    throw Error(std::string("ops::Operator::adjoint: ") + a.describe() + " returned " + shape(out.rows(), out.cols()) +
                    " for an input of " + shape(g.rows(), g.cols()) + " (expected " +
                    shape(a.input_size(), g.cols()) + ")",
                Error::Kind::Internal);
  return out;
}

MatrixT<float> Operator::apply(const MatrixT<float>& f) const { return apply_checked(f); }
MatrixT<double> Operator::apply(const MatrixT<double>& f) const { return apply_checked(f); }
MatrixT<float> Operator::adjoint(const MatrixT<float>& g) const { return adjoint_checked(g); }
MatrixT<double> Operator::adjoint(const MatrixT<double>& g) const { return adjoint_checked(g); }
Index Operator::input_size() const { return impl("ops::Operator::input_size").input_size(); }
Index Operator::output_size() const { return impl("ops::Operator::output_size").output_size(); }
Index Operator::batch_size() const { return impl("ops::Operator::batch_size").batch_size(); }
double Operator::norm_squared_bound() const { return impl("ops::Operator::norm_squared_bound").norm_squared_bound(); }
std::string Operator::describe() const { return impl("ops::Operator::describe").describe(); }
bool Operator::identity() const { return impl("ops::Operator::identity").identity(); }

Operator Operator::columns(Index begin, Index count) const {
  const Concept& a = impl("ops::Operator::columns");
  const Index b = a.batch_size();
  if (b == 0) return *this;
  require(begin >= 0 && count >= 0 && begin + count <= b, "ops::Operator::columns",
          "frames [" + std::to_string(begin) + ", " + std::to_string(begin + count) + ") outside a batch of " +
              std::to_string(b));
  Operator out;
  if (!a.columns(begin, count, out))
    throw Error("ops::Operator::columns: " + a.describe() + " cannot be split by frames");
  return out;
}

template <class T>
double check_adjoint(const Operator& op, Rng& rng, int trials, Index batch) {
  require(trials >= 1, "ops::check_adjoint", std::string("trials = ") + std::to_string(trials) + " must be >= 1");
  require(batch >= 0, "ops::check_adjoint", std::string("batch = ") + std::to_string(batch) + " must be >= 0");
  const Index b = batch > 0 ? batch : (op.batch_size() > 0 ? op.batch_size() : 3);
  double worst = 0;
  for (int t = 0; t < trials; ++t) {
    const MatrixT<T> x = gaussian_matrix(op.input_size(), b, 1.0, rng).cast<T>();
    const MatrixT<T> y = gaussian_matrix(op.output_size(), b, 1.0, rng).cast<T>();
    const MatrixT<T> ax = op.apply(x);
    const MatrixT<T> aty = op.adjoint(y);
    const Matrix axd = ax.template cast<double>(), yd = y.template cast<double>();
    const Matrix xd = x.template cast<double>(), atyd = aty.template cast<double>();
    const double lhs = axd.cwiseProduct(yd).sum();
    const double rhs = xd.cwiseProduct(atyd).sum();
    const double scale = std::max(axd.norm() * yd.norm(), xd.norm() * atyd.norm());
    const double diff = std::abs(lhs - rhs);
    double rel = scale > 0 ? diff / scale : (diff == 0 ? 0.0 : std::numeric_limits<double>::infinity());
    if (!std::isfinite(lhs) || !std::isfinite(rhs)) rel = std::numeric_limits<double>::infinity();
    worst = std::max(worst, rel);
  }
  return worst;
}

double estimate_norm_squared(const Operator& op, Rng& rng, int iterations) {
  require(iterations >= 1, "ops::estimate_norm_squared",
          std::string("iterations = ") + std::to_string(iterations) + " must be >= 1");
  const Index b = op.batch_size() > 0 ? op.batch_size() : 1;
  Matrix v = gaussian_matrix(op.input_size(), b, 1.0, rng);
  v /= v.norm();
  double estimate = 0;
  for (int it = 0; it < iterations; ++it) {
    const Matrix av = op.apply(v);
    estimate = av.squaredNorm();  // v^T A^T A v with ||v|| = 1: a Rayleigh quotient
    Matrix w = op.adjoint(av);
    const double norm = w.norm();
    if (norm == 0) break;
    v = w / norm;
  }
  return estimate;
}

template <class T>
MatrixT<T> observe(const Operator& op, const MatrixT<T>& f, T noise_std, Rng& rng) {
  if (!(std::isfinite(static_cast<double>(noise_std)) && noise_std >= 0))
    throw_out_of_range("ops::observe", "noise_std", static_cast<double>(noise_std), "0 <= noise_std, finite");
  MatrixT<T> g = op.apply(f);
  add_gaussian_noise_inplace(g, noise_std, rng);
  return g;
}

template double check_adjoint<float>(const Operator&, Rng&, int, Index);
template double check_adjoint<double>(const Operator&, Rng&, int, Index);
template MatrixT<float> observe<float>(const Operator&, const MatrixT<float>&, float, Rng&);
template MatrixT<double> observe<double>(const Operator&, const MatrixT<double>&, double, Rng&);

}  // namespace varlearn::ops
