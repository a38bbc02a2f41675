// Speech denoising study, sharpness stage: curvature (largest Hessian eigenvalue) and basin
// width of the per-sample training MSE at trained minima.
//
// The curvature is optim::max_curvature (power iteration on finite-difference Hessian-vector
// products, 2 gradient calls per step), not optim::curvature: that one forms the full
// finite-difference Hessian (2p gradient calls and a dense p x p eigendecomposition,
// p = k n + 1 = 6401 at n = 80 and 102401 at n = 320), too slow here and, at n = 320, too big.
#include <algorithm>
#include <cmath>
#include <random>

#include "varlearn/core/spectral.hpp"
#include "varlearn/core/parallel.hpp"
#include "varlearn/audio/noise.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/learn/objective.hpp"
#include "varlearn/optim/gradient_check.hpp"
#include "varlearn/study/denoise_pipeline.hpp"

namespace varlearn::study::denoise {

namespace {

constexpr std::uint64_t kSharpnessSeed = 7;    ///< random start and basin directions
constexpr int kPowerIterations = 20;           ///< power-iteration steps for lambda_max
constexpr double kHessianStep = 1e-5;          ///< relative finite-difference step of the HVP
constexpr int kBasinDirections = 3;            ///< random unit directions for the basin width
constexpr double kBasinRise = 1.01;            ///< basin edge: MSE 1 % above the minimum
constexpr int kBasinBisections = 25;           ///< bisection steps on the radius
constexpr double kBasinMaxRadius = 1e6;        ///< give up growing the radius beyond this * ||theta||

// Per-sample training MSE and its gradient at parameters x of the model's shape (an
// optim objective: value and gradient both scaled by 2/n, per-frame loss -> per-sample MSE).
struct SampleLoss {
  learn::ModelSpec spec;
  const learn::Moments<double>& moments;
  double scale;  // 2 / n
  double operator()(const Vector& x, Vector* g) const {
    const double l = scale * learn::loss_structured<double>(spec, x, {}, moments, g);
    if (g) *g *= scale;
    return l;
  }
  double evaluate_with_gradient(const Vector& x, Vector& g) const { return (*this)(x, &g); }
  double evaluate(const Vector& x) const { return (*this)(x, nullptr); }
};

// Radius (relative to ||theta||) along unit direction u where the loss first exceeds
// kBasinRise * l0 (bisection after doubling).
double basin_radius(const SampleLoss& loss, const Vector& th, const Vector& u, double l0) {
  const double tn = std::max(th.norm(), 1e-12);
  double lo = 0, hi = tn;
  auto over = [&](double rad) {
    const double l = loss(th + rad * u, nullptr);
    return !std::isfinite(l) || l > kBasinRise * l0;
  };
  while (!over(hi) && hi < kBasinMaxRadius * tn) hi *= 2;
  for (int it = 0; it < kBasinBisections; ++it) {
    const double mid = 0.5 * (lo + hi);
    (over(mid) ? hi : lo) = mid;
  }
  return hi / tn;
}

}  // namespace

Sharpness measure_sharpness(const learn::QuadraticModel& m, DenoiseInit init, const Matrix& train_moment,
                            double sigma) {
  const FlushDenormals ftz;  // float32 unrolled passes: no denormals (restored on return)
  const auto moments = learn::Moments<double>::expected(train_moment, sigma);
  const SampleLoss loss{m.spec(), moments, 2.0 / double(train_moment.rows())};
  Sharpness sh;
  sh.depth = m.spec().depth;
  sh.init = init;
  sh.stepsize = m.stepsize();
  sh.regularizer_norm = spectral_norm(m.regularizer());
  const Vector th = m.parameters();
  Vector g0(th.size());
  const double l0 = loss(th, &g0);
  sh.mse = l0;
  const double h = kHessianStep * std::max(1.0, th.norm() / std::sqrt(double(th.size())));
  const optim::Function<double> objective = loss;
  audio::Rng rng(kSharpnessSeed);
  std::normal_distribution<double> nd;
  auto random_unit = [&] {
    Vector v(th.size());
    for (Index i = 0; i < v.size(); ++i) v[i] = nd(rng);
    return Vector(v.normalized());
  };
  sh.hessian_max = optim::max_curvature(objective, th, random_unit(), kPowerIterations, h);
  const Vector e_alpha = Vector::Unit(th.size(), th.size() - 1);
  sh.hessian_max_alpha = e_alpha.dot(optim::hessian_vector_product(objective, th, e_alpha, h));
  std::vector<double> radii;  // basin width: median over kBasinDirections random directions
  for (int dir = 0; dir < kBasinDirections; ++dir) radii.push_back(basin_radius(loss, th, random_unit(), l0));
  std::sort(radii.begin(), radii.end());
  sh.basin_width = radii[radii.size() / 2];
  return sh;
}

std::vector<SharpnessTarget> sharpness_targets(const std::vector<Job>& jobs, const std::vector<Job>& strategy,
                                               const std::vector<int>& odd) {
  // The smallest and largest odd depth and the even depth below each, to bound the cost.
  std::vector<int> depths{odd.front()};
  if (odd.back() != odd.front()) depths.push_back(odd.back());
  std::vector<SharpnessTarget> todo;
  for (int d : depths) {
    for (const Job& j : jobs)
      if (j.config.stepsize_mode == learn::StepsizeMode::Learned && (j.config.depth == d || j.config.depth == d - 1))
        todo.push_back({&j.model, DenoiseInit::Shrink});
    for (const Job& j : strategy)
      if (j.config.depth == d && j.config.init == DenoiseInit::Theory) todo.push_back({&j.model, DenoiseInit::Theory});
  }
  return todo;
}

std::vector<Sharpness> measure_all(const std::vector<SharpnessTarget>& targets, const Frames& frames, const Log& log) {
  std::vector<Sharpness> out(targets.size());
  if (log)
    log("sharpness: " + std::to_string(targets.size()) + " minima (Hessian power iteration, basin width)");
  parallel_for(
      Index(targets.size()),
      [&](Index i) {
        out[size_t(i)] = measure_sharpness(*targets[size_t(i)].model, targets[size_t(i)].init, frames.train_moment,
                                           frames.noise_std);
      },
      Schedule::Dynamic, 1);
  return out;
}

}  // namespace varlearn::study::denoise
