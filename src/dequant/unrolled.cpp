#include "varlearn/dequant/unrolled.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <string>

#include "validate.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/dequant/chambolle_pock.hpp"
#include "varlearn/dequant/dct.hpp"

namespace varlearn::dequant {

void UnrolledSpec::validate() const {
  require(n >= 1, "dequant::UnrolledSpec", "frame length n = " + std::to_string(n) + " must be >= 1");
  require(depth >= 1, "dequant::UnrolledSpec", "depth N = " + std::to_string(depth) + " must be >= 1");
}

void UnrolledTrainOptions::validate() const {
  adam.validate();
  require(batch_size >= 0, "dequant::UnrolledTrainOptions", "batch_size must be >= 0");
  require(threads >= 0, "dequant::UnrolledTrainOptions", "threads must be >= 0");
  require(monitor_every >= 0 && monitor_frames >= 0, "dequant::UnrolledTrainOptions",
          "monitor_every and monitor_frames must be >= 0");
}

template <class T> VectorT<T> initial_parameters(const UnrolledSpec& spec, double tau, double sigma) {
  spec.validate();
  const Index n = spec.n, m = spec.num_stepsizes();
  VectorT<T> theta(spec.num_parameters());
  const MatrixT<T> k = dct_matrix<T>(n).transpose();
  std::copy(k.data(), k.data() + n * n, theta.data());
  theta.segment(n * n, m).setConstant(static_cast<T>(softplus_inverse(tau)));
  theta.segment(n * n + m, m).setConstant(static_cast<T>(softplus_inverse(sigma)));
  return theta;
}

template <class T>
VectorT<T> extend_parameters(const UnrolledSpec& shallow, const VectorT<T>& theta, const UnrolledSpec& deep,
                             double tau_added, double sigma_added) {
  const char* w = "dequant::extend_parameters";
  shallow.validate();
  deep.validate();
  require(shallow.sharing == StepsizeSharing::PerIteration && deep.sharing == StepsizeSharing::PerIteration, w,
          "warm start needs one step-size pair per iteration (not shared)");
  require(shallow.n == deep.n && shallow.project_output == deep.project_output, w,
          "the networks differ in n or projection");
  require(deep.depth > shallow.depth, w,
          "depth " + std::to_string(deep.depth) + " is not deeper than " + std::to_string(shallow.depth));
  require(theta.size() == shallow.num_parameters(), w, "theta does not fit the shallower network");
  require(std::isfinite(tau_added) && tau_added > 0 && std::isfinite(sigma_added) && sigma_added > 0, w,
          "the added step sizes must be > 0");
  const Index n = shallow.n, m0 = shallow.depth, m1 = deep.depth;
  VectorT<T> out(deep.num_parameters());
  out.head(n * n) = theta.head(n * n);
  out.segment(n * n, m0) = theta.segment(n * n, m0);
  out.segment(n * n + m0, m1 - m0).setConstant(static_cast<T>(softplus_inverse(tau_added)));
  out.segment(n * n + m1, m0) = theta.segment(n * n + m0, m0);
  out.segment(n * n + m1 + m0, m1 - m0).setConstant(static_cast<T>(softplus_inverse(sigma_added)));
  return out;
}

template <class T> UnrolledParameters unpack(const UnrolledSpec& spec, const VectorT<T>& theta) {
  spec.validate();
  require(theta.size() == spec.num_parameters(), "dequant::unpack",
          "theta has " + std::to_string(theta.size()) + " entries, the network " +
              std::to_string(spec.num_parameters()));
  const Index n = spec.n, m = spec.num_stepsizes();
  UnrolledParameters p;
  p.k = Eigen::Map<const MatrixT<T>>(theta.data(), n, n).template cast<double>();
  for (int i = 0; i < spec.depth; ++i) {
    const Index j = spec.sharing == StepsizeSharing::Shared ? 0 : i;
    p.tau.push_back(softplus(static_cast<double>(theta(n * n + j))));
    p.sigma.push_back(softplus(static_cast<double>(theta(n * n + m + j))));
  }
  return p;
}

namespace {

template <class T> struct Tape {
  std::vector<MatrixT<T>> xbar, p, v, y, w, z;  // per iteration k: inputs/intermediates
  MatrixT<T> x_final, pre_output;
};

template <class T>
void check_shapes(const UnrolledSpec& spec, const VectorT<T>& theta, const MatrixT<T>& s, const MatrixT<T>& l,
                  const MatrixT<T>& u, const char* where) {
  spec.validate();
  require(theta.size() == spec.num_parameters(), where,
          "theta has " + std::to_string(theta.size()) + " entries, expected " + std::to_string(spec.num_parameters()));
  require(s.rows() == spec.n && s.cols() >= 1, where,
          "frames must be n x B with n = " + std::to_string(spec.n) + " (got " + std::to_string(s.rows()) + " x " +
              std::to_string(s.cols()) + ")");
  require(l.rows() == s.rows() && l.cols() == s.cols() && u.rows() == s.rows() && u.cols() == s.cols(), where,
          "quantized, lower and upper must have the same shape");
}

template <class T>
MatrixT<T> forward(const UnrolledSpec& spec, const VectorT<T>& theta, const MatrixT<T>& s, const MatrixT<T>& l,
                   const MatrixT<T>& u, Tape<T>* tape) {
  const Index n = spec.n, m = spec.num_stepsizes();
  Eigen::Map<const MatrixT<T>> k(theta.data(), n, n);
  MatrixT<T> x = k.transpose() * s;
  MatrixT<T> xbar = x, y = MatrixT<T>::Zero(n, s.cols()), p(n, s.cols()), w(n, s.cols());
  if (tape) {
    for (auto* v : {&tape->xbar, &tape->p, &tape->v, &tape->y, &tape->w, &tape->z}) v->assign(spec.depth, MatrixT<T>());
  }
  for (int it = 0; it < spec.depth; ++it) {
    const Index j = spec.sharing == StepsizeSharing::Shared ? 0 : it;
    const T tau = static_cast<T>(softplus(static_cast<double>(theta(n * n + j))));
    const T sigma = static_cast<T>(softplus(static_cast<double>(theta(n * n + m + j))));
    p.noalias() = k * xbar;
    MatrixT<T> v = y + sigma * p;
    y = v - v.cwiseMax(sigma * l).cwiseMin(sigma * u);
    w.noalias() = k.transpose() * y;
    MatrixT<T> z = x - tau * w;
    MatrixT<T> xn = z.unaryExpr([tau](T a) { return soft_threshold(a, tau); });
    if (tape) {
      tape->xbar[it] = xbar;
      tape->p[it] = p;
      tape->v[it] = std::move(v);
      tape->y[it] = y;
      tape->w[it] = w;
      tape->z[it] = std::move(z);
    }
    xbar = T(2) * xn - x;
    x = std::move(xn);
  }
  MatrixT<T> out = k * x;
  if (tape) {
    tape->x_final = x;
    tape->pre_output = out;
  }
  if (spec.project_output) out = out.cwiseMax(l).cwiseMin(u);
  return out;
}

}  // namespace

template <class T>
MatrixT<T> unrolled_forward(const UnrolledSpec& spec, const VectorT<T>& theta, const MatrixT<T>& quantized,
                            const MatrixT<T>& lower, const MatrixT<T>& upper) {
  check_shapes(spec, theta, quantized, lower, upper, "dequant::unrolled_forward");
  return forward<T>(spec, theta, quantized, lower, upper, nullptr);
}

namespace {
// MSE of the network output and, when grad is non-null, its gradient by reverse mode.
template <class T>
T unrolled_loss(const UnrolledSpec& spec, const VectorT<T>& theta, const MatrixT<T>& s, const MatrixT<T>& l,
                const MatrixT<T>& u, const MatrixT<T>& clean, VectorT<T>* grad) {
  check_shapes(spec, theta, s, l, u, "dequant::unrolled_loss");
  require(clean.rows() == s.rows() && clean.cols() == s.cols(), "dequant::unrolled_loss",
          "clean frames must have the shape of the quantized frames");
  Tape<T> tape;
  const MatrixT<T> out = forward<T>(spec, theta, s, l, u, grad ? &tape : nullptr);
  const T scale = T(1) / static_cast<T>(s.size());
  const MatrixT<T> err = out - clean;
  const T loss = err.squaredNorm() * scale;
  if (!grad) return loss;

  const Index n = spec.n, m = spec.num_stepsizes();
  Eigen::Map<const MatrixT<T>> k(theta.data(), n, n);
  grad->setZero(theta.size());
  Eigen::Map<MatrixT<T>> gk(grad->data(), n, n);
  std::vector<double> gtau(m, 0.0), gsigma(m, 0.0);

  MatrixT<T> gout = T(2) * scale * err;
  if (spec.project_output) {
    const MatrixT<T>& r = tape.pre_output;
    for (Index i = 0; i < gout.size(); ++i)
      if (!(r(i) > l(i) && r(i) < u(i))) gout(i) = 0;
  }
  gk.noalias() += gout * tape.x_final.transpose();
  MatrixT<T> gx = k.transpose() * gout;
  MatrixT<T> gxbar = MatrixT<T>::Zero(n, s.cols()), gy = MatrixT<T>::Zero(n, s.cols());
  MatrixT<T> gz(n, s.cols()), gv(n, s.cols());
  for (int it = spec.depth - 1; it >= 0; --it) {
    const Index j = spec.sharing == StepsizeSharing::Shared ? 0 : it;
    const T tau = static_cast<T>(softplus(static_cast<double>(theta(n * n + j))));
    const T sigma = static_cast<T>(softplus(static_cast<double>(theta(n * n + m + j))));
    const MatrixT<T>& z = tape.z[it];
    const MatrixT<T>& w = tape.w[it];
    const MatrixT<T>& v = tape.v[it];
    const MatrixT<T>& p = tape.p[it];
    // x^k = soft(z), xbar^k = 2 x^k - x^{k-1}
    double dtau = 0, dsigma = 0;
    MatrixT<T> gxprev = -gxbar;
    for (Index i = 0; i < z.size(); ++i) {
      const T gxn = gx(i) + T(2) * gxbar(i);
      const T zi = z(i);
      T g = 0;
      if (zi > tau) { g = gxn; dtau -= gxn; }
      else if (zi < -tau) { g = gxn; dtau += gxn; }
      gz(i) = g;
      // z = x^{k-1} - tau w
      gxprev(i) += g;
      dtau -= static_cast<double>(g) * w(i);
    }
    // w = K^T y^k: gK -= tau y^k gz^T, gy^k += -tau K gz
    gk.noalias() -= tau * (tape.y[it] * gz.transpose());
    MatrixT<T> gyn = gy;
    gyn.noalias() -= tau * (k * gz);
    // y^k = v - clamp(v, sigma l, sigma u)
    for (Index i = 0; i < v.size(); ++i) {
      const T lo = sigma * l(i), hi = sigma * u(i);
      T g = 0;
      if (v(i) < lo) { g = gyn(i); dsigma -= static_cast<double>(gyn(i)) * l(i); }
      else if (v(i) > hi) { g = gyn(i); dsigma -= static_cast<double>(gyn(i)) * u(i); }
      gv(i) = g;
      // v = y^{k-1} + sigma p, p = K xbar^{k-1}
      dsigma += static_cast<double>(g) * p(i);
    }
    gy = gv;
    gk.noalias() += sigma * (gv * tape.xbar[it].transpose());
    gxbar.noalias() = sigma * (k.transpose() * gv);
    gx = std::move(gxprev);
    gtau[j] += dtau;
    gsigma[j] += dsigma;
  }
  // x^0 = K^T s, xbar^0 = x^0
  const MatrixT<T> gx0 = gx + gxbar;
  gk.noalias() += s * gx0.transpose();
  for (Index j = 0; j < m; ++j) {
    (*grad)(n * n + j) = static_cast<T>(gtau[j] * softplus_derivative(static_cast<double>(theta(n * n + j))));
    (*grad)(n * n + m + j) = static_cast<T>(gsigma[j] * softplus_derivative(static_cast<double>(theta(n * n + m + j))));
  }
  return loss;
}

}  // namespace

template <class T>
T UnrolledLoss<T>::evaluate_with_gradient(const VectorT<T>& theta, VectorT<T>& grad) const {
  return unrolled_loss<T>(spec_, theta, *s_, *l_, *u_, *c_, &grad);
}
template <class T>
T UnrolledLoss<T>::evaluate(const VectorT<T>& theta) const {
  return unrolled_loss<T>(spec_, theta, *s_, *l_, *u_, *c_, nullptr);
}

namespace {
template <class T>
UnrolledTrainResult train_impl(const UnrolledSpec& spec, const Vector& theta0, const DequantFrames& data,
                               const UnrolledTrainOptions& options, const optim::Observer& observer) {
  const auto start = std::chrono::steady_clock::now();
  const MatrixT<T> s = data.quantized.cast<T>(), l = data.lower.cast<T>(), u = data.upper.cast<T>(),
                   c = data.clean.cast<T>();
  const Index total = data.size();
  const Index batch = (options.batch_size == 0 || options.batch_size >= total) ? total : options.batch_size;
  VectorT<T> theta = theta0.cast<T>();
  UnrolledTrainResult r;
  // Monitor subset (fixed, seeded) and the best parameters so far.
  const Index mon = (options.monitor_frames == 0 || options.monitor_frames >= total) ? total : options.monitor_frames;
  std::vector<Index> mon_idx(total);
  std::iota(mon_idx.begin(), mon_idx.end(), Index{0});
  {
    Rng mrng(derive_seed(options.seed, SeedStream::MonitorSubset));
    std::shuffle(mon_idx.begin(), mon_idx.end(), mrng);
  }
  MatrixT<T> ms(spec.n, mon), ml(spec.n, mon), mu(spec.n, mon), mc(spec.n, mon);
  for (Index j = 0; j < mon; ++j) {
    ms.col(j) = s.col(mon_idx[j]);
    ml.col(j) = l.col(mon_idx[j]);
    mu.col(j) = u.col(mon_idx[j]);
    mc.col(j) = c.col(mon_idx[j]);
  }
  const UnrolledLoss<T> full(spec, s, l, u, c), monitor(spec, ms, ml, mu, mc);
  const int every = options.monitor_every > 0 ? options.monitor_every : std::max(1, options.adam.max_iterations / 20);
  VectorT<T> best_theta = theta;
  double best_loss = static_cast<double>(monitor.evaluate(theta));

  // The objective Adam sees: the loss on the next minibatch (seeded shuffle per epoch).
  Rng rng(options.seed);
  std::vector<Index> order(total);
  std::iota(order.begin(), order.end(), Index{0});
  Index cursor = total;
  MatrixT<T> bs(spec.n, batch), bl(spec.n, batch), bu(spec.n, batch), bc(spec.n, batch);
  const UnrolledLoss<T> on_batch(spec, bs, bl, bu, bc);
  const optim::Function<T> minibatch_loss([&](const VectorT<T>& th, VectorT<T>& g) -> T {
    if (batch == total) return full.evaluate_with_gradient(th, g);
    for (Index b = 0; b < batch; ++b) {
      if (cursor >= total) {
        std::shuffle(order.begin(), order.end(), rng);
        cursor = 0;
      }
      const Index col = order[cursor++];
      bs.col(b) = s.col(col);
      bl.col(b) = l.col(col);
      bu.col(b) = u.col(col);
      bc.col(b) = c.col(col);
    }
    return on_batch.evaluate_with_gradient(th, g);
  });
  // After each step: keep the best monitored iterate, then ask the caller.
  const optim::Observer keep_best = [&](const optim::Progress& p) {
    if (p.iteration % every == 0 || p.iteration == options.adam.max_iterations) {
      const double v = static_cast<double>(monitor.evaluate(theta));
      if (std::isfinite(v) && v < best_loss) {
        best_loss = v;
        best_theta = theta;
        r.best_step = p.iteration;
      }
    }
    return observer ? observer(p) : true;
  };
  r.optim = optim::Adam(options.adam).minimize<T>(minibatch_loss, theta, keep_best);
  theta = best_theta;
  r.final_loss = static_cast<double>(full.evaluate(theta));
  r.theta = theta.template cast<double>();
  r.optim.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}
}  // namespace

UnrolledTrainResult train_unrolled(const UnrolledSpec& spec, const Vector& theta0, const DequantFrames& data,
                                   const UnrolledTrainOptions& options, const optim::Observer& observer) {
  spec.validate();
  options.validate();
  require(theta0.size() == spec.num_parameters(), "dequant::train_unrolled", "theta0 has the wrong size");
  require(data.size() >= 1 && data.clean.rows() == spec.n, "dequant::train_unrolled",
          "training frames must be n x B with B >= 1");
  const ScopedThreads threads(options.threads);
  const FlushDenormals ftz;
  return options.float32 ? train_impl<float>(spec, theta0, data, options, observer)
                         : train_impl<double>(spec, theta0, data, options, observer);
}

#define VARLEARN_INSTANTIATE(T)                                                                                    \
  template VectorT<T> initial_parameters<T>(const UnrolledSpec&, double, double);                                  \
  template UnrolledParameters unpack<T>(const UnrolledSpec&, const VectorT<T>&);                                   \
  template VectorT<T> extend_parameters<T>(const UnrolledSpec&, const VectorT<T>&, const UnrolledSpec&, double,   \
                                           double);                                                                \
  template MatrixT<T> unrolled_forward<T>(const UnrolledSpec&, const VectorT<T>&, const MatrixT<T>&,             \
                                          const MatrixT<T>&, const MatrixT<T>&);                                   \
  template class UnrolledLoss<T>;
VARLEARN_INSTANTIATE(float)
VARLEARN_INSTANTIATE(double)
#undef VARLEARN_INSTANTIATE

}  // namespace varlearn::dequant
