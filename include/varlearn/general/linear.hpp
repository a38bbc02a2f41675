#pragma once
/// \file linear.hpp
/// Exact linear baselines of \f$g = Af + \sigma\varepsilon\f$ from a training second moment
/// \f$S = E\,ff^T\f$ (zero mean, n x n, symmetric positive semidefinite, may be singular):
/// the Wiener filter and its exact expected MSE (denoising), the per-frame linear MMSE
/// estimator from the observed samples of a mask (inpainting, one solve per distinct mask),
/// the linear MMSE filter of any fixed operator, shrunk and tapered second moments that keep
/// the inpainting estimate from extrapolating wildly, and the "no restoration" baseline.
/// These are the best linear estimators under S: a learned model must beat them on test data.
///
///   const Matrix s = frames * frames.transpose() / double(frames.cols());   // training S
///   const Matrix w = general::wiener_filter(s, 0.1);                       // denoise: W g
///   const double mse = general::expected_denoising_mse(w, s_test, 0.1);
///   const Matrix f = general::lmmse_inpaint(general::taper_second_moment(s, 5.0), 0.01, g, mask);
#include <vector>

#include "varlearn/core/types.hpp"
#include "varlearn/ops/mask.hpp"
#include "varlearn/ops/operator.hpp"

namespace varlearn::general {

/// The Wiener filter \f$W = S(S + \sigma^2 I)^{-1}\f$ (n x n): the linear estimator
/// \f$\hat f = Wg\f$ of least expected MSE for \f$g = f + \sigma\varepsilon\f$. One Cholesky
/// solve, no inverse (\f$W^T = (S+\sigma^2I)^{-1}S\f$); \f$\sigma > 0\f$ makes a singular S fine.
/// W is symmetric with eigenvalues \f$\lambda_i/(\lambda_i+\sigma^2) \in [0, 1)\f$.
/// Throws Error unless S is square, finite and symmetric (relative 1e-9) and
/// \f$\sigma > 0\f$ finite, or when \f$S + \sigma^2I\f$ is not positive definite.
Matrix wiener_filter(const Matrix& second_moment, double noise_std);

/// Exact expected MSE per sample of \f$\hat f = Wg\f$, \f$g = f + \sigma\varepsilon\f$, on data
/// of second moment \f$S_{test}\f$:
/// \f$[\mathrm{tr}((W-I)S_{test}(W-I)^T) + \sigma^2\|W\|_F^2]/n\f$.
/// Throws Error for a bad shape, \f$\sigma\f$, or an asymmetric \f$S_{test}\f$.
double expected_denoising_mse(const Matrix& w, const Matrix& test_moment, double noise_std);

/// Exact expected MSE per sample of \f$\hat f = Tg\f$ for \f$g = Af + \sigma\varepsilon\f$
/// (T n x m, A m x n dense):
/// \f$[\mathrm{tr}((TA-I)S_{test}(TA-I)^T) + \sigma^2\|T\|_F^2]/n\f$ (A = I: the denoising one).
double expected_mse(const Matrix& t, const Matrix& a, const Matrix& test_moment, double noise_std);

/// The linear MMSE estimator of every frame from its observed samples:
/// \f$\hat f_j = S_{:,o}(S_{o,o} + \sigma^2 I)^{-1} g_{o}\f$, o = the observed samples of
/// frame j (mask column j, or column 0 for a mask shared by every frame). It is the
/// conditional mean \f$E[f \mid g_o]\f$ when f is Gaussian. The samples of g at missing
/// positions are ignored (ops::observe leaves noise there). Frames that share a mask are
/// solved together: one Cholesky factorization of \f$S_{o,o} + \sigma^2I\f$ per distinct
/// mask, one GEMM per group. A frame with every sample missing gets 0. g is n x B.
/// Throws Error like wiener_filter, and for g not n x B or a mask not n x 1 / n x B.
Matrix lmmse_inpaint(const Matrix& second_moment, double noise_std, const Matrix& g, const ops::Mask& mask);

/// The frames of each distinct mask column, in order of first appearance (a mask shared by
/// every frame: one group holding frames 0 .. batch - 1). `batch` is used only for a shared
/// mask; for an n x B mask it must be B or 0.
std::vector<std::vector<Index>> group_frames_by_mask(const ops::MaskPattern& observed, Index batch);

/// The dense m x n matrix of an operator, \f$A = A\,I_n\f$ (for small n). Throws Error for
/// an operator that differs per frame (batch_size() > 0, e.g. a mask with one pattern per
/// frame: use lmmse_inpaint).
Matrix dense_operator(const ops::Operator& a);

/// The linear MMSE filter of a fixed operator, \f$T = SA^T(ASA^T + \sigma^2 I_m)^{-1}\f$
/// (n x m; \f$\hat f = Tg\f$), one Cholesky solve (\f$T^T = (ASA^T+\sigma^2I)^{-1}AS\f$).
/// A = I gives wiener_filter; a shared mask gives lmmse_inpaint (zero columns at the missing
/// samples). Throws Error like wiener_filter, and unless A takes n samples and any batch.
Matrix lmmse_filter(const Matrix& second_moment, double noise_std, const ops::Operator& a);

/// \f$\hat f = Tg\f$ with T = lmmse_filter(S, sigma, a); g is m x B.
Matrix lmmse_estimate(const Matrix& second_moment, double noise_std, const ops::Operator& a, const Matrix& g);

// Regularized inpainting. lmmse_inpaint under the training S is the best linear estimator
// for data of second moment S, but S_oo^{-1} turns the training frames' correlations into long
// prediction filters: on other speakers and sentences they fill a gap with confident wrong
// values and can lose to zero filling. Two one-parameter families of second moments, each
// with the exact estimator at one end, make the estimate more cautious; choose the parameter
// on held-out training frames (choose_shrinkage, choose_taper), never on the test files.

/// The second moment shrunk toward white noise of the same energy,
/// \f$S_\rho = (1-\rho)S + \rho\,\mu I\f$, \f$\mu = \mathrm{tr}(S)/n\f$, shrinkage \f$\rho \in [0, 1]\f$.
/// It keeps the prior energy \f$\mathrm{tr}\,S_\rho = \mathrm{tr}\,S\f$, lifts the eigenvalues to
/// at least \f$\rho\mu\f$ (where \f$S_{o,o}^{-1}\f$ amplifies most and S is least right), and moves
/// the estimate continuously from the exact LMMSE (\f$\rho = 0\f$) to zero filling (\f$\rho = 1\f$:
/// 0 at missing samples, \f$\mu/(\mu+\sigma^2)\,g\f$ at observed ones), so the family contains
/// both baselines. (Ledoit–Wolf's target; diagonal loading up to a scale.)
/// Throws Error like wiener_filter's S checks, and unless \f$0 \le \rho \le 1\f$.
Matrix shrink_second_moment(const Matrix& second_moment, double shrinkage);

/// The second moment tapered to correlations shorter than `width` w samples (a local prior):
/// \f$(S_w)_{ij} = S_{ij}\max(0, 1 - |i-j|/w)\f$, \f$w > 0\f$ (\f$w = \infty\f$: S itself;
/// \f$w \le 1\f$: \f$\mathrm{diag}(S)\f$, i.e. zero filling with a per-sample Wiener gain).
/// Positive semidefinite whenever S is: the triangular (Bartlett) kernel is the autocorrelation
/// of a box, so its Toeplitz matrix is positive semidefinite, and so is its entrywise product with
/// S (Schur product theorem). Why: the correlations a gap can trust are the short ones (the
/// spectral envelope); long lags carry pitch and phase that differ from frame to frame and
/// speaker to speaker. (Covariance tapering, as in localized ensemble Kalman filters.)
/// Throws Error like wiener_filter's S checks, and unless w > 0 (not NaN).
Matrix taper_second_moment(const Matrix& second_moment, double width);

/// Expected MSE per sample of lmmse_inpaint(S, sigma, g, mask) on the clean frames F (n x B),
/// exact over the noise and empirical over the frames: with \f$T_j = S_{:,o}(S_{o,o}+\sigma^2I)^{-1}\f$,
/// \f$\sum_j [\|T_j f_{j,o} - f_j\|^2 + \sigma^2\|T_j\|_F^2] / (nB)\f$. S is the estimator's second
/// moment (e.g. shrunk), F the frames it is judged on (held-out training frames to choose \f$\rho\f$).
/// For a mask shared by every frame it equals expected_mse(T, A, F F^T / B, sigma).
double expected_inpainting_mse(const Matrix& second_moment, double noise_std, const Matrix& frames,
                               const ops::Mask& mask);

/// One row of a parameter choice: the parameter and its expected inpainting MSE per sample.
struct ParameterRow {
  double value = 0;
  double mse = 0;
};
/// The parameter of least expected inpainting MSE on held-out frames, and the whole table.
struct ParameterChoice {
  double value = 0;  ///< the best value of the grid (the first one on ties)
  double mse = 0;    ///< its expected MSE per sample
  std::vector<ParameterRow> table;  ///< one row per grid value, in grid order
};
/// Chooses \f$\rho\f$ from `grid` (values in [0, 1], non-empty) by expected_inpainting_mse of
/// shrink_second_moment(S, rho) on `validation` frames (n x B, never the test frames) under `mask`.
ParameterChoice choose_shrinkage(const Matrix& second_moment, double noise_std, const Matrix& validation,
                                 const ops::Mask& mask, const std::vector<double>& grid);
/// Chooses the taper width w from `grid` (values > 0, non-empty) the same way, with
/// taper_second_moment(S, w).
ParameterChoice choose_taper(const Matrix& second_moment, double noise_std, const Matrix& validation,
                             const ops::Mask& mask, const std::vector<double>& grid);

/// "No restoration" for missing samples: g with exact zeros at the missing samples (the
/// mask applied to g). Throws Error for a bad shape.
Matrix zero_fill(const Matrix& g, const ops::Mask& mask);

}  // namespace varlearn::general
