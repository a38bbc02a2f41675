#pragma once
/// \file potential.hpp
/// Scalar potentials \f$\varphi_\varepsilon(u)\f$ of the analysis, fields-of-experts and tv
/// regularizers, with the derivatives the engine needs: \f$\varphi, \varphi', \varphi''\f$ and
/// \f$\partial_\varepsilon\varphi, \partial_\varepsilon\varphi'\f$ (for a learned \f$\varepsilon\f$).
/// A learned \f$\varepsilon\f$ is parametrized as \f$\varepsilon = \mathrm{softplus}(\eta)\f$.
#include <string>

#include "varlearn/core/names.hpp"

namespace varlearn::reg {

/// - Huber: \f$u^2/(2\varepsilon)\f$ for \f$|u|\le\varepsilon\f$, \f$|u|-\varepsilon/2\f$ outside (C¹, convex);
/// - Charbonnier: \f$\sqrt{u^2+\varepsilon^2}\f$ (smooth, convex);
/// - Student: \f$\log(1+u^2/\varepsilon^2)\f$ (smooth, nonconvex for \f$|u|>\varepsilon\f$).
enum class PotentialKind { Huber, Charbonnier, Student };
inline constexpr NameTable<PotentialKind, 3> kPotentialNames{{{PotentialKind::Huber, "huber"},
                                                              {PotentialKind::Charbonnier, "charbonnier"},
                                                              {PotentialKind::Student, "student"}}};
inline const char* to_string(PotentialKind k) { return name_of(kPotentialNames, k); }
inline PotentialKind parse_potential(const std::string& s) { return parse_name(kPotentialNames, s, "potential"); }

/// One potential with its scale \f$\varepsilon > 0\f$, fixed or learned
/// (\f$\varepsilon = \mathrm{softplus}(\eta)\f$, one parameter \f$\eta\f$).
class Potential {
public:
  /// Throws Error unless epsilon > 0 finite.
  Potential(PotentialKind kind, double epsilon, bool learned = false);
  static Potential huber(double epsilon, bool learned = false) { return {PotentialKind::Huber, epsilon, learned}; }
  static Potential charbonnier(double epsilon, bool learned = false) { return {PotentialKind::Charbonnier, epsilon, learned}; }
  static Potential student(double epsilon, bool learned = false) { return {PotentialKind::Student, epsilon, learned}; }

  PotentialKind kind() const { return kind_; }
  double epsilon() const { return epsilon_; }
  bool learned() const { return learned_; }
  /// Sets \f$\varepsilon\f$ (throws Error unless > 0 finite).
  void set_epsilon(double epsilon);
  /// \f$\eta = \mathrm{softplus}^{-1}(\varepsilon)\f$: the learned parameter.
  double eta() const;
  /// \f$\varepsilon \leftarrow \mathrm{softplus}(\eta)\f$ (throws Error if the result is not > 0 finite).
  void set_eta(double eta);
  /// \f$d\varepsilon/d\eta = \sigma(\eta)\f$ at the current \f$\eta\f$.
  double depsilon_deta() const;

  /// The kernels, for T = float or double (computed in T, ε rounded to T).
  template <class T> T value(T u) const;   ///< \f$\varphi(u)\f$
  template <class T> T first(T u) const;   ///< \f$\varphi'(u)\f$
  /// \f$\varphi''(u)\f$ (huber: 1/ε inside, 0 outside; at |u| = ε: 1/ε)
  template <class T> T second(T u) const;
  template <class T> T value_eps(T u) const;  ///< \f$\partial_\varepsilon\varphi(u)\f$
  template <class T> T first_eps(T u) const;  ///< \f$\partial_\varepsilon\varphi'(u)\f$
  /// \f$\sup_u |\varphi''(u)|\f$: 1/ε (huber, charbonnier), 2/ε² (student, at u = 0).
  double max_abs_second() const;
  bool convex() const { return kind_ != PotentialKind::Student; }
  /// e.g. "huber(eps=0.02, learned)".
  std::string describe() const;

private:
  PotentialKind kind_;
  double epsilon_;
  bool learned_;
};

}  // namespace varlearn::reg
