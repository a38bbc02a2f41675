#include "varlearn/learn/stepsize.hpp"

#include <cmath>

#include "varlearn/core/error.hpp"
#include "varlearn/core/names.hpp"
#include "varlearn/core/numerics.hpp"

namespace varlearn::learn {

namespace {
constexpr NameTable<StepsizeMode, 3> kStepsizeModeNames{{{StepsizeMode::Fixed, "fixed"}, {StepsizeMode::Learned, "learned"},
                                                         {StepsizeMode::PerIteration, "per-iteration"}}};
}  // namespace

const char* to_string(StepsizeMode m) { return name_of(kStepsizeModeNames, m); }
StepsizeMode parse_stepsize_mode(const std::string& s) { return parse_name(kStepsizeModeNames, s, "stepsize mode"); }

Index StepsizePolicy::count() const {
  if (depth_ == 0 || mode_ == StepsizeMode::Fixed) return 0;
  return mode_ == StepsizeMode::PerIteration ? depth_ : 1;
}
Index StepsizePolicy::num_stored() const {
  if (depth_ == 0) return 0;
  return mode_ == StepsizeMode::PerIteration ? depth_ : 1;
}

template <class Real>
std::vector<Real> StepsizePolicy::to_omega(const Real* alpha, const std::vector<double>& fixed,
                                           const char* where) const {
  const int N = depth_;
  std::vector<Real> omega(static_cast<size_t>(N));
  switch (mode_) {
    case StepsizeMode::Fixed:
      require(fixed.size() == 1 || fixed.size() == static_cast<size_t>(N), where,
              "fixed stepsize: need 1 or N = " + std::to_string(N) + " values, got " +
                  std::to_string(fixed.size()));
      for (int j = 0; j < N; ++j) {
        const double w = fixed.size() == 1 ? fixed[0] : fixed[static_cast<size_t>(j)];
        require(std::isfinite(w) && w > 0, where, "fixed stepsize must be > 0");
        omega[static_cast<size_t>(j)] = static_cast<Real>(w);
      }
      break;
    case StepsizeMode::Learned: {
      const double a = static_cast<double>(alpha[0]);
      for (auto& w : omega) w = static_cast<Real>(softplus(a));
      break;
    }
    case StepsizeMode::PerIteration:
      for (int j = 0; j < N; ++j) omega[static_cast<size_t>(j)] = static_cast<Real>(softplus(static_cast<double>(alpha[j])));
      break;
  }
  return omega;
}

template <class Real>
std::vector<double> StepsizePolicy::d_omega(const Real* alpha) const {
  std::vector<double> d;
  for (Index i = 0; i < count(); ++i) d.push_back(softplus_derivative(static_cast<double>(alpha[i])));
  return d;
}

void StepsizePolicy::to_alpha(const std::vector<double>& stored, double* alpha) const {
  for (Index i = 0; i < count(); ++i) alpha[i] = softplus_inverse(stored[static_cast<size_t>(i)]);
}

void StepsizePolicy::from_alpha(const double* alpha, std::vector<double>& stored) const {
  for (Index i = 0; i < count(); ++i) stored[static_cast<size_t>(i)] = softplus(alpha[i]);
}

template <class Real>
void StepsizePolicy::chain(const std::vector<double>& gw, const std::vector<double>& dw, Real* grad_alpha) const {
  if (count() == 0) return;
  if (mode_ == StepsizeMode::Learned) {
    double s = 0;
    for (double g : gw) s += g;
    grad_alpha[0] = static_cast<Real>(s * dw[0]);
  } else {
    for (int j = 0; j < depth_; ++j)
      grad_alpha[j] = static_cast<Real>(gw[static_cast<size_t>(j)] * dw[static_cast<size_t>(j)]);
  }
}

std::vector<double> StepsizePolicy::expand(const std::vector<double>& stored) const {
  std::vector<double> w(static_cast<size_t>(depth_));
  for (int j = 0; j < depth_; ++j) w[static_cast<size_t>(j)] = stored.size() == 1 ? stored[0] : stored[static_cast<size_t>(j)];
  return w;
}

template std::vector<float> StepsizePolicy::to_omega(const float*, const std::vector<double>&, const char*) const;
template std::vector<double> StepsizePolicy::to_omega(const double*, const std::vector<double>&, const char*) const;
template std::vector<double> StepsizePolicy::d_omega(const float*) const;
template std::vector<double> StepsizePolicy::d_omega(const double*) const;
template void StepsizePolicy::chain(const std::vector<double>&, const std::vector<double>&, float*) const;
template void StepsizePolicy::chain(const std::vector<double>&, const std::vector<double>&, double*) const;

}  // namespace varlearn::learn
