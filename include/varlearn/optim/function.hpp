#pragma once
/// \file function.hpp
/// The one differentiable-objective concept of the library (the shape of ensmallen's
/// `EvaluateWithGradient`): an objective returns \f$L(x)\f$ and writes \f$\nabla L(x)\f$ into a
/// vector the caller owns (sized like x). Every trained thing (the quadratic model's losses,
/// the unrolled dequantization network) is such an object bound to its data, and every
/// optimizer, observer and checker of `optim` takes one.
///
///   struct Quadratic {                      // L(x) = 1/2 x^T A x - b^T x
///     Matrix a; Vector b;
///     double evaluate_with_gradient(const Vector& x, Vector& g) { g = a * x - b; return 0.5 * x.dot(a * x) - b.dot(x); }
///     double evaluate(const Vector& x) { return 0.5 * x.dot(a * x) - b.dot(x); }   // optional
///   };
///   optim::Function<double> f = Quadratic{a, b};       // type-erased, for runtime choice
///   auto r = optim::Lbfgs().minimize(f, x);
///
/// A stochastic objective (minibatches, fresh noise) is stateful: it moves to its next
/// minibatch on each evaluate_with_gradient call.
#include <concepts>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "varlearn/core/types.hpp"

namespace varlearn::optim {

/// F returns \f$L(x)\f$ and writes \f$\nabla L(x)\f$ into grad (sized like x on entry).
template <class F, class T>
concept DifferentiableFunction = requires(F& f, const VectorT<T>& x, VectorT<T>& grad) {
  { f.evaluate_with_gradient(x, grad) } -> std::convertible_to<T>;
};

/// F also has a value-only call \f$L(x)\f$ (cheaper: no backward pass); the gradient
/// checker's finite differences use it.
template <class F, class T>
concept EvaluableFunction = requires(F& f, const VectorT<T>& x) {
  { f.evaluate(x) } -> std::convertible_to<T>;
};

/// A type-erased differentiable function (scalar T = float or double). Copies share the
/// wrapped object (and so its state, e.g. a minibatch cursor). Built from any
/// DifferentiableFunction, or from a lambda pair (value-and-gradient, optional value).
template <class T>
class Function {
public:
  using Scalar = T;
  /// \f$(x, g) \mapsto L(x)\f$, writing \f$\nabla L(x)\f$ into g.
  using ValueAndGradient = std::function<T(const VectorT<T>& x, VectorT<T>& grad)>;
  /// \f$x \mapsto L(x)\f$.
  using Value = std::function<T(const VectorT<T>& x)>;

  Function() = default;

  template <class F>
    requires(DifferentiableFunction<F, T> && !std::is_same_v<std::remove_cvref_t<F>, Function>)
  Function(F f)  // NOLINT: implicit, so that optimizers take any objective
      : impl_(std::make_shared<Model<F>>(std::move(f))) {}

  /// From lambdas; without `value`, evaluate() calls value_and_gradient with a scratch vector.
  explicit Function(ValueAndGradient value_and_gradient, Value value = {})
      : impl_(std::make_shared<Model<Lambdas>>(Lambdas{std::move(value_and_gradient), std::move(value)})) {}

  /// \f$L(x)\f$; writes \f$\nabla L(x)\f$ into grad.
  T evaluate_with_gradient(const VectorT<T>& x, VectorT<T>& grad) const {
    return impl_->evaluate_with_gradient(x, grad);
  }
  /// \f$L(x)\f$ without gradient.
  T evaluate(const VectorT<T>& x) const { return impl_->evaluate(x); }
  explicit operator bool() const { return static_cast<bool>(impl_); }

private:
  struct Lambdas {
    ValueAndGradient vg;
    Value v;
    T evaluate_with_gradient(const VectorT<T>& x, VectorT<T>& g) { return vg(x, g); }
    T evaluate(const VectorT<T>& x) {
      if (v) return v(x);
      VectorT<T> g = VectorT<T>::Zero(x.size());
      return vg(x, g);
    }
  };
  struct Concept {
    virtual ~Concept() = default;
    virtual T evaluate_with_gradient(const VectorT<T>& x, VectorT<T>& grad) = 0;
    virtual T evaluate(const VectorT<T>& x) = 0;
  };
  template <class F>
  struct Model final : Concept {
    explicit Model(F f) : fn(std::move(f)) {}
    T evaluate_with_gradient(const VectorT<T>& x, VectorT<T>& grad) override {
      return static_cast<T>(fn.evaluate_with_gradient(x, grad));
    }
    T evaluate(const VectorT<T>& x) override {
      if constexpr (EvaluableFunction<F, T>) {
        return static_cast<T>(fn.evaluate(x));
      } else {
        VectorT<T> g = VectorT<T>::Zero(x.size());
        return static_cast<T>(fn.evaluate_with_gradient(x, g));
      }
    }
    F fn;
  };
  std::shared_ptr<Concept> impl_;
};

}  // namespace varlearn::optim
