#pragma once
/// \file operator.hpp
/// Linear forward operators \f$A: \mathbb{R}^n \to \mathbb{R}^m\f$ acting on batches of frames
/// (n x B matrices, frames as columns), in float and double: the concept, the type-erased
/// `Operator`, the adjoint checker, a power-iteration estimate of \f$\|A\|^2\f$, and the
/// observation model \f$g = A f + \sigma\varepsilon\f$.
///
///   struct Scale {                                       // A f = s f
///     Index n; double s;
///     template <class T> MatrixT<T> apply(const MatrixT<T>& f) const { return T(s) * f; }
///     template <class T> MatrixT<T> adjoint(const MatrixT<T>& g) const { return T(s) * g; }
///     Index input_size() const { return n; }
///     Index output_size() const { return n; }
///     Index batch_size() const { return 0; }            // 0: any B
///     double norm_squared_bound() const { return s * s; }
///     std::string describe() const { return "scale"; }
///   };
///   ops::Operator a = Scale{7, 2.0};                     // checks shapes around every call
#include <concepts>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "varlearn/core/random.hpp"
#include "varlearn/core/types.hpp"

namespace varlearn::ops {

/// A is a linear map for scalar T: `apply` (n x B -> m x B), `adjoint` (m x B -> n x B),
/// the sizes, the batch it accepts (0 = any B), an upper bound of \f$\|A\|_2^2\f$ (for
/// stepsizes \f$\omega < 2/L\f$), and a one-line description.
template <class A, class T>
concept LinearOperator = requires(const A& a, const MatrixT<T>& x) {
  { a.apply(x) } -> std::convertible_to<MatrixT<T>>;
  { a.adjoint(x) } -> std::convertible_to<MatrixT<T>>;
  { a.input_size() } -> std::convertible_to<Index>;
  { a.output_size() } -> std::convertible_to<Index>;
  { a.batch_size() } -> std::convertible_to<Index>;
  { a.norm_squared_bound() } -> std::convertible_to<double>;
  { a.describe() } -> std::convertible_to<std::string>;
};

/// Throws Error "WHERE: input is R x C, DESCRIPTION takes ROWS x B" (or "x BATCH" when the
/// operator takes one batch size only) unless x is rows x (any, or batch) columns.
void require_shape(Index x_rows, Index x_cols, Index rows, Index batch, const std::string& where,
                   const std::string& description);

/// A type-erased linear operator, float and double (copies share the wrapped object). Every
/// call checks the input shape (Error naming both shapes) and the shape the wrapped operator
/// returns (Error, Kind::Internal).
class Operator {
public:
  Operator() = default;

  template <class A>
    requires(LinearOperator<A, float> && LinearOperator<A, double> &&
             !std::is_same_v<std::remove_cvref_t<A>, Operator>)
  Operator(A a)  // NOLINT: implicit, so that every function taking an Operator takes any operator
      : impl_(std::make_shared<Model<A>>(std::move(a))) {}

  /// \f$A f\f$: n x B -> m x B.
  MatrixT<float> apply(const MatrixT<float>& f) const;
  MatrixT<double> apply(const MatrixT<double>& f) const;
  /// \f$A^T g\f$: m x B -> n x B.
  MatrixT<float> adjoint(const MatrixT<float>& g) const;
  MatrixT<double> adjoint(const MatrixT<double>& g) const;
  /// \f$A^T A f\f$ (the data term's Hessian, \f$\nabla^2 \tfrac12\|Af-g\|^2\f$).
  template <class T>
  MatrixT<T> normal(const MatrixT<T>& f) const { return adjoint(apply(f)); }
  /// out += \f$A^T A f\f$ (out n x B): without the two copies when A is the identity (the
  /// many Hessian products of a CG solve).
  template <class T>
  void add_normal(const MatrixT<T>& f, MatrixT<T>& out) const {
    if (identity()) out += f;
    else out += normal(f);
  }
  /// Whether A is the identity (the wrapped type says so with `is_identity()`).
  bool identity() const;
  /// Eigen expressions: evaluated to a matrix of their scalar first.
  template <class Derived>
  auto apply(const Eigen::MatrixBase<Derived>& f) const { return apply(MatrixT<typename Derived::Scalar>(f)); }
  template <class Derived>
  auto adjoint(const Eigen::MatrixBase<Derived>& g) const { return adjoint(MatrixT<typename Derived::Scalar>(g)); }

  Index input_size() const;   ///< n
  Index output_size() const;  ///< m
  Index batch_size() const;   ///< B the operator takes, 0 = any
  double norm_squared_bound() const;  ///< \f$L_A \ge \|A\|_2^2\f$
  std::string describe() const;
  /// The operator of frames [begin, begin + count) of its batch (a data-parallel rank's share):
  /// itself when it takes any B, else the wrapped type's `columns(begin, count)` (a mask's
  /// per-frame patterns); Error when out of range or the type cannot be split by frames.
  Operator columns(Index begin, Index count) const;
  explicit operator bool() const { return static_cast<bool>(impl_); }

private:
  struct Concept {
    virtual ~Concept() = default;
    virtual MatrixT<float> apply(const MatrixT<float>& f) const = 0;
    virtual MatrixT<double> apply(const MatrixT<double>& f) const = 0;
    virtual MatrixT<float> adjoint(const MatrixT<float>& g) const = 0;
    virtual MatrixT<double> adjoint(const MatrixT<double>& g) const = 0;
    virtual Index input_size() const = 0;
    virtual Index output_size() const = 0;
    virtual Index batch_size() const = 0;
    virtual double norm_squared_bound() const = 0;
    virtual std::string describe() const = 0;
    virtual bool columns(Index begin, Index count, Operator& out) const = 0;
    virtual bool identity() const = 0;
  };
  template <class A>
  struct Model final : Concept {
    explicit Model(A a) : op(std::move(a)) {}
    MatrixT<float> apply(const MatrixT<float>& f) const override { return op.apply(f); }
    MatrixT<double> apply(const MatrixT<double>& f) const override { return op.apply(f); }
    MatrixT<float> adjoint(const MatrixT<float>& g) const override { return op.adjoint(g); }
    MatrixT<double> adjoint(const MatrixT<double>& g) const override { return op.adjoint(g); }
    Index input_size() const override { return op.input_size(); }
    Index output_size() const override { return op.output_size(); }
    Index batch_size() const override { return op.batch_size(); }
    double norm_squared_bound() const override { return op.norm_squared_bound(); }
    std::string describe() const override { return op.describe(); }
    bool columns(Index begin, Index count, Operator& out) const override {
      if constexpr (requires { op.columns(begin, count); }) {
        out = Operator(op.columns(begin, count));
        return true;
      } else {
        return false;
      }
    }
    bool identity() const override {
      if constexpr (requires { op.is_identity(); }) return op.is_identity();
      return false;
    }
    A op;
  };
  const Concept& impl(const char* where) const;
  template <class T>
  MatrixT<T> apply_checked(const MatrixT<T>& f) const;
  template <class T>
  MatrixT<T> adjoint_checked(const MatrixT<T>& g) const;
  std::shared_ptr<const Concept> impl_;
};

/// Adjoint (dot-product) test: over `trials` pairs of Gaussian x (n x B) and y (m x B),
/// the largest \f$|\langle Ax, y\rangle - \langle x, A^Ty\rangle| / \max(\|Ax\|\|y\|,
/// \|x\|\|A^Ty\|)\f$ (0 when both products vanish), inner products over the whole batch,
/// computed in T and accumulated in double. Scaled by the Cauchy–Schwarz bound so that a
/// small \f$\langle Ax, y\rangle\f$ by chance does not inflate it. `batch` = B (0: the
/// operator's own, else 3). Expect ~1e-16 (double), ~1e-7 (float) for a correct adjoint.
template <class T = double>
double check_adjoint(const Operator& op, Rng& rng, int trials = 10, Index batch = 0);

/// \f$\|A\|_2^2\f$ estimated by `iterations` steps of power iteration on \f$A^TA\f$ (double,
/// Gaussian start): returns the Rayleigh quotient \f$\|Av\|^2\f$ of the last unit iterate, a
/// lower bound that converges to \f$\|A\|_2^2\f$. One frame, or for an operator that takes one
/// batch size only the whole n x B batch (Frobenius norm): A acts frame by frame, so that
/// converges to the largest of the frames' \f$\|A_j\|^2\f$, the norm of the batch operator.
double estimate_norm_squared(const Operator& op, Rng& rng, int iterations = 100);

/// The observation model \f$g = A f + \sigma\varepsilon\f$, \f$\varepsilon\f$ i.i.d. N(0, 1)
/// drawn in column-major order over the m x B output (add_gaussian_noise_inplace). For a mask
/// the missing entries of g hold pure noise: \f$A^T\f$ zeroes them, so neither \f$A^Tg\f$ nor
/// \f$\nabla_f \tfrac12\|Af-g\|^2\f$ sees them (the energy's value carries a constant).
/// Throws Error for \f$\sigma < 0\f$ or not finite, and for a bad shape.
template <class T>
MatrixT<T> observe(const Operator& op, const MatrixT<T>& f, T noise_std, Rng& rng);

}  // namespace varlearn::ops
