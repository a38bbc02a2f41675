#include "varlearn/dequant/chambolle_pock.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "validate.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/gemm.hpp"
#include "varlearn/dequant/dct.hpp"

namespace varlearn::dequant {

void CpOptions::validate() const {
  const char* w = "dequant::CpOptions";
  require(std::isfinite(tau) && tau > 0, w, "tau must be > 0 (got " + std::to_string(tau) + ")");
  require(std::isfinite(sigma) && sigma > 0, w, "sigma must be > 0 (got " + std::to_string(sigma) + ")");
  require(max_iterations >= 1, w, "max_iterations = N must be >= 1 (got " + std::to_string(max_iterations) + ")");
  require(std::isfinite(gap_tolerance) && gap_tolerance >= 0, w, "gap_tolerance must be >= 0");
  require(check_every >= 1, w, "check_every must be >= 1");
  require(threads >= 0, w, "threads must be >= 0");
}

template <class T>
void cp_iteration(const MatrixT<T>& k, const MatrixT<T>& lower, const MatrixT<T>& upper, T tau, T sigma,
                  CpState<T>& s) {
  // Dual step: v = y + sigma K xbar; y = v - clamp(v, sigma l, sigma u). The two products are
  // the iteration's work (4 n^2 B flops against O(n B) for the rest): core/gemm.hpp's backend.
  gemm(T(1), k, false, s.xbar, false, T(0), s.work);
  const Index size = s.y.size();
  T* y = s.y.data();
  const T* w = s.work.data();
  const T* l = lower.data();
  const T* u = upper.data();
  for (Index i = 0; i < size; ++i) {
    const T v = y[i] + sigma * w[i];
    const T lo = sigma * l[i], hi = sigma * u[i];
    y[i] = v < lo ? v - lo : (v > hi ? v - hi : T(0));
  }
  // Primal step: x+ = soft_tau(x - tau K^T y); xbar = 2 x+ - x.
  gemm(T(1), k, true, s.y, false, T(0), s.work);
  T* x = s.x.data();
  T* xb = s.xbar.data();
  for (Index i = 0; i < size; ++i) {
    const T xn = soft_threshold(x[i] - tau * w[i], tau);
    xb[i] = T(2) * xn - x[i];
    x[i] = xn;
  }
}

namespace {
struct Bounds {
  Vector primal, dual;
  double max_gap = 0, max_rel_gap = 0;
};

// Certified bounds (K = C^T orthonormal): feasible primal C clamp(Kx), feasible dual y/max(1,|Cy|_inf).
Bounds certify(const Matrix& c, const Matrix& x, const Matrix& y, const Matrix& lower, const Matrix& upper) {
  const Index b = x.cols();
  Bounds out;
  out.primal.resize(b);
  out.dual.resize(b);
  Matrix z = (c.transpose() * x).cwiseMax(lower).cwiseMin(upper);
  Matrix xf = c * z;
  Matrix kty = c * y;
  for (Index j = 0; j < b; ++j) {
    out.primal(j) = xf.col(j).lpNorm<1>();
    const double scale = std::max(1.0, kty.col(j).lpNorm<Eigen::Infinity>());
    double d = 0;
    for (Index i = 0; i < y.rows(); ++i) {
      const double yi = y(i, j) / scale;
      d -= std::max(lower(i, j) * yi, upper(i, j) * yi);
    }
    out.dual(j) = d;
    const double gap = out.primal(j) - d;
    out.max_gap = std::max(out.max_gap, gap);
    out.max_rel_gap = std::max(out.max_rel_gap, gap / std::max(out.primal(j), 1e-12));
  }
  return out;
}
}  // namespace

namespace {
// Keeps the columns listed in `keep` (ascending) of m, in place.
void keep_columns(Matrix& m, const std::vector<Index>& keep) {
  for (size_t j = 0; j < keep.size(); ++j)
    if (static_cast<Index>(j) != keep[j]) m.col(static_cast<Index>(j)) = m.col(keep[j]);
  m.conservativeResize(Eigen::NoChange, static_cast<Index>(keep.size()));
}
}  // namespace

CpResult solve_l1_dequant(const Matrix& quantized, const Matrix& lower, const Matrix& upper,
                          const CpOptions& options, const optim::Observer& observer) {
  const auto start = std::chrono::steady_clock::now();
  options.validate();
  check_cells("dequant::solve_l1_dequant", quantized, lower, upper);
  const ScopedThreads threads(options.threads);
  const Index n = quantized.rows(), b = quantized.cols();
  const Matrix c = dct_matrix<double>(n);
  const Matrix k = c.transpose();

  CpState<double> st;
  st.x = options.init == CpInit::Adjoint ? Matrix(c * quantized) : Matrix::Zero(n, b);
  st.xbar = st.x;
  st.y = Matrix::Zero(n, b);
  st.work.resize(n, b);

  // Active set: frames whose certified gap met the tolerance are frozen (their x, y and
  // bounds stored) and dropped from the batch, so the slow tail costs only its own frames.
  CpResult r;
  Matrix x_out(n, b), y_out(n, b);
  r.primal.resize(b);
  r.dual.resize(b);
  std::vector<Index> active(static_cast<size_t>(b));
  for (Index j = 0; j < b; ++j) active[static_cast<size_t>(j)] = j;
  Matrix l_act = lower, u_act = upper;
  const bool fixed = options.gap_tolerance == 0;
  int it = 0;
  auto freeze = [&](const Bounds& bd, bool all) {
    std::vector<Index> keep;
    for (size_t j = 0; j < active.size(); ++j) {
      const Index jj = static_cast<Index>(j);
      const double gap = bd.primal(jj) - bd.dual(jj);
      const bool done = all || gap <= options.gap_tolerance * std::max(bd.primal(jj), 1e-12);
      if (done) {
        x_out.col(active[j]) = st.x.col(jj);
        y_out.col(active[j]) = st.y.col(jj);
        r.primal(active[j]) = bd.primal(jj);
        r.dual(active[j]) = bd.dual(jj);
      } else {
        keep.push_back(jj);
      }
    }
    if (keep.size() == active.size()) return;
    std::vector<Index> next;
    for (Index jj : keep) next.push_back(active[static_cast<size_t>(jj)]);
    for (Matrix* m : {&st.x, &st.xbar, &st.y, &l_act, &u_act}) keep_columns(*m, keep);
    st.work.resize(n, static_cast<Index>(keep.size()));
    active = std::move(next);
  };
  bool stopped = false;
  while (it < options.max_iterations && !active.empty()) {
    cp_iteration<double>(k, l_act, u_act, options.tau, options.sigma, st);
    ++it;
    if (!fixed && it % options.check_every == 0 && it < options.max_iterations) {
      const Bounds bd = certify(c, st.x, st.y, l_act, u_act);
      freeze(bd, false);
      if (observer) {
        optim::Progress p;
        p.iteration = it;
        p.max_iterations = options.max_iterations;
        p.residual = active.empty() ? 0.0 : bd.max_rel_gap;
        p.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (!observer(p)) {
          stopped = true;
          break;
        }
      }
    }
  }
  if (!active.empty()) freeze(certify(c, st.x, st.y, l_act, u_act), true);
  r.optim.iterations = it;
  for (Index j = 0; j < b; ++j) {
    const double gap = r.primal(j) - r.dual(j);
    r.max_gap = std::max(r.max_gap, gap);
    r.max_rel_gap = std::max(r.max_rel_gap, gap / std::max(r.primal(j), 1e-12));
  }
  r.optim.loss = r.primal.sum();
  if (!fixed && r.max_rel_gap <= options.gap_tolerance) {
    r.optim.status = optim::Status::Converged;
    r.optim.message = "every frame's relative duality gap is below gap_tolerance";
  } else if (stopped) {
    r.optim.status = optim::Status::Stopped;
    r.optim.message = "stopped by observer at iteration " + std::to_string(it);
  } else {
    r.optim.status = optim::Status::MaxIterations;
    r.optim.message = "reached max_iterations = " + std::to_string(options.max_iterations);
  }
  r.signal = k * x_out;
  if (options.project_output) r.signal = r.signal.cwiseMax(lower).cwiseMin(upper);
  r.max_cell_violation = max_cell_violation(r.signal, lower, upper);
  r.coefficients = std::move(x_out);
  r.optim.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

template void cp_iteration<float>(const MatrixT<float>&, const MatrixT<float>&, const MatrixT<float>&, float,
                                  float, CpState<float>&);
template void cp_iteration<double>(const MatrixT<double>&, const MatrixT<double>&, const MatrixT<double>&,
                                   double, double, CpState<double>&);

}  // namespace varlearn::dequant
