#pragma once
// The small problems the general-engine tests share: frames of n = 8, batches of 3, one
// operator of each kind and one regularizer of each kind (fixed seeds), in float or double.
#include <cmath>
#include <memory>
#include <string>

#include "varlearn/core/random.hpp"
#include "varlearn/general/energy.hpp"
#include "varlearn/ops/ops.hpp"
#include "varlearn/reg/reg.hpp"

namespace varlearn::general_problems {

constexpr Index kN = 8;
constexpr Index kB = 3;

/// identity, mask (five samples missing across the batch), conv (taps 0.25, 0.5, 0.25).
inline ops::Operator make_operator(const std::string& kind) {
  if (kind == "identity") return ops::Identity(kN);
  if (kind == "mask") {
    ops::MaskPattern observed = ops::MaskPattern::Constant(kN, kB, true);
    observed(1, 0) = observed(4, 0) = observed(2, 1) = observed(7, 2) = observed(3, 2) = false;
    return ops::Mask(observed);
  }
  Vector kernel(3);
  kernel << 0.25, 0.5, 0.25;
  return ops::Conv(kN, kernel);
}

/// quadratic (R 8 x 8), huber / charbonnier (learned eps) / student (learned eps) analysis with
/// K 6 x 8 and weights 0.7, student-weak (weights 0.1: a phi'' >= -a/(4 eps^2) = -0.1 keeps
/// I + K^T D K positive definite, |K|^2 < 9 here), tv (charbonnier), foe (2 filters of 3 taps,
/// huber, learned eps), foe-charbonnier (the same with charbonnier).
template <class T = double>
std::unique_ptr<reg::Regularizer<T>> make_regularizer(const std::string& kind) {
  Rng rng(7);
  if (kind == "quadratic")
    return std::make_unique<reg::Quadratic<T>>(MatrixT<T>(gaussian_matrix(kN, kN, 0.3, rng).cast<T>()));
  const MatrixT<T> k = gaussian_matrix(6, kN, 0.4, rng).cast<T>();
  const VectorT<T> a = VectorT<T>::Constant(6, T(0.7));
  if (kind == "huber") return std::make_unique<reg::Analysis<T>>(k, a, reg::Potential::huber(0.3));
  if (kind == "charbonnier") return std::make_unique<reg::Analysis<T>>(k, a, reg::Potential::charbonnier(0.2, true));
  if (kind == "student") return std::make_unique<reg::Analysis<T>>(k, a, reg::Potential::student(0.5, true));
  if (kind == "student-weak")
    return std::make_unique<reg::Analysis<T>>(k, VectorT<T>::Constant(6, T(0.1)), reg::Potential::student(0.5, true));
  if (kind == "tv") return std::make_unique<reg::Tv<T>>(kN, 0.5, reg::Potential::charbonnier(0.1));
  const reg::Potential phi =
      kind == "foe-charbonnier" ? reg::Potential::charbonnier(0.3, true) : reg::Potential::huber(0.5, true);
  return std::make_unique<reg::Foe<T>>(reg::Foe<T>::random(kN, 2, 3, reg::Boundary::Same, phi, 0.5, 0.8, 3));
}

template <class T = double>
struct Problem {
  general::BasicEnergy<T> energy;
  MatrixT<T> target;
};

/// Targets and observations g = A f + 0.2 eps drawn in double (seed 11), then rounded to T.
template <class T = double>
Problem<T> make_problem(const std::string& op, const std::string& regularizer) {
  Rng rng(11);
  const ops::Operator a = make_operator(op);
  const Matrix target = gaussian_matrix(kN, kB, 1.0, rng);
  const Matrix g = ops::observe(a, target, 0.2, rng);
  return {general::BasicEnergy<T>(a, *make_regularizer<T>(regularizer), g.cast<T>()), target.cast<T>()};
}

/// The column-block tests' batch: n = 64 (640-column blocks), B = 1500 frames (two full blocks
/// and a partial one) under a per-frame mask (20 % missing), g = A f + 0.1 eps, and a dense
/// analysis K = the DCT + 0.2 N(0,1)/sqrt(n) (seed 5).
struct BlockBatch {
  static constexpr Index kN = 64, kB = 1500;
  ops::Operator a;
  Matrix clean, g, k;
};
inline BlockBatch block_batch() {
  Rng rng(5);
  ops::MaskOptions mo;
  mo.missing_probability = 0.2;
  BlockBatch p{ops::Operator(ops::draw_mask(BlockBatch::kN, BlockBatch::kB, mo, rng)), {}, {}, {}};
  p.clean = gaussian_matrix(BlockBatch::kN, BlockBatch::kB, 1.0, rng);
  p.g = ops::observe(p.a, p.clean, 0.1, rng);
  p.k = reg::Analysis<double>::dct_rows(BlockBatch::kN, BlockBatch::kN) +
        gaussian_matrix(BlockBatch::kN, BlockBatch::kN, 0.2 / std::sqrt(double(BlockBatch::kN)), rng);
  return p;
}

/// A safe step: omega = 0.9 / (|A|^2 + L_R), under 2 / (|A|^2 + L_R).
template <class T>
double safe_step(const general::BasicEnergy<T>& e) {
  return 0.9 / (e.op().norm_squared_bound() + e.regularizer().hessian_bound().value_or(4.0));
}

}  // namespace varlearn::general_problems
