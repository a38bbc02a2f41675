// varlearn eval: evaluate a trained checkpoint: exact population risk on a toy data model (and
// the theory optimum of its class), and/or the loss on frames from files.
#include <cmath>
#include <memory>

#include "commands.hpp"
#include "options.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/learn/learn.hpp"
#include "varlearn/theory/optimal.hpp"

namespace varlearn::cli {
namespace {
using nlohmann::json;
using namespace varlearn::learn;
struct EvalCli {
  std::string model, data = "constant", clean_file, noisy_file, denoiser_out;
  double mu = 1.0, theta = 0.0, rho = 0.5, sigma = 0.9;
  unsigned long long seed = 1;
  bool json = false;
};
}  // namespace

void add_eval(CLI::App& app) {
  auto o = std::make_shared<EvalCli>();
  auto* sub = app.add_subcommand("eval", "Evaluate a trained model checkpoint (from varlearn train --save)");
  sub->add_option("--model", o->model, "Checkpoint file (JSON)")->required();
  sub->add_option("--data", o->data, "Data model for the exact population risk: constant, iid, ar1, or file (--clean)")
      ->check(CLI::IsMember({"constant", "iid", "ar1", "file"}))->capture_default_str();
  sub->add_option("--mu", o->mu, "Mean mu of the clean signal")->capture_default_str();
  sub->add_option("--theta", o->theta, "Standard deviation theta of the clean signal")->capture_default_str();
  sub->add_option("--rho", o->rho, "AR(1) correlation rho")->capture_default_str();
  sub->add_option("--sigma", o->sigma, "Noise standard deviation sigma > 0")->capture_default_str();
  sub->add_option("--clean", o->clean_file, "Clean frames (n x B): with --data file, also the loss on them");
  sub->add_option("--noisy", o->noisy_file, "Noisy frames matching --clean (default clean + N(0, sigma^2), --seed)");
  sub->add_option("--seed", o->seed, "Seed of the noise draw")->capture_default_str();
  sub->add_option("--denoiser", o->denoiser_out, "Write the denoiser matrix T_R (n x n) to this text file");
  sub->add_flag("--json", o->json, "Print one JSON object");
  sub->callback([o] {
    const EvalCli& c = *o;
    if (!(std::isfinite(c.sigma) && c.sigma > 0)) throw Error("--sigma must be > 0");
    const LoadedModel lm = load_model(c.model);
    const QuadraticModel& m = lm.model;
    const Index n = m.spec().n;
    json j;
    j["model"] = c.model;
    j["spec"] = m.spec().describe();
    j["n"] = n;
    j["k"] = m.spec().rank;
    if (m.spec().method == Method::Unrolled) j["stepsize"] = m.stepsize();
    Matrix clean;
    if (!c.clean_file.empty()) clean = read_frames(c.clean_file, n);
    SampleModel sm;
    if (c.data == "file") {
      if (clean.size() == 0) throw Error("--data file needs --clean FILE");
      sm = SampleModel::gaussian(empirical_second_moment(clean));
    } else {
      sm = SampleModel::from_name(c.data, n, c.mu, c.theta, c.rho);
    }
    const theory::DataModel truth = sm.to_theory();
    j["data"] = c.data;
    j["sigma"] = c.sigma;
    j["population_risk"] = population_risk(m, truth, c.sigma);
    if (m.spec().rank <= n) {
      const auto opt = theory_optimum(m, truth, c.sigma);
      j["optimal_risk"] = opt.risk;
      j["risk_ratio"] = opt.risk > 0 ? j["population_risk"].get<double>() / opt.risk : 1.0;
    }
    j["linear_risk"] = theory::best_linear(truth, c.sigma).risk;
    if (clean.size() > 0) {
      Matrix noisy;
      if (!c.noisy_file.empty()) {
        noisy = read_frames(c.noisy_file, n);
        if (noisy.cols() != clean.cols())
          throw Error("--noisy has " + std::to_string(noisy.cols()) + " frames, --clean " +
                      std::to_string(clean.cols()));
      } else {
        Rng rng(c.seed);
        noisy = add_noise(clean, c.sigma, rng);
      }
      j["frames"] = clean.cols();
      j["frames_loss"] = loss(m, noisy, clean);  // 1/(2B) ||T X - Y||_F^2
      j["frames_mse"] = 2.0 * j["frames_loss"].get<double>() / static_cast<double>(n);
    }
    if (!c.denoiser_out.empty()) {
      io::write_atomic(c.denoiser_out, io::format_matrix(m.denoiser()));
      j["denoiser"] = c.denoiser_out;
    }
    print_result(j, c.json);
  });
}
}  // namespace varlearn::cli
