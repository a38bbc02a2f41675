#include "varlearn/learn/evaluate.hpp"

#include "varlearn/core/error.hpp"
#include "varlearn/theory/risk.hpp"

namespace varlearn::learn {

double population_risk(const QuadraticModel& model, const theory::DataModel& data, double noise_std) {
  require(data.n() == model.spec().n, "population_risk",
          "data model n = " + std::to_string(data.n()) + " but model n = " + std::to_string(model.spec().n));
  return theory::risk(data, noise_std, model.denoiser()).total();
}

namespace {
theory::OptimalRisk optimum(const ModelSpec& s, double omega, const theory::DataModel& data, double sigma,
                            bool with_r) {
  require(s.rank <= s.n, "theory optimum", "rank k = " + std::to_string(s.rank) + " exceeds n = " +
                                                std::to_string(s.n));
  theory::OptimalOptions opt;
  opt.with_regularizer = with_r;
  if (s.method == Method::Bilevel) return theory::best_bilevel(data, sigma, s.rank, opt);
  if (s.stepsize_mode == StepsizeMode::Fixed)
    return theory::best_unrolled(data, sigma, s.rank, s.depth, omega, opt);
  return theory::best_unrolled_learned(data, sigma, s.rank, s.depth, opt);
}
}  // namespace

theory::OptimalRisk theory_optimum(const QuadraticModel& model, const theory::DataModel& data,
                                   double noise_std, bool with_regularizer) {
  return optimum(model.spec(), model.stepsize(), data, noise_std, with_regularizer);
}

QuadraticModel model_at_theory_optimum(const ModelSpec& spec, const theory::DataModel& data,
                                       double noise_std, double fixed_stepsize) {
  spec.validate();
  const auto r = optimum(spec, fixed_stepsize, data, noise_std, true);
  double w = fixed_stepsize;
  if (spec.method == Method::Unrolled && spec.stepsize_mode != StepsizeMode::Fixed) {
    require(r.stepsize > 0, "init from theory",
            "the optimum is only approached as omega -> 0+ (not attained); use a random init");
    w = r.stepsize;
  }
  return QuadraticModel::from_regularizer(spec, r.regularizer, {w});
}

}  // namespace varlearn::learn
