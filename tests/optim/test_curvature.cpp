// Matrix-free curvature: finite-difference Hessian-vector products and the power iteration
// for the largest Hessian eigenvalue, against a quadratic with a known Hessian and against the
// dense finite-difference Hessian of a non-quadratic function.
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <cmath>

#include "varlearn/core/error.hpp"
#include "varlearn/optim/gradient_check.hpp"

using namespace varlearn;

namespace {
// L(x) = 1/2 x^T A x + sum cos(x_i) (Hessian A - diag(cos x)).
struct Wavy {
  Matrix a;
  bool cosine = false;
  double evaluate_with_gradient(const Vector& x, Vector& g) const {
    g = a * x;
    double l = 0.5 * x.dot(a * x);
    if (cosine) {
      g.array() -= x.array().sin();
      l += x.array().cos().sum();
    }
    return l;
  }
};
Matrix spd(Index n, double top) {
  Matrix q = Matrix::Random(n, n);
  Eigen::HouseholderQR<Matrix> qr(q);
  const Matrix u = qr.householderQ();
  Vector d = Vector::LinSpaced(n, 1.0, top);
  return u * d.asDiagonal() * u.transpose();
}
}  // namespace

TEST(Curvature, HessianVectorProductOfAQuadraticIsExact) {
  std::srand(3);
  const Matrix a = spd(9, 40.0);
  const optim::Function<double> f = Wavy{a};
  const Vector x = Vector::Random(9), v = Vector::Random(9);
  const Vector hv = optim::hessian_vector_product(f, x, v, 1e-4);
  EXPECT_LT((hv - a * v).norm(), 1e-8 * (a * v).norm());
}

TEST(Curvature, PowerIterationFindsTheLargestEigenvalue) {
  std::srand(5);
  const Matrix a = spd(12, 100.0);  // eigenvalues 1 .. 100, well separated at the top
  const Vector x = Vector::Random(12);
  const double lmax = optim::max_curvature(Wavy{a}, x, Vector::Ones(12), 200, 1e-4);
  EXPECT_NEAR(lmax, 100.0, 1e-6 * 100.0);
  // Non-quadratic: agrees with the dense finite-difference Hessian's largest eigenvalue.
  const optim::Function<double> g = Wavy{a, true};
  const double dense = optim::curvature(g, x).max_eigenvalue;
  EXPECT_NEAR(optim::max_curvature(g, x, Vector::Ones(12), 300, 1e-4), dense, 1e-5 * std::abs(dense));
  EXPECT_THROW(optim::max_curvature(g, x, Vector::Zero(12), 10, 1e-4), Error);
  EXPECT_THROW(optim::hessian_vector_product(g, x, Vector::Ones(3), 1e-4), Error);
}
