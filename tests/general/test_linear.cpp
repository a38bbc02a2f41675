// Exact linear baselines: the Wiener filter against the zero gradient of its expected MSE,
// brute-force least squares and Monte Carlo; the per-mask linear MMSE estimator against the
// Gaussian conditional mean from the joint precision matrix; grouping frames by mask; the
// operator version; the shrunk second moment; input validation. Planted errors (sigma for
// sigma^2) must fail every check that could miss them.
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/general/linear.hpp"
#include "varlearn/ops/ops.hpp"

namespace varlearn {
namespace {

using general::dense_operator;
using general::expected_denoising_mse;
using general::expected_mse;
using general::lmmse_estimate;
using general::lmmse_filter;
using general::lmmse_inpaint;
using general::shrink_second_moment;
using general::wiener_filter;

/// A random second moment X X^T / r of rank min(n, r).
Matrix random_moment(Index n, Index r, double scale, Rng& rng) {
  const Matrix x = gaussian_matrix(n, r, scale, rng);
  return x * x.transpose() / static_cast<double>(r);
}

/// AR(1)-like Toeplitz second moment c^{|i-j|}: smooth signals, as speech at low frequencies.
Matrix toeplitz_moment(Index n, double c) {
  Matrix s(n, n);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < n; ++j) s(i, j) = std::pow(c, std::abs(static_cast<double>(i - j)));
  return s;
}

/// count samples of N(0, S) as columns (S = V D V^T, f = V D^{1/2} z: S may be singular).
Matrix gaussian_samples(const Matrix& s, Index count, Rng& rng) {
  Eigen::SelfAdjointEigenSolver<Matrix> eig(s);
  const Matrix root = eig.eigenvectors() * eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
  return root * gaussian_matrix(s.rows(), count, 1.0, rng);
}

double max_abs(const Matrix& m) { return m.cwiseAbs().maxCoeff(); }

/// Central differences of a function of a matrix, entry by entry (exact for quadratics up to rounding).
Matrix central_gradient(const std::function<double(const Matrix&)>& f, const Matrix& x, double h) {
  Matrix g(x.rows(), x.cols());
  for (Index j = 0; j < x.cols(); ++j)
    for (Index i = 0; i < x.rows(); ++i) {
      Matrix p = x, m = x;
      p(i, j) += h, m(i, j) -= h;
      g(i, j) = (f(p) - f(m)) / (2 * h);
    }
  return g;
}

/// E[f | g_o] for f ~ N(0, S), g_o = f_o + sigma eps, from the precision P of the joint (f, g_o):
/// E[f | g_o] = -P_ff^{-1} P_fg g_o (the Schur complement identity; a full LU inverse, no shared code).
Vector conditional_mean(const Matrix& s, double sigma, const std::vector<Index>& o, const Vector& go) {
  const Index n = s.rows(), k = static_cast<Index>(o.size());
  Matrix c(n + k, n + k);
  c.topLeftCorner(n, n) = s;
  for (Index a = 0; a < k; ++a) {
    c.block(0, n + a, n, 1) = s.col(o[static_cast<size_t>(a)]);
    c.block(n + a, 0, 1, n) = s.row(o[static_cast<size_t>(a)]);
    for (Index b = 0; b < k; ++b)
      c(n + a, n + b) = s(o[static_cast<size_t>(a)], o[static_cast<size_t>(b)]) + (a == b ? sigma * sigma : 0.0);
  }
  const Matrix p = c.fullPivLu().inverse();
  return -p.topLeftCorner(n, n).fullPivLu().solve(p.topRightCorner(n, k) * go);
}

// ---------------------------------------------------------------------------------------------
// Wiener filter

TEST(LinearWiener, ExpectedMseHasZeroGradientAtWienerAndPlantedSigmaFails) {
  Rng rng(11);
  const Index n = 7;
  const Matrix s = random_moment(n, 9, 1.0, rng);
  const double sigma = 0.3;
  const Matrix w = wiener_filter(s, sigma);
  auto mse = [&](const Matrix& x) { return expected_denoising_mse(x, s, sigma); };
  const Matrix grad = central_gradient(mse, w, 1e-3);
  EXPECT_LT(max_abs(grad), 1e-11) << "gradient of the expected MSE at W";  // measured ~1e-14
  // The MSE is quadratic in W with Hessian (S + sigma^2 I)/n: mse(W + D) - mse(W) = tr(D (S + s2 I) D^T)/n.
  const Matrix d = gaussian_matrix(n, n, 0.1, rng);
  const Matrix m = s + sigma * sigma * Matrix::Identity(n, n);
  const double excess = (d * m).cwiseProduct(d).sum() / static_cast<double>(n);
  EXPECT_NEAR(mse(w + d) - mse(w), excess, 1e-13);
  // Planted: sigma in place of sigma^2 (S (S + sigma I)^{-1}) is far from stationary.
  const Matrix planted = wiener_filter(s, std::sqrt(sigma));
  EXPECT_GT(max_abs(central_gradient(mse, planted, 1e-3)), 1e-3);
  EXPECT_GT(mse(planted), mse(w) + 1e-4);
}

TEST(LinearWiener, MatchesBruteForceLeastSquaresOnSamples) {
  Rng rng(12);
  const Index n = 5, count = 200000;
  const Matrix s = random_moment(n, 6, 1.0, rng);
  const double sigma = 0.5;
  const Matrix f = gaussian_samples(s, count, rng);
  Matrix g = f;
  add_gaussian_noise_inplace(g, sigma, rng);
  // argmin_W sum ||W g - f||^2 = (F G^T)(G G^T)^{-1}.
  const Matrix w_ls = (g * g.transpose()).ldlt().solve(g * f.transpose()).transpose();
  const Matrix w = wiener_filter(s, sigma);
  const double tolerance = 0.02;  // ~ 5 / sqrt(count); measured ~3e-3
  EXPECT_LT(max_abs(w_ls - w), tolerance);
  EXPECT_GT(max_abs(w_ls - wiener_filter(s, std::sqrt(sigma))), 5 * tolerance) << "planted sigma for sigma^2";
}

TEST(LinearWiener, ExpectedMseMatchesMonteCarloOnOtherTestMoment) {
  Rng rng(13);
  const Index n = 6, count = 100000;
  const Matrix s = random_moment(n, 8, 1.0, rng);
  const Matrix s_test = random_moment(n, 8, 1.2, rng);  // train/test mismatch
  const double sigma = 0.4;
  const Matrix w = wiener_filter(s, sigma);
  const Matrix f = gaussian_samples(s_test, count, rng);
  Matrix g = f;
  add_gaussian_noise_inplace(g, sigma, rng);
  const Vector per_frame = (w * g - f).colwise().squaredNorm().transpose() / static_cast<double>(n);
  const double mean = per_frame.mean();
  const double se = std::sqrt((per_frame.array() - mean).square().sum() / double(count - 1) / double(count));
  const double exact = expected_denoising_mse(w, s_test, sigma);
  EXPECT_LT(std::abs(mean - exact), 4 * se) << "mean " << mean << " exact " << exact << " se " << se;
  // Planted: sigma ||W||_F^2 in place of sigma^2 ||W||_F^2.
  Matrix e = w - Matrix::Identity(n, n);
  const double planted = ((e * s_test).cwiseProduct(e).sum() + sigma * w.squaredNorm()) / double(n);
  EXPECT_GT(std::abs(mean - planted), 4 * se);
  // No restoration (W = I): sigma^2 exactly.
  EXPECT_NEAR(expected_denoising_mse(Matrix::Identity(n, n), s_test, sigma), sigma * sigma, 1e-15);
}

TEST(LinearWiener, InvariantsSymmetricSpectrumAndSingularMoment) {
  Rng rng(14);
  const Index n = 6;
  const double sigma = 0.2;
  for (Index rank : {Index(2), Index(6)}) {  // singular and full rank
    const Matrix s = random_moment(n, rank, 1.0, rng);
    const Matrix w = wiener_filter(s, sigma);
    EXPECT_LT(max_abs(w - w.transpose()), 1e-12);
    EXPECT_LT(max_abs(w * s - s * w), 1e-12);  // W is a function of S
    Eigen::SelfAdjointEigenSolver<Matrix> es(s), ew(Matrix(0.5 * (w + w.transpose())));
    const Vector expected = es.eigenvalues().array() / (es.eigenvalues().array() + sigma * sigma);
    EXPECT_LT((ew.eigenvalues() - expected).cwiseAbs().maxCoeff(), 1e-12);  // both ascending
    Eigen::FullPivLU<Matrix> lu(w);
    EXPECT_EQ(lu.setThreshold(1e-10).rank(), rank);
  }
}

// ---------------------------------------------------------------------------------------------
// Linear MMSE from observed samples

TEST(LinearInpaint, EqualsGaussianConditionalMeanFromJointPrecision) {
  const Index n = 4;
  Matrix s(n, n);
  s << 2.0, 0.8, 0.3, -0.2,  //
      0.8, 1.5, 0.5, 0.1,    //
      0.3, 0.5, 1.2, 0.4,    //
      -0.2, 0.1, 0.4, 0.9;
  const double sigma = 0.3;
  // Three frames, three masks; garbage at missing samples must be ignored.
  ops::MaskPattern observed = ops::MaskPattern::Constant(n, 3, true);
  observed(1, 0) = false;                    // o = {0, 2, 3}
  observed(0, 1) = observed(3, 1) = false;   // o = {1, 2}
  observed(2, 2) = false;                    // o = {0, 1, 3}
  Matrix g(n, 3);
  g << 0.7, 1e3, -0.4,  //
      1e3, 0.2, 0.9,    //
      -0.5, 1.1, 1e3,   //
      0.3, 1e3, 0.6;
  const Matrix f_hat = lmmse_inpaint(s, sigma, g, ops::Mask(observed));
  double worst = 0;
  for (Index j = 0; j < 3; ++j) {
    std::vector<Index> o;
    for (Index i = 0; i < n; ++i)
      if (observed(i, j)) o.push_back(i);
    Vector go(static_cast<Index>(o.size()));
    for (size_t a = 0; a < o.size(); ++a) go(static_cast<Index>(a)) = g(o[a], j);
    const Vector expected = conditional_mean(s, sigma, o, go);
    worst = std::max(worst, (f_hat.col(j) - expected).cwiseAbs().maxCoeff());
  }
  EXPECT_LT(worst, 1e-12);  // measured ~2e-16
  // Planted: sigma in place of sigma^2 changes the estimate far beyond that.
  const Matrix planted = lmmse_inpaint(s, std::sqrt(sigma), g, ops::Mask(observed));
  EXPECT_GT(max_abs(planted - f_hat), 1e-3);
}

TEST(LinearInpaint, GroupedFramesEqualPerFrameSolves) {
  Rng rng(21);
  const Index n = 37, batch = 60;
  const Matrix s = toeplitz_moment(n, 0.9) + 0.05 * random_moment(n, n, 1.0, rng);
  const double sigma = 0.05;
  ops::MaskOptions mo;
  mo.kind = ops::MaskKind::Burst;
  mo.missing_probability = 0.2;
  mo.burst_length = 4;
  const ops::MaskPattern five = ops::draw_mask_pattern(n, 5, mo, rng);
  ops::MaskPattern observed(n, batch);
  for (Index j = 0; j < batch; ++j) observed.col(j) = five.col(j % 5);
  observed.col(7).setConstant(false);  // every sample missing: 0
  observed.col(8).setConstant(true);   // nothing missing: the Wiener filter
  const Matrix g = gaussian_matrix(n, batch, 1.0, rng);
  const ops::Mask mask(observed);

  const auto groups = general::group_frames_by_mask(observed, batch);
  std::vector<bool> seen(static_cast<size_t>(batch), false);
  for (const auto& frames : groups)
    for (Index j : frames) {
      EXPECT_FALSE(seen[static_cast<size_t>(j)]);
      seen[static_cast<size_t>(j)] = true;
      EXPECT_TRUE((observed.col(j) == observed.col(frames.front())).all());
    }
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](bool b) { return b; }));
  EXPECT_EQ(groups.size(), 7u);  // five patterns (frames 7 and 8 were theirs) + the two new ones

  const Matrix grouped = lmmse_inpaint(s, sigma, g, mask);
  double worst = 0;
  for (Index j = 0; j < batch; ++j) {
    const ops::Mask one(ops::MaskPattern(observed.col(j)));
    const Matrix single = lmmse_inpaint(s, sigma, Matrix(g.col(j)), one);
    worst = std::max(worst, (grouped.col(j) - single).cwiseAbs().maxCoeff());
  }
  EXPECT_LT(worst, 1e-12);
  EXPECT_EQ(grouped.col(7).cwiseAbs().maxCoeff(), 0.0);
  EXPECT_LT((grouped.col(8) - wiener_filter(s, sigma) * g.col(8)).cwiseAbs().maxCoeff(), 1e-12);
  // A shared n x 1 mask: one group for every frame.
  const ops::Mask shared(ops::MaskPattern(five.col(0)));
  EXPECT_EQ(general::group_frames_by_mask(shared.observed(), batch).size(), 1u);
  const Matrix all = lmmse_inpaint(s, sigma, g, shared);
  EXPECT_LT(max_abs(all.col(3) - lmmse_inpaint(s, sigma, Matrix(g.col(3)), shared)), 1e-12);
}

// ---------------------------------------------------------------------------------------------
// Operator version

TEST(LinearOperator, IdentityGivesWienerAndSharedMaskGivesInpainting) {
  Rng rng(31);
  const Index n = 9;
  const Matrix s = random_moment(n, 5, 1.0, rng);  // singular
  const double sigma = 0.1;
  EXPECT_LT(max_abs(lmmse_filter(s, sigma, ops::Identity(n)) - wiener_filter(s, sigma)), 1e-12);

  ops::MaskPattern observed = ops::MaskPattern::Constant(n, 1, true);
  observed(2, 0) = observed(3, 0) = observed(4, 0) = observed(8, 0) = false;
  const ops::Mask mask(observed);
  const Matrix g = mask.apply(gaussian_matrix(n, 4, 1.0, rng));
  const Matrix t = lmmse_filter(s, sigma, mask);
  EXPECT_LT(max_abs(lmmse_estimate(s, sigma, mask, g) - lmmse_inpaint(s, sigma, g, mask)), 1e-12);
  for (Index i : {2, 3, 4, 8}) EXPECT_EQ(t.col(i).cwiseAbs().maxCoeff(), 0.0) << "missing sample " << i;
}

TEST(LinearOperator, ConvolutionFilterMinimizesExpectedMse) {
  Rng rng(32);
  const Index n = 7;
  const Matrix s = toeplitz_moment(n, 0.8);
  const double sigma = 0.2;
  Vector kernel(3);
  kernel << 0.25, 0.5, 0.25;
  const ops::Conv conv(n, kernel);
  const Matrix a = dense_operator(conv);
  const Matrix t = lmmse_filter(s, sigma, conv);
  auto mse = [&](const Matrix& x) { return expected_mse(x, a, s, sigma); };
  EXPECT_LT(max_abs(central_gradient(mse, t, 1e-3)), 1e-11);
  EXPECT_GT(max_abs(central_gradient(mse, lmmse_filter(s, std::sqrt(sigma), conv), 1e-3)), 1e-3);
  // Monte Carlo of lmmse_estimate on the conv observation model matches expected_mse.
  const Index count = 50000;
  const Matrix f = gaussian_samples(s, count, rng);
  const Matrix g = ops::observe(ops::Operator(conv), f, sigma, rng);
  const Vector per = (lmmse_estimate(s, sigma, conv, g) - f).colwise().squaredNorm().transpose() / double(n);
  const double se = std::sqrt((per.array() - per.mean()).square().sum() / double(count - 1) / double(count));
  EXPECT_LT(std::abs(per.mean() - mse(t)), 4 * se);
}

TEST(LinearOperator, RejectsPerFrameOperators) {
  ops::MaskPattern observed = ops::MaskPattern::Constant(5, 3, true);
  observed(1, 2) = false;
  const Matrix s = Matrix::Identity(5, 5);
  EXPECT_THROW(lmmse_filter(s, 0.1, ops::Mask(observed)), Error);
  EXPECT_THROW(lmmse_filter(s, 0.1, ops::Identity(4)), Error);
  EXPECT_THROW(dense_operator(ops::Operator()), Error);
  EXPECT_THROW(lmmse_estimate(s, 0.1, ops::Identity(5), Matrix::Zero(4, 2)), Error);
}

// ---------------------------------------------------------------------------------------------
// Shrunk second moment: the regularized inpainting baseline

TEST(LinearShrinkage, EndpointsTraceAndOptimalityOfTheExactEstimator) {
  Rng rng(41);
  const Index n = 37;
  const Matrix s = toeplitz_moment(n, 0.95);
  const double sigma = 0.05;
  const double mu = s.trace() / double(n);
  EXPECT_EQ(max_abs(shrink_second_moment(s, 0.0) - s), 0.0);
  for (double rho : {0.0, 0.3, 1.0}) EXPECT_NEAR(shrink_second_moment(s, rho).trace(), s.trace(), 1e-12);
  EXPECT_LT(max_abs(shrink_second_moment(s, 1.0) - mu * Matrix::Identity(n, n)), 1e-15);

  ops::MaskOptions mo;
  mo.kind = ops::MaskKind::Burst;
  mo.missing_probability = 0.2;
  mo.burst_length = 5;
  const ops::Mask mask(ops::draw_mask_pattern(n, 1, mo, rng));
  const Matrix a = dense_operator(mask);
  const Matrix g = mask.apply(gaussian_matrix(n, 3, 1.0, rng));
  // rho = 1: zero filling, observed samples scaled by mu / (mu + sigma^2).
  const Matrix at_one = lmmse_inpaint(shrink_second_moment(s, 1.0), sigma, g, mask);
  EXPECT_LT(max_abs(at_one - mu / (mu + sigma * sigma) * general::zero_fill(g, mask)), 1e-14);
  // Under the true S the exact estimator is best among linear ones: not worse than any shrinkage,
  // nor zero filling (T = A).
  const double exact = expected_mse(lmmse_filter(s, sigma, mask), a, s, sigma);
  for (double rho : {0.05, 0.3, 1.0})
    EXPECT_LT(exact, expected_mse(lmmse_filter(shrink_second_moment(s, rho), sigma, mask), a, s, sigma));
  EXPECT_LT(exact, expected_mse(a, a, s, sigma));
  // Shrinkage of the prior moves toward zero filling continuously: the missing samples' estimate shrinks.
  const Matrix mid = lmmse_inpaint(shrink_second_moment(s, 0.5), sigma, g, mask);
  const Matrix full = lmmse_inpaint(s, sigma, g, mask);
  const Vector missing = 1.0 - a.diagonal().array();
  EXPECT_LT((missing.asDiagonal() * mid).norm(), (missing.asDiagonal() * full).norm());
}

TEST(LinearShrinkage, ExpectedInpaintingMseIsExactAndChoiceIsTheTableMinimum) {
  Rng rng(42);
  const Index n = 12, batch = 20;
  const Matrix s = toeplitz_moment(n, 0.9);
  const double sigma = 0.1;
  const Matrix frames = gaussian_samples(toeplitz_moment(n, 0.7), batch, rng);  // judged on other data
  ops::MaskOptions mo;
  mo.kind = ops::MaskKind::Burst;
  mo.missing_probability = 0.25;
  mo.burst_length = 3;
  // A shared mask: equals the operator formula with the frames' second moment F F^T / B.
  const ops::Mask shared(ops::draw_mask_pattern(n, 1, mo, rng));
  const double via_operator = expected_mse(lmmse_filter(s, sigma, shared), dense_operator(shared),
                                           frames * frames.transpose() / double(batch), sigma);
  EXPECT_NEAR(general::expected_inpainting_mse(s, sigma, frames, shared), via_operator, 1e-12 * via_operator);
  // One mask per frame (one with nothing observed): Monte Carlo over the noise.
  ops::MaskPattern observed = ops::draw_mask_pattern(n, batch, mo, rng);
  observed.col(5).setConstant(false);
  const ops::Mask mask(observed);
  const double exact = general::expected_inpainting_mse(s, sigma, frames, mask);
  const int trials = 4000;
  Vector per(trials);
  for (int r = 0; r < trials; ++r) {
    Matrix g = mask.apply(frames);
    add_gaussian_noise_inplace(g, sigma, rng);
    per(r) = (lmmse_inpaint(s, sigma, g, mask) - frames).squaredNorm() / double(frames.size());
  }
  const double se = std::sqrt((per.array() - per.mean()).square().sum() / double(trials - 1) / double(trials));
  EXPECT_LT(std::abs(per.mean() - exact), 4 * se) << "mean " << per.mean() << " exact " << exact << " se " << se;
  // Planted: dropping the noise term sigma^2 ||T_j||_F^2 is far outside.
  const double bias_only = (lmmse_inpaint(s, sigma, mask.apply(frames), mask) - frames).squaredNorm();
  EXPECT_GT(std::abs(per.mean() - bias_only / double(frames.size())), 10 * se);

  const std::vector<double> grid = {0.0, 0.01, 0.1, 0.3, 1.0};
  const general::ParameterChoice choice = general::choose_shrinkage(s, sigma, frames, mask, grid);
  ASSERT_EQ(choice.table.size(), grid.size());
  double best = HUGE_VAL;
  for (size_t i = 0; i < grid.size(); ++i) {
    EXPECT_EQ(choice.table[i].value, grid[i]);
    const Matrix shrunk = shrink_second_moment(s, grid[i]);
    EXPECT_EQ(choice.table[i].mse, general::expected_inpainting_mse(shrunk, sigma, frames, mask));
    best = std::min(best, choice.table[i].mse);
  }
  EXPECT_EQ(choice.mse, best);
  EXPECT_THROW(general::choose_shrinkage(s, sigma, frames, mask, {}), Error);
  EXPECT_THROW(general::choose_shrinkage(s, sigma, frames, mask, {0.5, 2.0}), Error);
}

TEST(LinearTaper, PositiveSemidefiniteLocalAndEndpoints) {
  Rng rng(43);
  const Index n = 37;
  const Matrix ones = Matrix::Ones(n, n);  // perfectly correlated: S o T = T itself
  auto min_eig = [](const Matrix& m) { return Eigen::SelfAdjointEigenSolver<Matrix>(m).eigenvalues()(0); };
  for (double w : {1.5, 4.0, 10.0, 36.0, 100.0}) {
    const Matrix tapered = general::taper_second_moment(ones, w);
    EXPECT_GT(min_eig(tapered), -1e-12) << "w = " << w;
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < n; ++j)
        if (double(std::abs(i - j)) >= w) {
          EXPECT_EQ(tapered(i, j), 0.0);
        }
    EXPECT_GT(min_eig(general::taper_second_moment(random_moment(n, 3, 1.0, rng), w)), -1e-12);
  }
  // Planted: a rectangular window (keep lags < w unchanged) is not positive semidefinite.
  Matrix rectangular = ones;
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < n; ++j)
      if (std::abs(i - j) >= 4) rectangular(i, j) = 0;
  EXPECT_LT(min_eig(rectangular), -0.1);

  const Matrix s = toeplitz_moment(n, 0.9) + 0.1 * random_moment(n, n, 1.0, rng);
  EXPECT_EQ(max_abs(general::taper_second_moment(s, HUGE_VAL) - s), 0.0);
  const Matrix diag = s.diagonal().asDiagonal();
  EXPECT_EQ(max_abs(general::taper_second_moment(s, 1.0) - diag), 0.0);
  EXPECT_EQ(max_abs(general::taper_second_moment(s, 0.3) - diag), 0.0);
  // w <= 1: zeros at missing samples, the per-sample Wiener gain s_ii / (s_ii + sigma^2) at observed ones.
  ops::MaskOptions mo;
  mo.kind = ops::MaskKind::Burst;
  mo.missing_probability = 0.2;
  mo.burst_length = 5;
  const ops::Mask mask(ops::draw_mask_pattern(n, 4, mo, rng));
  const Matrix g = mask.apply(gaussian_matrix(n, 4, 1.0, rng));
  const double sigma = 0.1;
  const Vector gain = s.diagonal().array() / (s.diagonal().array() + sigma * sigma);
  EXPECT_LT(max_abs(lmmse_inpaint(general::taper_second_moment(s, 1.0), sigma, g, mask) - gain.asDiagonal() * g),
            1e-15);

  const Matrix frames = gaussian_samples(toeplitz_moment(n, 0.6), 30, rng);
  const std::vector<double> widths = {1.0, 3.0, 8.0, HUGE_VAL};
  const ops::Mask frame_masks = ops::draw_mask(n, 30, mo, rng);
  const general::ParameterChoice choice = general::choose_taper(s, sigma, frames, frame_masks, widths);
  ASSERT_EQ(choice.table.size(), widths.size());
  double best = HUGE_VAL;
  for (const auto& row : choice.table) best = std::min(best, row.mse);
  EXPECT_EQ(choice.mse, best);
  EXPECT_THROW(general::choose_taper(s, sigma, frames, frame_masks, {}), Error);
}

// ---------------------------------------------------------------------------------------------
// Validation

void expect_error(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error, expected one mentioning '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(LinearValidation, ClearErrors) {
  const Matrix s = toeplitz_moment(4, 0.5);
  const Matrix g = Matrix::Ones(4, 2);
  const ops::Mask mask(ops::MaskPattern::Constant(4, 1, true));
  expect_error([&] { wiener_filter(Matrix::Ones(3, 4), 0.1); }, "must be square");
  expect_error([&] { wiener_filter(Matrix(0, 0), 0.1); }, "must be square");
  Matrix asym = s;
  asym(0, 1) += 1e-3;
  expect_error([&] { wiener_filter(asym, 0.1); }, "not symmetric");
  Matrix nan = s;
  nan(2, 2) = std::nan("");
  expect_error([&] { wiener_filter(nan, 0.1); }, "not finite");
  for (double bad : {0.0, -0.1, std::nan(""), HUGE_VAL}) expect_error([&] { wiener_filter(s, bad); }, "sigma");
  expect_error([&] { wiener_filter(-s, 0.1); }, "not positive definite");
  expect_error([&] { expected_denoising_mse(Matrix::Identity(3, 3), s, 0.1); }, "filter W is 3 x 3");
  expect_error([&] { expected_denoising_mse(Matrix::Identity(4, 4), asym, 0.1); }, "not symmetric");
  expect_error([&] { expected_mse(Matrix::Identity(4, 3), Matrix::Identity(4, 4), s, 0.1); }, "estimator T");
  expect_error([&] { lmmse_inpaint(s, 0.1, Matrix::Ones(5, 2), mask); }, "observations g are 5 x 2");
  expect_error([&] { lmmse_inpaint(s, 0.1, g, ops::Mask(ops::MaskPattern::Constant(4, 3, true))); }, "4 x 3");
  expect_error([&] { lmmse_inpaint(s, 0.1, g, ops::Mask(ops::MaskPattern::Constant(5, 1, true))); }, "5 samples");
  Matrix g_nan = g;
  g_nan(0, 0) = std::nan("");
  expect_error([&] { lmmse_inpaint(s, 0.1, g_nan, mask); }, "not finite");
  expect_error([&] { shrink_second_moment(s, 1.5); }, "shrinkage rho");
  expect_error([&] { shrink_second_moment(s, -0.1); }, "shrinkage rho");
  for (double bad : {0.0, -1.0, std::nan("")})
    expect_error([&] { general::taper_second_moment(s, bad); }, "taper width w");
  // A NaN at a missing sample is ignored (it is not observed).
  ops::MaskPattern one_missing = ops::MaskPattern::Constant(4, 1, true);
  one_missing(0, 0) = false;
  EXPECT_TRUE(lmmse_inpaint(s, 0.1, g_nan, ops::Mask(one_missing)).allFinite());
}

}  // namespace
}  // namespace varlearn
