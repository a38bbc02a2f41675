#pragma once
/// \file analysis.hpp
/// Sums of potentials of filter responses, \f$R(F) = \sum_j a_j \sum_{i\in\text{group } j}
/// \varphi((KF)_i)\f$, \f$a_j = \mathrm{softplus}(\beta_j) > 0\f$: the shared engine of the
/// dense analysis regularizer (this file), the fields of experts (foe.hpp) and tv (tv.hpp).
/// With \f$U = KF\f$, \f$\Psi = a\odot\varphi'(U)\f$, \f$Z = KW\f$ (rows weighted by their group's a):
///   \f$\nabla_F R = K^T\Psi\f$, \f$\nabla^2_F R\,V = K^T(a\odot\varphi''(U)\odot KV)\f$,
///   \f$\partial_K R = \Psi F^T\f$, \f$\partial_{a_j} R = \sum \varphi(U_j)\f$,
///   \f$\partial_\varepsilon R = \sum a\,\partial_\varepsilon\varphi(U)\f$, and the mixed product
///   \f$\partial_K = \Psi W^T + (a\odot\varphi''(U)\odot Z)F^T\f$,
///   \f$\partial_{a_j} = \sum Z_j\odot\varphi'(U_j)\f$, \f$\partial_\varepsilon = \sum a\,Z\odot\partial_\varepsilon\varphi'(U)\f$
/// (\f$\partial_K\f$ meaning the pullback onto K's own parameters; chained through softplus).
/// \f$\theta\f$ = [K's parameters (if learned), \f$\beta\f$ (J), \f$\eta\f$ (1, if ε is learned)].
#include <cstdint>
#include <memory>

#include "varlearn/core/names.hpp"
#include "varlearn/reg/potential.hpp"
#include "varlearn/reg/regularizer.hpp"

namespace varlearn {
template <class Real>
struct PackedOperator;  // core/gemm.hpp
}  // namespace varlearn

namespace varlearn::reg {

/// The engine shared by Analysis, Foe and Tv: K is given by the derived class as a linear map
/// F (n x B) -> U (rows x B) whose rows fall in J consecutive groups of `rows_per_group()`
/// rows, group j weighted by \f$a_j\f$.
template <class T>
class AnalysisBase : public Regularizer<T> {
public:
  using Mat = MatrixT<T>;
  using Vec = VectorT<T>;
  const Potential& potential() const { return potential_; }
  /// \f$a = \mathrm{softplus}(\beta)\f$ (J).
  Vec weights() const;
  Index num_groups() const { return beta_.size(); }

  T value(const Mat& f) const override;
  Mat gradient(const Mat& f) const override;
  Mat hessian_product(const Mat& f, const Mat& v) const override;
  /// Keeps \f$D = a\odot\varphi''(KF)\f$: each product is then \f$K^T(D\odot KV)\f$, two
  /// products with K instead of three.
  std::function<void(const Mat&, Mat&)> curvature_at(const Mat& f) const override;
  Vec parameter_gradient(const Mat& f) const override;
  Vec mixed_product(const Mat& f, const Mat& w) const override;
  Index num_parameters() const override;
  Vec parameters() const override;
  void set_parameters(const Vec& theta) override;
  /// \f$\|K\|_2^2\,\max_j a_j\,\sup|\varphi''|\f$ (operator_norm_bound() of the derived class).
  std::optional<double> hessian_bound() const override;

  /// U = K F.
  virtual Mat apply(const Mat& f) const = 0;
  /// \f$K^T P\f$ (n x B) for P shaped like K F.
  virtual Mat adjoint(const Mat& p) const = 0;

  /// Fused kernels of one unrolled step (general::BasicEnergy::gradient_into and
  /// reverse_kernels), no shape checks. Adds \f$\nabla R(F) = K^T\Psi(U)\f$, \f$U = KF\f$, to
  /// `out` (n x B) and keeps U in `*u` when given.
  void add_gradient(const Mat& f, Mat& out, Mat* u = nullptr) const;
  /// At F with adjoint W, sharing \f$U = KF\f$ (`u`, or recomputed when nullptr) and
  /// \f$Z = KW\f$ between the three kernels: returns \f$\langle W, \nabla R(F)\rangle =
  /// \langle Z, \Psi(U)\rangle\f$ (accumulated in double), adds \f$\nabla^2R(F)W =
  /// K^T(a\odot\varphi''(U)\odot Z)\f$ to `hv` and writes the mixed product
  /// \f$(\partial_\theta\nabla_F R)^TW\f$ into `mixed`. One step: K F (unless given), K W, one
  /// \f$K^T\f$ and the two pullbacks \f$\Psi W^T\f$, \f$(a\varphi''Z)F^T\f$.
  double add_reverse_kernels(const Mat& f, const Mat& w, const Mat* u, Mat& hv, Vec& mixed) const;

  /// The same kernels from kept responses (a line search along F + tD keeps U = KF and KD, so
  /// that U(t) = KF + tKD costs no product; general::BasicEnergy::linearize), no shape checks:
  /// u = K F;
  void responses(const Mat& f, Mat& u) const { apply_to(f, u); }
  /// \f$R = \sum a\,\varphi(U)\f$ (accumulated in double);
  T value_of(const Mat& u) const;
  /// out += \f$K^T\Psi(U)\f$ (one product with K);
  void add_gradient_of(const Mat& u, Mat& out) const;
  /// curvature_at for U = KF given (takes it over: \f$D = a\odot\varphi''(U)\f$ in place).
  std::function<void(const Mat&, Mat&)> curvature_of(Mat u) const;
  /// The same product with K and D rounded to single precision (relative accuracy ~1e-7, at
  /// twice the GEMM rate): for the inexact inner CG of Newton–CG far from the minimizer, where
  /// a direction to 1e-3 serves as well. Empty where there is no such form (float T; K given
  /// by a derived class without a dense matrix). One caller at a time: the function and its
  /// copies share their float32 K (packed once) and work buffers.
  virtual std::function<void(const Mat&, Mat&)> single_curvature_of(const Mat& u) const {
    (void)u;
    return {};
  }

protected:
  /// Throws Error unless every weight > 0 finite (weights has `groups` entries).
  AnalysisBase(Potential potential, const Vec& weights, const char* where);
  virtual Index rows_per_group() const = 0;
  /// Number of K's learned parameters (0 for tv).
  virtual Index num_operator_parameters() const = 0;
  virtual Vec operator_parameters() const = 0;
  virtual void set_operator_parameters(const Eigen::Ref<const Vec>& k) = 0;
  /// \f$\partial/\partial\kappa\ \langle P, K_\kappa F\rangle\f$ over K's parameters \f$\kappa\f$.
  virtual Vec operator_gradient(const Mat& p, const Mat& f) const = 0;
  /// An upper bound on \f$\|K\|_2\f$.
  virtual double operator_norm_bound() const = 0;
  /// In-place forms for the fused kernels (the dense K multiplies into the destination).
  /// u = K F.
  virtual void apply_to(const Mat& f, Mat& u) const { u = apply(f); }
  /// out += \f$K^T P\f$.
  virtual void add_adjoint(const Mat& p, Mat& out) const { out += adjoint(p); }
  /// out = \f$K^T P\f$ (no pass to clear it first).
  virtual void adjoint_to(const Mat& p, Mat& out) const { out = adjoint(p); }
  /// g += \f$\partial/\partial\kappa\ \langle P, K_\kappa F\rangle\f$ (K's parameters).
  virtual void add_operator_gradient(const Mat& p, const Mat& f, Eigen::Ref<Vec> g) const {
    g += operator_gradient(p, f);
  }
  /// "huber(eps=...), weights softplus (a in [lo, hi])" for describe().
  std::string describe_weights() const;
  /// U -> \f$D = a\odot\varphi''(U)\f$ in place (the curvature's weights).
  void to_curvature_weights(Mat& d) const;

private:
  /// Row weights: a_{group(row)} for each of `rows` rows.
  Vec row_weights(Index rows) const;
  Potential potential_;
  Vec beta_;  ///< a = softplus(beta)
};

/// How to initialize a dense K (m x n).
enum class AnalysisInit {
  Dct,                ///< rows 0..m-1 of the orthonormal DCT-II (m <= n)
  FiniteDifferences,  ///< row j = e_{j+1} - e_j (m <= n - 1)
  Random,             ///< scale * N(0,1) / sqrt(n), seeded
};
inline constexpr NameTable<AnalysisInit, 3> kAnalysisInitNames{{{AnalysisInit::Dct, "dct"},
                                                                {AnalysisInit::FiniteDifferences, "differences"},
                                                                {AnalysisInit::Random, "random"}}};

struct AnalysisOptions {
  /// m: rows of K (0 = n for dct/random, n - 1 for differences).
  Index filters = 0;
  AnalysisInit init = AnalysisInit::Dct;
  double weight = 1.0;   ///< initial \f$a_j\f$ (all rows), > 0
  double scale = 1.0;    ///< random init scale
  std::uint64_t seed = 1;  ///< random init seed
  /// Throws Error naming the bad field.
  void validate() const;
};

/// Dense analysis regularizer \f$\sum_j a_j\sum_b\varphi((Kf_b)_j)\f$, K (m x n) learned,
/// one weight per row. \f$\theta\f$ = [vec(K) column-major (m n), \f$\beta\f$ (m), \f$\eta\f$ (if learned)].
template <class T>
class Analysis final : public AnalysisBase<T> {
public:
  using Mat = MatrixT<T>;
  using Vec = VectorT<T>;
  /// Throws Error if K is empty or not finite or weights has not K.rows() positive entries.
  Analysis(Mat k, const Vec& weights, Potential potential);
  Analysis(const Analysis& other);
  Analysis& operator=(const Analysis& other);
  ~Analysis() override;
  /// K (m x n) from options (DCT, differences, random), all weights options.weight.
  static Analysis make(Index n, const AnalysisOptions& options, Potential potential);
  /// The m x n orthonormal DCT-II rows \f$K_{jt} = c_j\cos(\pi(t+\tfrac12)j/n)\f$.
  static Mat dct_rows(Index m, Index n);
  /// The m x n first differences, row j = \f$e_{j+1}-e_j\f$ (m <= n - 1).
  static Mat difference_rows(Index m, Index n);

  const Mat& matrix() const { return k_; }
  Index dimension() const override { return k_.cols(); }
  Mat apply(const Mat& f) const override { return k_ * f; }
  Mat adjoint(const Mat& p) const override { return k_.transpose() * p; }
  std::string describe() const override;
  std::unique_ptr<Regularizer<T>> clone() const override { return std::make_unique<Analysis>(*this); }

protected:
  Index rows_per_group() const override { return 1; }
  Index num_operator_parameters() const override { return k_.size(); }
  Vec operator_parameters() const override;
  void set_operator_parameters(const Eigen::Ref<const Vec>& k) override;
  Vec operator_gradient(const Mat& p, const Mat& f) const override;
  double operator_norm_bound() const override;
  void apply_to(const Mat& f, Mat& u) const override;
  void add_adjoint(const Mat& p, Mat& out) const override;
  void adjoint_to(const Mat& p, Mat& out) const override;
  void add_operator_gradient(const Mat& p, const Mat& f, Eigen::Ref<Vec> g) const override;

public:
  std::function<void(const Mat&, Mat&)> single_curvature_of(const Mat& u) const override;

private:
  Mat k_;
  /// K and K^T packed once for Eigen's kernels (core/gemm.hpp's PackedOperator): an unrolled or
  /// bilevel solve multiplies the same K by its block of frames at every step. Packed at the
  /// first product, anew after set_operator_parameters; a copy packs its own.
  std::unique_ptr<PackedOperator<T>> packed_;
};

extern template class AnalysisBase<float>;
extern template class AnalysisBase<double>;
extern template class Analysis<float>;
extern template class Analysis<double>;

}  // namespace varlearn::reg
