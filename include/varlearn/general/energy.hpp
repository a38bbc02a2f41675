#pragma once
/// \file energy.hpp
/// The lower-level energy of general learning (docs/general.md):
/// \f$E(F;\theta) = \tfrac12\|AF - G\|_F^2 + R_\theta(F)\f$ for a forward operator A
/// (ops::Operator), a regularizer \f$R_\theta\f$ (reg::Regularizer<T>) and observations
/// G (m x B), with the derivative kernels that unrolled and bilevel learning need.
/// Templated on the scalar T (float for training speed, double for checks; both instantiated).
#include <algorithm>
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
  /// The energy of frames [begin, begin + count): the frames are independent problems
  /// (\f$E = \sum_b E_b(f_b)\f$), so a column block is solved on its own. Error when A
  /// cannot be split by frames (ops::Operator::columns).
  BasicEnergy columns(Index begin, Index count) const;

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

  /// A line search's kernels (the bilevel path's Newton–CG). E is a function of the linear
  /// images AF and (analysis-type regularizer) KF, and along F + tD these are the images at F
  /// plus t times those of D: so E(F + tD) costs no product, \f$\nabla E\f$ there only the
  /// adjoints, and the curvature at the accepted point none. No shape checks.
  /// `at` = the images of F: residual AF - G, responses KF (analysis only, else empty).
  void linearize(const Mat& f, Linearization& at) const;
  /// `out` = the images of a direction D: residual AD (no -G), responses KD (analysis only).
  void linearize_direction(const Mat& d, Linearization& out) const;
  /// E(F) from F's images (the regularizer's value(F) when there are no responses).
  T value_at(const Mat& f, const Linearization& at) const;
  /// `out` = \f$\nabla E(F)\f$ from F's images.
  void gradient_at(const Mat& f, const Linearization& at, Mat& out) const;
  /// curvature(F) with F's images (no product for KF). `single`: the regularizer's part in
  /// single precision where it has that form (reg::AnalysisBase::single_curvature_of; relative
  /// accuracy ~1e-7), for the inexact inner solves of Newton–CG; else the exact product.
  std::function<void(const Mat&, Mat&)> curvature_at(const Mat& f, const Linearization& at,
                                                     bool single = false) const;

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
  std::function<void(const Mat&, Mat&)> with_data_term(std::function<void(const Mat&, Mat&)> r) const;
  ops::Operator a_;
  std::unique_ptr<reg::Regularizer<T>> regularizer_;
  Mat g_;
  /// The owned regularizer as an analysis one (fused kernels), or nullptr.
  const reg::AnalysisBase<T>* analysis_ = nullptr;
};

/// The float64 energy (bilevel learning, checks).
using Energy = BasicEnergy<double>;

/// How an iterative method runs a batch of independent frames: in column blocks of
/// frame_block_columns(n, B) frames (core/threads.hpp), each with its own energy
/// (BasicEnergy::columns), so that a block's iterates stay in cache, the blocks run one per
/// thread and their sums are added in block order (the same result for every thread count).
/// One block when A cannot be split by frames.
struct FrameBlocks {
  Index columns = 0, count = 0;  ///< frames per block (the last may have fewer), blocks
  int threads = 1;  ///< blocks at once (1: in order, with the products on all threads)
  Index begin(Index i) const { return i * columns; }
  Index width(Index i, Index batch) const { return std::min(columns, batch - i * columns); }
};
template <class T>
FrameBlocks frame_blocks(const BasicEnergy<T>& energy);

extern template class BasicEnergy<float>;
extern template class BasicEnergy<double>;

}  // namespace varlearn::general
