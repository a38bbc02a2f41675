#include "varlearn/reg/potential.hpp"

#include <cmath>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/numerics.hpp"

namespace varlearn::reg {

namespace {
void check_epsilon(double epsilon, const char* where) {
  if (!(epsilon > 0) || !std::isfinite(epsilon))
    throw Error(std::string(where) + ": epsilon = " + format_general(epsilon) + " must be > 0 and finite");
}
}  // namespace

Potential::Potential(PotentialKind kind, double epsilon, bool learned)
    : kind_(kind), epsilon_(epsilon), learned_(learned) {
  check_epsilon(epsilon, "reg::Potential");
}

void Potential::set_epsilon(double epsilon) {
  check_epsilon(epsilon, "reg::Potential::set_epsilon");
  epsilon_ = epsilon;
}

double Potential::eta() const { return softplus_inverse(epsilon_); }
void Potential::set_eta(double eta) {
  if (!std::isfinite(eta)) throw Error(std::string("reg::Potential::set_eta: eta = ") + format_general(eta) + " is not finite");
  check_epsilon(softplus(eta), "reg::Potential::set_eta");
  epsilon_ = softplus(eta);
}
double Potential::depsilon_deta() const { return softplus_derivative(eta()); }

template <class T>
T Potential::value(T u) const {
  const T e = static_cast<T>(epsilon_);
  switch (kind_) {
    case PotentialKind::Huber: return std::abs(u) <= e ? u * u / (2 * e) : std::abs(u) - e / 2;
    case PotentialKind::Charbonnier: return std::hypot(u, e);
    case PotentialKind::Student: return std::log1p((u / e) * (u / e));
  }
  return T(0);
}

template <class T>
T Potential::first(T u) const {
  const T e = static_cast<T>(epsilon_);
  switch (kind_) {
    case PotentialKind::Huber: return std::abs(u) <= e ? u / e : (u > 0 ? T(1) : T(-1));
    case PotentialKind::Charbonnier: return u / std::hypot(u, e);
    case PotentialKind::Student: return 2 * u / (e * e + u * u);
  }
  return T(0);
}

template <class T>
T Potential::second(T u) const {
  const T e = static_cast<T>(epsilon_);
  switch (kind_) {
    case PotentialKind::Huber: return std::abs(u) <= e ? 1 / e : T(0);
    case PotentialKind::Charbonnier: {
      const T r = std::hypot(u, e);
      return e * e / (r * r * r);
    }
    case PotentialKind::Student: {
      const T s = e * e + u * u;
      return 2 * (e * e - u * u) / (s * s);
    }
  }
  return T(0);
}

// d/de of u^2/(2e) = -u^2/(2e^2); of |u| - e/2 = -1/2; of sqrt(u^2+e^2) = e/r;
// of log(1 + u^2/e^2) = -2u^2 / (e (e^2 + u^2)).
template <class T>
T Potential::value_eps(T u) const {
  const T e = static_cast<T>(epsilon_);
  switch (kind_) {
    case PotentialKind::Huber: return std::abs(u) <= e ? -u * u / (2 * e * e) : T(-0.5);
    case PotentialKind::Charbonnier: return e / std::hypot(u, e);
    case PotentialKind::Student: return -2 * u * u / (e * (e * e + u * u));
  }
  return T(0);
}

// d/de of u/e = -u/e^2 (outside: 0); of u/r = -u e / r^3; of 2u/(e^2+u^2) = -4ue/(e^2+u^2)^2.
template <class T>
T Potential::first_eps(T u) const {
  const T e = static_cast<T>(epsilon_);
  switch (kind_) {
    case PotentialKind::Huber: return std::abs(u) <= e ? -u / (e * e) : T(0);
    case PotentialKind::Charbonnier: {
      const T r = std::hypot(u, e);
      return -u * e / (r * r * r);
    }
    case PotentialKind::Student: {
      const T s = e * e + u * u;
      return -4 * u * e / (s * s);
    }
  }
  return T(0);
}

#define VARLEARN_REG_POTENTIAL(T)                  \
  template T Potential::value<T>(T) const;       \
  template T Potential::first<T>(T) const;       \
  template T Potential::second<T>(T) const;      \
  template T Potential::value_eps<T>(T) const;   \
  template T Potential::first_eps<T>(T) const;
VARLEARN_REG_POTENTIAL(float)
VARLEARN_REG_POTENTIAL(double)
#undef VARLEARN_REG_POTENTIAL

double Potential::max_abs_second() const {
  return kind_ == PotentialKind::Student ? 2 / (epsilon_ * epsilon_) : 1 / epsilon_;
}

std::string Potential::describe() const {
  std::string s = to_string(kind_);
  s.append("(eps=").append(format_general(epsilon_)).append(learned_ ? ", learned softplus)" : ", fixed)");
  return s;
}

}  // namespace varlearn::reg
