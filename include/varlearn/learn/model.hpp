#pragma once
/// \file model.hpp
/// The trainable quadratic-regularizer model of the talk: lower level
/// \f$\min_z \tfrac12\|z-x\|^2 + \tfrac12\|Rz\|^2\f$, \f$R\in\mathbb{R}^{k\times n}\f$, solved
///  - exactly (bilevel): \f$z = (I+R^TR)^{-1}x\f$, or
///  - by N gradient steps (unrolled): \f$z^0 = 0,\ z^{j+1} = z^j - \omega_j((I+R^TR)z^j - x)\f$,
/// with the stepsize \f$\omega\f$ fixed, learned (\f$\omega = \mathrm{softplus}(\alpha) =
/// \log(1+e^\alpha)\f$) or learned per iteration (\f$\omega_j = \mathrm{softplus}(\alpha_j)\f$).
/// Either way the denoiser is linear, \f$x \mapsto T_R x\f$.
///
/// Flat parameter vector \f$\theta\f$ (what the optimizers see): vec(R) column-major (k*n
/// entries), then \f$\alpha\f$ (learned: 1 entry, per-iteration: N entries, fixed: none).
#include <cstdint>
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"
#include "varlearn/learn/stepsize.hpp"
#include "varlearn/theory/family.hpp"

namespace varlearn::learn {

enum class Method { Bilevel, Unrolled };
const char* to_string(Method m);          ///< "bilevel" | "unrolled"
Method parse_method(const std::string& s);  ///< throws Error on unknown names

/// A model's depth is at most this: the reverse mode stores O(sqrt N) iterates of n x B, and
/// deeper unrolling is a lower-level solve, which the bilevel method does exactly.
inline constexpr int kMaxDepth = 100000;

/// Shape of a model: what a checkpoint must match.
struct ModelSpec {
  Index n = 0;       ///< signal dimension n (frame length)
  Index rank = 0;    ///< k: rows of R, 1 <= k (k <= n is required by the CLI, not the math)
  Method method = Method::Unrolled;
  int depth = 1;     ///< N: unrolled gradient steps (ignored for bilevel), >= 1
  StepsizeMode stepsize_mode = StepsizeMode::Learned;  ///< ignored for bilevel

  /// The stepsize parametrization: stepsize_mode over depth N (depth 0 for bilevel).
  StepsizePolicy stepsize_policy() const {
    return StepsizePolicy(stepsize_mode, method == Method::Bilevel ? 0 : depth);
  }
  Index num_stepsizes() const { return stepsize_policy().num_stored(); }  ///< stored omega: 0 bilevel, N per-iteration, else 1
  Index num_alphas() const { return stepsize_policy().count(); }          ///< trained stepsize parameters: 0 / 1 / N
  Index num_parameters() const { return n * rank + num_alphas(); }
  std::string describe() const;  ///< "unrolled N=4 k=3 n=7 stepsize learned"
  /// Throws Error unless n >= 1, k >= 1, depth >= 1 (unrolled).
  void validate() const;
  bool operator==(const ModelSpec&) const = default;
};

/// How to initialize R when no matrix is given.
struct InitOptions {
  /// R = scale * G / sqrt(n) with G standard Gaussian (seeded). Default 1.
  double scale = 1.0;
  /// Initial stepsize \f$\omega\f$ (unrolled; all iterations for per-iteration). Default 0.5.
  double stepsize = 0.5;
  /// Per-iteration stepsizes start at \f$\omega_j = \omega(1 + \texttt{spread}(j/(N-1) - 1/2))\f$:
  /// the unrolled map depends on the \f$\omega_j\f$ only through
  /// \f$\prod_j (1 - \omega_j(1+s))\f$, which is symmetric in them, so equal starting values
  /// stay equal under any gradient method. Default 0.2.
  double spread = 0.2;
  std::uint64_t seed = 1;
  void validate() const;
};

/// A trained or trainable model. Parameters are stored in float64; training may run in float32.
class QuadraticModel {
public:
  QuadraticModel() = default;
  /// Random R (InitOptions), stepsizes all options.stepsize.
  static QuadraticModel random(const ModelSpec& spec, const InitOptions& options = {});
  /// From a given R (k x n; e.g. the theory engine's realizing regularizer) and stepsize(s):
  /// one omega, or N for per-iteration (one omega is then repeated). Throws Error on shape
  /// mismatch, non-finite entries or omega <= 0 (unrolled).
  static QuadraticModel from_regularizer(const ModelSpec& spec, const Matrix& regularizer,
                                         const std::vector<double>& stepsizes = {0.5});

  const ModelSpec& spec() const { return spec_; }
  const Matrix& regularizer() const { return r_; }           ///< R, k x n
  const std::vector<double>& stepsizes() const { return omega_; }  ///< omega (size num_stepsizes)
  double stepsize() const { return omega_.empty() ? 0.0 : omega_.front(); }

  /// Flat parameters theta (see file comment), size spec().num_parameters().
  Vector parameters() const;
  /// Sets theta (throws Error on size mismatch or non-finite entries).
  void set_parameters(const Vector& theta);

  /// The denoiser matrix \f$T_R\f$ (n x n), by Cholesky (bilevel) or by running the N steps
  /// on the identity (unrolled; works for per-iteration stepsizes too).
  Matrix denoiser() const;
  /// \f$T_R X\f$ for frames X (n x B); throws Error if X has not n rows.
  Matrix apply(const Matrix& frames) const;
  /// The theory engine's family (bilevel, or unrolled N with this omega); throws Error for
  /// per-iteration stepsizes, which are not a one-omega family.
  theory::Family family() const;

private:
  ModelSpec spec_;
  Matrix r_;
  std::vector<double> omega_;
};

}  // namespace varlearn::learn
