#pragma once
/// \file model.hpp
/// The regularizer of a general learning run, as a spec (what `varlearn train --regularizer
/// ... --filters ... --potential ... --epsilon ...` says) and its factory. Operators come from
/// ops::parse_operator (ops/model.hpp).
///
///   general::RegularizerSpec s;  s.kind = "foe";  s.filters = 8;  s.filter_length = 7;
///   s.potential = "student";      s.epsilon = 0.05;
///   s.validate();                                        // Error naming the flag
///   auto r = general::make_regularizer(s, 64, seed);     // reg::Regularizer<double>
#include <cstdint>
#include <memory>
#include <string>

#include "varlearn/core/types.hpp"
#include "varlearn/reg/regularizer.hpp"

namespace varlearn::general {

/// Default initial weight \f$a\f$ of analysis, fields-of-experts and tv (all groups).
inline constexpr double kDefaultRegularizerWeight = 0.1;
/// Default \f$\varepsilon\f$ relative to the signal scale s (the RMS of the clean training
/// frames): \f$\varepsilon = 0.05\,s\f$ (s = 1 when unknown).
inline constexpr double kDefaultRelativeEpsilon = 0.05;
/// Default number of fields-of-experts filters J and their length L.
inline constexpr Index kDefaultFoeFilters = 8;
inline constexpr Index kDefaultFoeLength = 7;

/// What regularizer to learn and where it starts.
struct RegularizerSpec {
  /// `quadratic` \f$\tfrac12\|RF\|^2\f$ (R: filters x n), `tv` (one weight on first differences),
  /// `analysis` (dense K: filters x n), `foe` (fields of experts: filters convolution filters).
  std::string kind = "analysis";
  /// Rows of R (quadratic) or of K (analysis), filters J (foe); 0 = default (n; foe 8).
  /// tv has none (must be 0).
  Index filters = 0;
  /// L, taps of each foe filter; 0 = default 7 (foe only).
  Index filter_length = 0;
  /// \f$\varphi\f$: huber | charbonnier | student (analysis, foe, tv).
  std::string potential = "huber";
  /// \f$\varepsilon > 0\f$; 0 = default \f$0.05\,s\f$ for the signal scale s (resolved_epsilon()).
  double epsilon = 0;
  /// Learn \f$\varepsilon = \mathrm{softplus}(\eta)\f$ too.
  bool learn_epsilon = false;
  /// Initialization: quadratic `random` (R = scale G/sqrt(n), default) | `differences`;
  /// analysis `dct` (default: the first rows of the orthonormal DCT-II) | `differences` |
  /// `random`; foe `random` (zero-mean filters scale G/sqrt(L)); tv: "" (only the weight).
  /// "" = the kind's default.
  std::string init;
  /// Initial weight \f$a > 0\f$ of every group (analysis, foe, tv).
  double weight = kDefaultRegularizerWeight;
  /// Scale of a random initialization (quadratic random, analysis random, foe), >= 0 (foe > 0).
  double scale = 1.0;

  /// Throws Error naming the flag (--regularizer, --filters, --filter-length, --potential,
  /// --epsilon) for an unknown name, a field that does not apply to the kind, or a value out
  /// of range. `n` > 0 also checks the sizes against the frame length.
  void validate(Index n = 0) const;
  /// \f$\varepsilon\f$ to use for signal scale s: epsilon, or 0.05 s when 0 (s <= 0 or not
  /// finite: s = 1).
  double resolved_epsilon(double signal_scale = 1.0) const;
  /// The resolved filter count (n for quadratic/analysis, 8 for foe, 0 for tv).
  Index resolved_filters(Index n) const;
  /// The resolved filter length (foe: 7 by default; 0 otherwise).
  Index resolved_filter_length() const;
  /// The resolved initialization name.
  std::string resolved_init() const;
  /// Whether the kind has a potential (analysis, foe, tv).
  bool has_potential() const { return kind != "quadratic"; }
  /// One line, e.g. "foe J=8 L=7 student eps=0.05 (learned) init random".
  std::string describe(Index n, double signal_scale = 1.0) const;
};

/// The regularizer of `spec` for frames of n samples (randomness from `seed`), scalar T =
/// float or double; epsilon resolved with `signal_scale`. Validates the spec.
template <class T>
std::unique_ptr<reg::Regularizer<T>> make_regularizer_as(const RegularizerSpec& spec, Index n, std::uint64_t seed,
                                                         double signal_scale = 1.0);
/// make_regularizer_as<double>.
std::unique_ptr<reg::Regularizer<double>> make_regularizer(const RegularizerSpec& spec, Index n, std::uint64_t seed,
                                                           double signal_scale = 1.0);

extern template std::unique_ptr<reg::Regularizer<float>> make_regularizer_as<float>(const RegularizerSpec&, Index,
                                                                                   std::uint64_t, double);
extern template std::unique_ptr<reg::Regularizer<double>> make_regularizer_as<double>(const RegularizerSpec&, Index,
                                                                                     std::uint64_t, double);

}  // namespace varlearn::general
