#include "varlearn/general/model.hpp"

#include <cmath>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/core/range.hpp"
#include "varlearn/reg/reg.hpp"

namespace varlearn::general {

namespace {

bool one_of(const std::string& s, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (s == n) return true;
  return false;
}

}  // namespace

void RegularizerSpec::validate(Index n) const {
  if (!one_of(kind, {"quadratic", "tv", "analysis", "foe"}))
    throw Error(std::string("--regularizer: unknown regularizer ") + quote_for_message(kind) +
                " (expected quadratic, tv, analysis or foe)");
  if (filters < 0) throw_out_of_range("--filters", "filters J", double(filters), "J >= 1");
  if (filter_length < 0) throw_out_of_range("--filter-length", "filter length L", double(filter_length), "L >= 1");
  require(kind != "tv" || filters == 0, "--filters", "tv has no filters (its K is the fixed first differences)");
  require(kind == "foe" || filter_length == 0, "--filter-length",
          "the filter length applies to --regularizer foe only (got " + kind + ")");
  if (has_potential()) {
    reg::parse_potential(potential);  // "unknown potential 'x' (expected huber, charbonnier or student)"
  }
  if (epsilon != 0 || !std::isfinite(epsilon)) {
    require(has_potential(), "--epsilon", "the quadratic regularizer has no potential");
    if (!(epsilon > 0) || !std::isfinite(epsilon))
      throw_out_of_range("--epsilon", "epsilon", epsilon, "epsilon > 0, finite");
  }
  require(has_potential() || !learn_epsilon, "--learn-epsilon", "the quadratic regularizer has no potential");
  if (!(weight > 0) || !std::isfinite(weight)) throw_out_of_range("regularizer", "initial weight a", weight, "a > 0");
  if (!(scale >= 0) || !std::isfinite(scale)) throw_out_of_range("--init-scale", "initialization scale", scale, "scale >= 0");
  const std::string in = resolved_init();
  if (kind == "quadratic") require(one_of(in, {"random", "differences"}), "regularizer init", "quadratic: random or differences, got " + quote_for_message(in));
  if (kind == "analysis") require(one_of(in, {"dct", "differences", "random"}), "regularizer init", "analysis: dct, differences or random, got " + quote_for_message(in));
  if (kind == "foe") require(in == "random", "regularizer init", "foe: random, got " + quote_for_message(in));
  if (kind == "tv") require(in.empty(), "regularizer init", "tv has only its weight");
  if (kind == "foe") require(scale > 0, "--init-scale", "foe filters need a scale > 0");
  if (n > 0) {
    const Index m = resolved_filters(n);
    if ((kind == "quadratic" || kind == "analysis") && in == "differences")
      require(n >= 2 && m <= n - 1, "--filters",
              "first-difference rows: at most n - 1 = " + std::to_string(n - 1) + " (got " + std::to_string(m) + ")");
    if (kind == "analysis" && in == "dct")
      require(m <= n, "--filters", "DCT rows: at most n = " + std::to_string(n) + " (got " + std::to_string(m) + ")");
    if (kind == "tv") require(n >= 2, "--regularizer", "tv needs frames of n >= 2 samples");
  }
}

double RegularizerSpec::resolved_epsilon(double signal_scale) const {
  if (epsilon > 0) return epsilon;
  const double s = (signal_scale > 0 && std::isfinite(signal_scale)) ? signal_scale : 1.0;
  return kDefaultRelativeEpsilon * s;
}

Index RegularizerSpec::resolved_filters(Index n) const {
  if (kind == "tv") return 0;
  if (filters > 0) return filters;
  if (kind == "foe") return kDefaultFoeFilters;
  if (resolved_init() == "differences") return n - 1;
  return n;
}

Index RegularizerSpec::resolved_filter_length() const {
  if (kind != "foe") return 0;
  return filter_length > 0 ? filter_length : kDefaultFoeLength;
}

std::string RegularizerSpec::resolved_init() const {
  if (!init.empty()) return init;
  if (kind == "quadratic" || kind == "foe") return "random";
  if (kind == "analysis") return "dct";
  return "";
}

std::string RegularizerSpec::describe(Index n, double signal_scale) const {
  std::string s = kind;
  if (kind != "tv") s += " J=" + std::to_string(resolved_filters(n));
  if (kind == "foe") s += " L=" + std::to_string(resolved_filter_length());
  if (has_potential()) {
    s += " " + potential + " eps=" + format_general(resolved_epsilon(signal_scale), 6);
    if (learn_epsilon) s += " (learned)";
    s += " weight=" + format_general(weight, 6);
  }
  if (!resolved_init().empty()) s += " init " + resolved_init();
  return s;
}

template <class T>
std::unique_ptr<reg::Regularizer<T>> make_regularizer_as(const RegularizerSpec& spec, Index n, std::uint64_t seed,
                                                         double signal_scale) {
  require(n >= 1, "make_regularizer", "n = " + std::to_string(n) + " must be >= 1");
  spec.validate(n);
  const Index m = spec.resolved_filters(n);
  const std::string init = spec.resolved_init();
  if (spec.kind == "quadratic") {
    Matrix r;
    if (init == "differences") {
      r = reg::Analysis<double>::difference_rows(m, n);
    } else {
      Rng rng(seed);  // today's random R = scale G / sqrt(n)
      r = gaussian_matrix(m, n, spec.scale / std::sqrt(double(n)), rng);
    }
    return std::make_unique<reg::Quadratic<T>>(r.cast<T>());
  }
  const reg::Potential phi(reg::parse_potential(spec.potential), spec.resolved_epsilon(signal_scale),
                           spec.learn_epsilon);
  if (spec.kind == "tv") return std::make_unique<reg::Tv<T>>(n, spec.weight, phi);
  if (spec.kind == "analysis") {
    reg::AnalysisOptions o;
    o.filters = m;
    o.init = parse_name(reg::kAnalysisInitNames, init, "analysis initialization");
    o.weight = spec.weight;
    o.scale = spec.scale;
    o.seed = seed;
    return std::make_unique<reg::Analysis<T>>(reg::Analysis<T>::make(n, o, phi));
  }
  // foe: "same" boundary (n outputs per filter: any L, any n).
  return std::make_unique<reg::Foe<T>>(reg::Foe<T>::random(n, m, spec.resolved_filter_length(), reg::Boundary::Same,
                                                           phi, spec.weight, spec.scale, seed));
}

std::unique_ptr<reg::Regularizer<double>> make_regularizer(const RegularizerSpec& spec, Index n, std::uint64_t seed,
                                                           double signal_scale) {
  return make_regularizer_as<double>(spec, n, seed, signal_scale);
}

template std::unique_ptr<reg::Regularizer<float>> make_regularizer_as<float>(const RegularizerSpec&, Index,
                                                                            std::uint64_t, double);
template std::unique_ptr<reg::Regularizer<double>> make_regularizer_as<double>(const RegularizerSpec&, Index,
                                                                              std::uint64_t, double);

}  // namespace varlearn::general
