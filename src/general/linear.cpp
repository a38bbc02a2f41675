#include "varlearn/general/linear.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <unordered_map>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/range.hpp"

namespace varlearn::general {
namespace {

/// Relative tolerance of the symmetry check: rounding of S = F F^T / B is ~1e-16, a wrong
/// matrix (a transposed product, a cross moment) is far above.
constexpr double kSymmetryTolerance = 1e-9;

std::string shape(const Matrix& m) { return std::to_string(m.rows()) + " x " + std::to_string(m.cols()); }

/// S square, non-empty, finite and symmetric to kSymmetryTolerance * max |S_ij|.
void check_second_moment(const Matrix& s, const std::string& where, const char* name = "second moment S") {
  if (s.rows() != s.cols() || s.rows() == 0)
    throw Error(where + ": " + name + " is " + shape(s) + ", must be square n x n with n >= 1");
  if (!s.allFinite()) throw Error(where + ": " + name + " is not finite");
  const double asymmetry = (s - s.transpose()).cwiseAbs().maxCoeff();
  const double scale = s.cwiseAbs().maxCoeff();
  if (asymmetry > kSymmetryTolerance * scale)
    throw Error(where + ": " + name + " is not symmetric: max |S - S^T| = " + format_general(asymmetry, 3) +
                " > " + format_general(kSymmetryTolerance, 3) + " max |S| = " + format_general(scale, 6));
}

void check_noise_std(double sigma, const std::string& where) {
  if (!(sigma > 0 && std::isfinite(sigma)))
    throw_out_of_range(where, "noise_std sigma", sigma, "sigma > 0 and finite: sigma^2 I makes the solve well posed");
}

/// Cholesky of a matrix that is positive definite when S is positive semidefinite and sigma > 0;
/// failure means S has eigenvalues below -sigma^2.
Eigen::LLT<Matrix> cholesky(const Matrix& m, const std::string& where, const char* what) {
  Eigen::LLT<Matrix> llt(m);
  if (llt.info() != Eigen::Success)
    throw Error(where + ": " + what + " is not positive definite (is S positive semidefinite?)");
  return llt;
}

}  // namespace

Matrix wiener_filter(const Matrix& second_moment, double noise_std) {
  const std::string w = "general::wiener_filter";
  check_second_moment(second_moment, w);
  check_noise_std(noise_std, w);
  const Index n = second_moment.rows();
  // W^T = (S + s2 I)^{-1} S^T = (S + s2 I)^{-1} S: one symmetric solve, no inverse.
  const Matrix m = second_moment + noise_std * noise_std * Matrix::Identity(n, n);
  return cholesky(m, w, "S + sigma^2 I").solve(second_moment).transpose();
}

double expected_mse(const Matrix& t, const Matrix& a, const Matrix& test_moment, double noise_std) {
  const std::string w = "general::expected_mse";
  check_second_moment(test_moment, w, "test second moment S_test");
  check_noise_std(noise_std, w);
  const Index n = test_moment.rows();
  if (a.cols() != n || a.rows() == 0)
    throw Error(w + ": operator A is " + shape(a) + ", S_test is " + shape(test_moment) + " (A must be m x n)");
  if (t.rows() != n || t.cols() != a.rows())
    throw Error(w + ": estimator T is " + shape(t) + ", must be n x m = " + std::to_string(n) + " x " +
                std::to_string(a.rows()));
  if (!t.allFinite() || !a.allFinite()) throw Error(w + ": T or A is not finite");
  // tr(E S E^T) = sum_ij (E S)_ij E_ij, E = T A - I.
  Matrix e = t * a;
  e.diagonal().array() -= 1.0;
  const double bias = (e * test_moment).cwiseProduct(e).sum();
  return (bias + noise_std * noise_std * t.squaredNorm()) / static_cast<double>(n);
}

double expected_denoising_mse(const Matrix& w, const Matrix& test_moment, double noise_std) {
  if (w.rows() != w.cols() || w.rows() != test_moment.rows())
    throw Error("general::expected_denoising_mse: filter W is " + shape(w) + ", test second moment S_test is " +
                shape(test_moment) + " (both n x n)");
  return expected_mse(w, Matrix::Identity(w.rows(), w.rows()), test_moment, noise_std);
}

std::vector<std::vector<Index>> group_frames_by_mask(const ops::MaskPattern& observed, Index batch) {
  const std::string w = "general::group_frames_by_mask";
  if (observed.size() == 0) throw Error(w + ": empty mask");
  if (observed.cols() == 1) {
    require(batch >= 0, w, "batch B = " + std::to_string(batch) + " must be >= 0");
    std::vector<Index> all(static_cast<size_t>(batch));
    for (Index j = 0; j < batch; ++j) all[static_cast<size_t>(j)] = j;
    return batch > 0 ? std::vector<std::vector<Index>>{all} : std::vector<std::vector<Index>>{};
  }
  if (batch != 0 && batch != observed.cols())
    throw Error(w + ": the mask has " + std::to_string(observed.cols()) + " frames, the batch " +
                std::to_string(batch));
  // Key: the column's pattern as one byte per sample.
  std::unordered_map<std::string, size_t> group_of;
  std::vector<std::vector<Index>> groups;
  std::string key(static_cast<size_t>(observed.rows()), '0');
  for (Index j = 0; j < observed.cols(); ++j) {
    for (Index i = 0; i < observed.rows(); ++i) key[static_cast<size_t>(i)] = observed(i, j) ? '1' : '0';
    const auto [it, inserted] = group_of.try_emplace(key, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(j);
  }
  return groups;
}

namespace {

using Indices = std::vector<Index>;

/// Checks a mask against S (n x n) and a batch x (n x B), then calls fn(o, frames, llt) for each
/// distinct mask with at least one observed sample: o its observed samples, frames the columns
/// that share it, llt the Cholesky factor of S_oo + sigma^2 I.
template <class Fn>
void for_each_mask_group(const Matrix& s, double noise_std, const Matrix& x, const char* x_name,
                         const ops::Mask& mask, const std::string& w, Fn&& fn) {
  check_second_moment(s, w);
  check_noise_std(noise_std, w);
  const Index n = s.rows();
  const ops::MaskPattern& observed = mask.observed();
  if (observed.rows() != n)
    throw Error(w + ": the mask has frames of " + std::to_string(observed.rows()) + " samples, S is " + shape(s));
  if (x.rows() != n || x.cols() == 0 || (observed.cols() != 1 && observed.cols() != x.cols()))
    throw Error(w + ": " + x_name + " are " + shape(x) + ", must be n x B = " + std::to_string(n) + " x " +
                (observed.cols() == 1 ? std::string("(any B >= 1)") : std::to_string(observed.cols())) +
                " for " + mask.describe());
  Indices o;
  for (const Indices& frames : group_frames_by_mask(observed, x.cols())) {
    const auto pattern = observed.col(observed.cols() == 1 ? 0 : frames.front());
    o.clear();
    for (Index i = 0; i < n; ++i)
      if (pattern(i)) o.push_back(i);
    if (o.empty()) continue;  // nothing observed: the estimate is the prior mean, 0
    Matrix soo = s(o, o);
    soo.diagonal().array() += noise_std * noise_std;
    fn(o, frames, cholesky(soo, w, "S_oo + sigma^2 I"));
  }
}

}  // namespace

Matrix lmmse_inpaint(const Matrix& second_moment, double noise_std, const Matrix& g, const ops::Mask& mask) {
  const std::string w = "general::lmmse_inpaint";
  Matrix out = Matrix::Zero(g.rows(), g.cols());
  auto solve_group = [&](const Indices& o, const Indices& frames, const Eigen::LLT<Matrix>& llt) {
    const Matrix go = g(o, frames);
    if (!go.allFinite()) throw Error(w + ": observations g are not finite at observed samples");
    // f_hat = S_{:,o} (S_oo + s2 I)^{-1} g_o for the whole group: one factorization, one GEMM.
    out(Eigen::all, frames) = second_moment(Eigen::all, o) * llt.solve(go);
  };
  for_each_mask_group(second_moment, noise_std, g, "observations g", mask, w, solve_group);
  return out;
}

double expected_inpainting_mse(const Matrix& second_moment, double noise_std, const Matrix& frames,
                               const ops::Mask& mask) {
  const std::string w = "general::expected_inpainting_mse";
  if (!frames.allFinite()) throw Error(w + ": frames F are not finite");
  // Frames with nothing observed are estimated by 0: their error is ||f||^2.
  double total = frames.squaredNorm();
  const double s2 = noise_std * noise_std;
  auto add_group = [&](const Indices& o, const Indices& cols, const Eigen::LLT<Matrix>& llt) {
    const Matrix f = frames(Eigen::all, cols);
    // T = S_{:,o} C^{-1}, C = S_oo + s2 I; T^T = C^{-1} S_{o,:}.
    const Matrix tt = llt.solve(Matrix(second_moment(o, Eigen::all)));
    const Matrix error = tt.transpose() * f(o, Eigen::all) - f;
    total += error.squaredNorm() - f.squaredNorm() + s2 * static_cast<double>(cols.size()) * tt.squaredNorm();
  };
  for_each_mask_group(second_moment, noise_std, frames, "frames F", mask, w, add_group);
  return total / static_cast<double>(frames.size());
}

namespace {

ParameterChoice choose(const std::vector<double>& grid, const std::string& where, const char* name,
                       const std::function<double(double)>& mse_of) {
  require(!grid.empty(), where, std::string("empty grid of ") + name);
  ParameterChoice choice;
  for (double value : grid) {
    const double mse = mse_of(value);
    choice.table.push_back({value, mse});
    if (choice.table.size() == 1 || mse < choice.mse) choice.value = value, choice.mse = mse;
  }
  return choice;
}

}  // namespace

ParameterChoice choose_shrinkage(const Matrix& second_moment, double noise_std, const Matrix& validation,
                                 const ops::Mask& mask, const std::vector<double>& grid) {
  return choose(grid, "general::choose_shrinkage", "shrinkage values rho", [&](double rho) {
    return expected_inpainting_mse(shrink_second_moment(second_moment, rho), noise_std, validation, mask);
  });
}

ParameterChoice choose_taper(const Matrix& second_moment, double noise_std, const Matrix& validation,
                             const ops::Mask& mask, const std::vector<double>& grid) {
  return choose(grid, "general::choose_taper", "taper widths w", [&](double width) {
    return expected_inpainting_mse(taper_second_moment(second_moment, width), noise_std, validation, mask);
  });
}

Matrix dense_operator(const ops::Operator& a) {
  const std::string w = "general::dense_operator";
  if (!a) throw Error(w + ": no operator");
  if (a.batch_size() != 0)
    throw Error(w + ": " + a.describe() + " differs per frame (it takes B = " + std::to_string(a.batch_size()) +
                " only); for masks use lmmse_inpaint");
  return a.apply(Matrix::Identity(a.input_size(), a.input_size()));
}

Matrix lmmse_filter(const Matrix& second_moment, double noise_std, const ops::Operator& a) {
  const std::string w = "general::lmmse_filter";
  check_second_moment(second_moment, w);
  check_noise_std(noise_std, w);
  if (a && a.input_size() != second_moment.rows())
    throw Error(w + ": " + a.describe() + " takes n = " + std::to_string(a.input_size()) + ", S is " +
                shape(second_moment));
  const Matrix dense = dense_operator(a);  // m x n
  const Matrix as = dense * second_moment;  // A S = (S A^T)^T
  Matrix m = as * dense.transpose();
  m.diagonal().array() += noise_std * noise_std;
  // T^T = (A S A^T + s2 I)^{-1} A S.
  return cholesky(m, w, "A S A^T + sigma^2 I").solve(as).transpose();
}

Matrix lmmse_estimate(const Matrix& second_moment, double noise_std, const ops::Operator& a, const Matrix& g) {
  const Matrix t = lmmse_filter(second_moment, noise_std, a);
  if (g.rows() != t.cols() || g.cols() == 0)
    throw Error("general::lmmse_estimate: observations g are " + shape(g) + ", " + a.describe() + " gives m = " +
                std::to_string(t.cols()) + " rows");
  return t * g;
}

Matrix shrink_second_moment(const Matrix& second_moment, double shrinkage) {
  const std::string w = "general::shrink_second_moment";
  check_second_moment(second_moment, w);
  check_range(shrinkage, 0.0, 1.0, w, "shrinkage rho");
  const Index n = second_moment.rows();
  const double mu = second_moment.trace() / static_cast<double>(n);
  Matrix out = (1.0 - shrinkage) * second_moment;
  out.diagonal().array() += shrinkage * mu;
  return out;
}

Matrix taper_second_moment(const Matrix& second_moment, double width) {
  const std::string w = "general::taper_second_moment";
  check_second_moment(second_moment, w);
  if (!(width > 0)) throw_out_of_range(w, "taper width w", width, "w > 0 samples, or infinity for no taper");
  const Index n = second_moment.rows();
  Matrix out = second_moment;
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < n; ++i) out(i, j) *= std::max(0.0, 1.0 - static_cast<double>(std::abs(i - j)) / width);
  return out;
}

Matrix zero_fill(const Matrix& g, const ops::Mask& mask) { return mask.apply(g); }

}  // namespace varlearn::general
