#pragma once
/// \file energy.hpp
/// The lower-level energy of general learning (docs/general.md):
/// \f$E(F;\theta) = \tfrac12\|AF - G\|_F^2 + R_\theta(F)\f$ for a forward operator A
/// (ops::Operator), a regularizer \f$R_\theta\f$ (reg::Regularizer<T>) and observations
/// G (m x B), with the derivative kernels that unrolled and bilevel learning need.
/// Templated on the scalar T (float for training speed, double for checks; both instantiated).
#include <functional>
#include <memory>
#include <type_traits>

#include "varlearn/core/types.hpp"
#include "varlearn/ops/operator.hpp"
#include "varlearn/reg/regularizer.hpp"

namespace varlearn::reg {
template <class T>
class AnalysisBase;
}

namespace varlearn::general {

template <class T>
class BasicEnergy {
public:
  using Scalar = T;
  using Mat = MatrixT<T>;
  using Vec = VectorT<T>;

  /// Clones r (the energy owns its regularizer; set_parameters() changes only this copy).
  /// Throws Error unless A is set, A's input size is R's dimension and G is m x B with
  /// m = A's output size (and B accepted by A).
  BasicEnergy(ops::Operator a, const reg::Regularizer<T>& r, Mat g);
  BasicEnergy(const BasicEnergy& other);
  BasicEnergy& operator=(const BasicEnergy& other);
  BasicEnergy(BasicEnergy&&) noexcept = default;
  BasicEnergy& operator=(BasicEnergy&&) noexcept = default;
  ~BasicEnergy() = default;

  /// \f$E(F)\f$.
  T value(const Mat& f) const;
  /// \f$\nabla_F E = A^T(AF - G) + \nabla R(F)\f$ (n x B).
  Mat gradient(const Mat& f) const;
  /// \f$\nabla^2_F E\cdot V = A^TAV + \nabla^2R(F)V\f$ (n x B).
  Mat hessian_product(const Mat& f, const Mat& v) const;
  /// \f$(V, \mathrm{out}) \mapsto \mathrm{out} = \nabla^2 E(F)\,V\f$ at a fixed F (the CG
  /// solves of the bilevel path): the regularizer's curvature_at, which keeps what does not
  /// depend on V, plus \f$A^TAV\f$; writes into the caller's buffer. Valid while this energy
  /// lives and its parameters do not change.
  std::function<void(const Mat&, Mat&)> curvature(const Mat& f) const;
  /// \f$(\partial_\theta\nabla_F E(F))^T W = (\partial_\theta\nabla_F R(F))^T W\f$ (the data
  /// term does not depend on \f$\theta\f$).
  Vec mixed_product(const Mat& f, const Mat& w) const;
  /// \f$A^TG\f$ (n x B): the adjoint start of the unrolled solver.
  Mat adjoint_observations() const;

  /// What gradient_into keeps at F for reverse_kernels at the same F: the data residual
  /// \f$AF - G\f$ and, for an analysis-type regularizer (reg::AnalysisBase: analysis, foe, tv),
  /// the responses \f$U = KF\f$. Empty members are recomputed.
  struct Linearization {
    Mat residual;
    Mat responses;
  };
  /// The unrolled engine's kernels (no shape checks: the caller sizes F, W once).
  /// `out` = \f$\nabla_F E(F)\f$; fills `*keep` when given.
  void gradient_into(const Mat& f, Mat& out, Linearization* keep = nullptr) const;
  /// One reverse step at F for the adjoint W, sharing work between the three kernels: returns
  /// \f$\langle W, \nabla E(F)\rangle\f$ (accumulated in double), writes `hv` =
  /// \f$\nabla^2E(F)W\f$ and `mixed` = \f$(\partial_\theta\nabla_F E(F))^TW\f$. `kept` is
  /// gradient_into's Linearization at the same F, or nullptr.
  double reverse_kernels(const Mat& f, const Mat& w, const Linearization* kept, Mat& hv, Vec& mixed) const;

  Index dimension() const { return regularizer_->dimension(); }  ///< n
  Index batch() const { return g_.cols(); }                       ///< B
  const ops::Operator& op() const { return a_; }
  const Mat& observations() const { return g_; }
  const reg::Regularizer<T>& regularizer() const { return *regularizer_; }
  /// \f$\theta\f$ of the owned regularizer.
  Vec parameters() const { return regularizer_->parameters(); }
  void set_parameters(const Vec& theta) { regularizer_->set_parameters(theta); }
  Index num_parameters() const { return regularizer_->num_parameters(); }

private:
  void check(const Mat& f, const char* where, const Mat* v = nullptr) const;
  ops::Operator a_;
  std::unique_ptr<reg::Regularizer<T>> regularizer_;
  Mat g_;
  /// The owned regularizer as an analysis one (fused kernels), or nullptr.
  const reg::AnalysisBase<T>* analysis_ = nullptr;
};

/// The float64 energy (bilevel learning, checks).
using Energy = BasicEnergy<double>;

extern template class BasicEnergy<float>;
extern template class BasicEnergy<double>;

}  // namespace varlearn::general
