// Fields of experts, fast convolutions: the GEMM lowering and the FFT path give the direct
// loops' numbers (max-norm relative: float64 1e-12, float32 1e-5) for apply, adjoint, the filter
// gradient and every derivative kernel built on them, for both boundary rules, L odd and even,
// L = 1, L = n (valid), J = 1, B = 1, and a batch large enough to run on all threads; the
// adjoint dot test per method; apply against the brute-force sum; the FFT length rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <string>
#include <type_traits>
#include <vector>

#include "varlearn/core/random.hpp"
#include "varlearn/reg/reg.hpp"

using namespace varlearn;
using reg::Boundary;
using reg::ConvMethod;
using reg::Potential;

namespace {

template <class T>
double max_relative(const MatrixT<T>& a, const MatrixT<T>& b) {
  const double scale = std::max(1e-300, static_cast<double>(b.cwiseAbs().maxCoeff()));
  return static_cast<double>((a - b).cwiseAbs().maxCoeff()) / scale;
}

template <class T> constexpr double kTol = 1e-12;
template <> constexpr double kTol<float> = 1e-5;

struct Case {
  Boundary boundary;
  Index n, filters, length, frames;
  std::string name() const {
    return std::string(name_of(reg::kBoundaryNames, boundary)) + " n=" + std::to_string(n) +
           " J=" + std::to_string(filters) + " L=" + std::to_string(length) + " B=" + std::to_string(frames);
  }
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (Boundary boundary : {Boundary::Valid, Boundary::Same})
    for (Index n : {7, 37}) {
      std::vector<Index> lengths{1, 2, 5, 6};
      if (boundary == Boundary::Valid) lengths.push_back(n);  // one output per frame
      for (Index len : lengths)
        for (Index filters : {1, 3})
          for (Index frames : {1, 4}) out.push_back({boundary, n, filters, len, frames});
    }
  // Above the one-thread threshold (2 J L M B >= 2e7 flops): every thread has frames.
  out.push_back({Boundary::Same, 128, 8, 32, 330});
  out.push_back({Boundary::Valid, 128, 7, 33, 480});
  return out;
}

template <class T>
reg::Foe<T> make_foe(const Case& c, const Potential& potential, std::uint64_t seed) {
  Rng rng(seed);
  const Matrix k = gaussian_matrix(c.filters, c.length, 1.0 / std::sqrt(static_cast<double>(c.length)), rng);
  Vector a(c.filters);
  for (Index j = 0; j < c.filters; ++j) a(j) = 0.5 + 0.25 * static_cast<double>(j % 3);
  return reg::Foe<T>(c.n, k.cast<T>(), a.cast<T>(), potential, c.boundary);
}

template <class T>
MatrixT<T> random_frames(Index rows, Index cols, std::uint64_t seed) {
  Rng rng(seed);
  return gaussian_matrix(rows, cols, 1.0, rng).cast<T>();
}

// The reference is the direct loops in float64 on the same (T-rounded) θ and data: for float32
// this measures each float path's own error, not the float reference's (the batch kernels sum
// dR/dβ over J M B terms in float: 4e-4 off at B = 2000, where the fused sums in double are not).
double g_worst[4] = {0, 0, 0, 0};  // per ConvMethod, this test's worst max-norm relative error

template <class T>
void expect_methods_agree(const Case& c) {
  using Mat = MatrixT<T>;
  const double tol = kTol<T>;
  // student: smooth and nonconvex (phi'' changes sign); learned eps adds the eta entry
  reg::Foe<T> foe = make_foe<T>(c, Potential::student(0.8, true), 7);
  reg::Foe<double> ref = make_foe<double>(c, Potential::student(0.8, true), 7);
  ref.set_parameters(foe.parameters().template cast<double>());
  ref.set_method(ConvMethod::Direct);
  const Mat f = random_frames<T>(c.n, c.frames, 11), v = random_frames<T>(c.n, c.frames, 12);
  const Mat p = random_frames<T>(c.filters * foe.outputs(), c.frames, 13);
  const Matrix fd = f.template cast<double>(), vd = v.template cast<double>(), pd = p.template cast<double>();

  const Matrix u = ref.apply(fd), adj = ref.adjoint(pd), dk = ref.filter_gradient(pd, fd, ConvMethod::Direct);
  const Matrix grad = ref.gradient(fd), hv = ref.hessian_product(fd, vd);
  const Matrix dtheta = ref.parameter_gradient(fd), mixed = ref.mixed_product(fd, vd);
  const double value = ref.value(fd);
  for (ConvMethod method : {ConvMethod::Direct, ConvMethod::Gemm, ConvMethod::Fft, ConvMethod::Auto}) {
    SCOPED_TRACE(name_of(reg::kConvMethodNames, method));
    auto near = [&](const auto& got, const Matrix& want) {
      const double e = max_relative<double>(Matrix(got.template cast<double>()), want);
      double& worst = g_worst[static_cast<int>(method)];
      worst = std::max(worst, e);
      return e;
    };
    EXPECT_LT(near(foe.apply(f, method), u), tol);
    EXPECT_LT(near(foe.adjoint(p, method), adj), tol);
    EXPECT_LT(near(foe.filter_gradient(p, f, method), dk), tol);
    foe.set_method(method);
    EXPECT_LT(near(foe.gradient(f), grad), tol);
    EXPECT_LT(near(foe.hessian_product(f, v), hv), tol);
    EXPECT_NEAR(static_cast<double>(foe.value(f)), value, tol * std::max(1.0, std::abs(value)));
    if (std::is_same_v<T, float> && method != ConvMethod::Gemm && method != ConvMethod::Auto &&
        c.frames * foe.outputs() > 1000)
      continue;  // the batch kernels' float sums (above)
    EXPECT_LT(near(foe.parameter_gradient(f), dtheta), tol);
    EXPECT_LT(near(foe.mixed_product(f, v), mixed), tol);
  }
}

}  // namespace

template <class T>
void run_cases(const char* type) {
  std::fill(std::begin(g_worst), std::end(g_worst), 0.0);
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name());
    expect_methods_agree<T>(c);
  }
  std::printf("%s worst relative error vs float64 direct: direct %.1e, gemm %.1e, fft %.1e, auto %.1e\n", type,
              g_worst[1], g_worst[2], g_worst[3], g_worst[0]);
}

TEST(FoeFast, EveryMethodMatchesTheDirectLoopsFloat64) { run_cases<double>("float64"); }
TEST(FoeFast, EveryMethodMatchesTheDirectLoopsFloat32) { run_cases<float>("float32"); }

TEST(FoeFast, ApplyIsTheBruteForceSumAndAdjointDotTestHoldsForEveryMethod) {
  for (const Case& c : cases()) {
    if (c.frames > 4) continue;  // the brute force is O(J L M B) scalar work
    SCOPED_TRACE(c.name());
    const reg::Foe<double> foe = make_foe<double>(c, Potential::charbonnier(0.3), 21);
    const Matrix& k = foe.filters();
    const Index m = foe.outputs(), s = c.boundary == Boundary::Valid ? c.length - 1 : (c.length - 1) / 2;
    const Matrix x = random_frames<double>(c.n, c.frames, 22), y = random_frames<double>(c.filters * m, c.frames, 23);
    Matrix u = Matrix::Zero(c.filters * m, c.frames);  // u_{j,i} = sum_l k_{j,l} x_{i+s-l}, zero outside
    for (Index j = 0; j < c.filters; ++j)
      for (Index i = 0; i < m; ++i)
        for (Index l = 0; l < c.length; ++l)
          if (i + s - l >= 0 && i + s - l < c.n) u.row(j * m + i) += k(j, l) * x.row(i + s - l);
    for (ConvMethod method : {ConvMethod::Direct, ConvMethod::Gemm, ConvMethod::Fft}) {
      SCOPED_TRACE(name_of(reg::kConvMethodNames, method));
      const Matrix kx = foe.apply(x, method);
      EXPECT_LT(max_relative<double>(kx, u), 1e-12);
      const double lhs = (kx.array() * y.array()).sum();
      const double rhs = (x.array() * foe.adjoint(y, method).array()).sum();
      EXPECT_NEAR(lhs, rhs, 1e-12 * std::max(1.0, std::abs(lhs)));  // <K x, y> = <x, K^T y>
    }
  }
}

TEST(FoeFast, AComparisonCanFail) {
  // One tap off by 0.1 %: the fast path of the perturbed filters no longer matches the direct one.
  const Case c{Boundary::Same, 37, 3, 6, 4};
  const reg::Foe<double> foe = make_foe<double>(c, Potential::student(0.8), 7);
  Matrix k = foe.filters();
  k(1, 2) *= 1.001;
  const reg::Foe<double> planted(c.n, k, foe.weights(), foe.potential(), c.boundary);
  const Matrix f = random_frames<double>(c.n, c.frames, 11);
  EXPECT_GT(max_relative<double>(planted.apply(f, ConvMethod::Gemm), foe.apply(f, ConvMethod::Direct)), 1e-5);
  EXPECT_GT(max_relative<double>(planted.gradient(f), foe.gradient(f)), 1e-5);
}

TEST(FoeFast, FftLengthIsSmoothAndAvoidsWrap) {
  EXPECT_EQ(reg::conv_fft_length(320, 32), 360);  // 351 -> 2^3 3^2 5
  EXPECT_EQ(reg::conv_fft_length(7, 1), 8);
  EXPECT_EQ(reg::conv_fft_length(1, 1), 1);
  EXPECT_EQ(reg::conv_fft_length(3, 1), 4);
  EXPECT_EQ(reg::conv_fft_length(1024, 192), 1280);  // not 1215 = 3^5 5
  for (Index n : {1, 7, 37, 100, 320, 1000})
    for (Index len : {1, 2, 31, 32, 64}) {
      Index size = reg::conv_fft_length(n, len), r = size;
      EXPECT_GE(size, n + len - 1);
      for (Index prime : {2, 3, 5})
        while (r % prime == 0) r /= prime;
      EXPECT_EQ(r, 1) << size;
      if (n + len - 1 >= 8) {
        EXPECT_EQ(size % 8, 0) << size;
      }
    }
}

TEST(FoeFast, AutoResolvesToAConcreteMethodAndIsTheDefault) {
  const reg::Foe<float> foe = reg::Foe<float>::random(320, 24, 32, Boundary::Same, Potential::student(1.0));
  EXPECT_EQ(foe.method(), ConvMethod::Auto);
  EXPECT_EQ(foe.resolved_method(), reg::choose_conv_method(320, 32));
  EXPECT_NE(foe.resolved_method(), ConvMethod::Auto);
  for (Index n : {1, 7, 320, 4096})
    for (Index len : {1, 2, 32, 256}) EXPECT_NE(reg::choose_conv_method(n, len), ConvMethod::Auto);
}
