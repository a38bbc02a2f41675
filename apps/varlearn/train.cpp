// varlearn train: learn R (k x n) and the stepsize on a toy data model or on frames from files,
// then compare the trained model's exact population risk with the theory optimum.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "options.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/limits.hpp"
#include "varlearn/learn/learn.hpp"
#include "varlearn/optim/gradient_check.hpp"
#include "varlearn/theory/optimal.hpp"

namespace varlearn::cli {
namespace {
using nlohmann::json;
using namespace varlearn::learn;

struct TrainCli {
  std::string data = "constant";
  long long n = 50, k = 0, samples = 1000, batch = 0;
  double mu = 1.0, theta = 0.0, rho = 0.5, sigma = 0.9;
  std::string clean_file, noisy_file;
  std::string method = "unrolled", stepsize = "learned", objective = "empirical", optimizer = "auto";
  std::string precision = "float64", init = "random", save;
  int depth = 2, iterations = 0, patience = 0;
  double lr = 1e-2, init_scale = 1.0, init_stepsize = 0.5, validation = 0;
  unsigned long long seed = 1;
  bool json = false, hessian = false;
};

double parse_positive(const std::string& s, const char* flag) {
  char* end = nullptr;
  const double w = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || !std::isfinite(w) || !(w > 0))
    throw Error(std::string(flag) + " must be a number > 0, 'learned' or 'per-iteration' (got '" + s + "')");
  return w;
}

/// One-line progress on a terminal: iteration, loss, time left.
optim::Observer progress_line(bool enabled) {
  if (!enabled) return {};
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [last](const optim::Progress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (p.iteration == p.max_iterations || now - *last > std::chrono::milliseconds(200)) {
      *last = now;
      std::fprintf(stderr, "\r  iter %d/%d  loss %.6g  |grad| %.2e  %.1fs left   ", p.iteration,
                   p.max_iterations, p.loss, p.grad_norm, p.eta_s());
      std::fflush(stderr);
    }
    return true;
  };
}

}  // namespace

void add_train(CLI::App& app) {
  auto o = std::make_shared<TrainCli>();
  auto* sub = app.add_subcommand(
      "train",
      "Learn the regularizer R (k x n) and stepsize omega by bilevel optimization or unrolling;\n"
      "prints train_loss, population_risk (exact risk of the trained model) and optimal_risk (theory)");
  sub->add_option("--data", o->data, "Clean data: constant (y = lambda 1), iid, ar1, or file (--clean)")
      ->check(CLI::IsMember({"constant", "iid", "ar1", "file"}))->capture_default_str();
  sub->add_option("--n", o->n, "Signal dimension n (ignored for --data file)")->capture_default_str();
  sub->add_option("--k", o->k, "Rank k of R (k x n), 1 <= k <= n; 0 = n")->capture_default_str();
  sub->add_option("--mu", o->mu, "Mean mu of the clean signal")->capture_default_str();
  sub->add_option("--theta", o->theta, "Standard deviation theta of the clean signal")->capture_default_str();
  sub->add_option("--rho", o->rho, "AR(1) correlation rho, |rho| < 1 (--data ar1)")->capture_default_str();
  sub->add_option("--sigma", o->sigma, "Noise standard deviation sigma > 0")->capture_default_str();
  sub->add_option("--samples", o->samples, "Training samples B (frames) >= 1 (not used by --objective expected)")
      ->capture_default_str();
  sub->add_option("--clean", o->clean_file, "Clean frames file (one frame per column, n x B) for --data file");
  sub->add_option("--noisy", o->noisy_file, "Noisy frames file matching --clean (default: clean + N(0, sigma^2))");
  sub->add_option("--method", o->method, "bilevel (z = (I + R^T R)^-1 x) or unrolled (N gradient steps from z^0 = 0)")
      ->check(CLI::IsMember({"bilevel", "unrolled"}))->capture_default_str();
  sub->add_option("--depth", o->depth, "Unrolling depth N >= 1")->capture_default_str();
  sub->add_option("--stepsize", o->stepsize,
                  "Stepsize omega: a fixed number > 0, 'learned' (omega = softplus(alpha)), or 'per-iteration'")
      ->capture_default_str();
  sub->add_option("--objective", o->objective,
                  "empirical (B noisy/clean pairs), expected (exact expectation over the noise: the population "
                  "risk itself), sampled (fresh noise for every minibatch, Adam)")
      ->check(CLI::IsMember({"empirical", "expected", "sampled"}))->capture_default_str();
  sub->add_option("--optimizer", o->optimizer, "lbfgs, adam, or auto (lbfgs; adam for sampled/minibatches)")
      ->check(CLI::IsMember({"auto", "lbfgs", "adam"}))->capture_default_str();
  sub->add_option("--iterations", o->iterations, "Optimizer iterations; 0 = auto (lbfgs 1000, adam 3000)")
      ->capture_default_str();
  sub->add_option("--lr", o->lr, "Adam learning rate eta")->capture_default_str();
  sub->add_option("--batch", o->batch, "Minibatch size (Adam; 0 = full batch)")->capture_default_str();
  sub->add_option("--validation", o->validation, "Fraction of frames held out for validation, in [0, 0.9]")
      ->capture_default_str();
  sub->add_option("--patience", o->patience, "Early stopping: validations without improvement (0 = off)")
      ->capture_default_str();
  sub->add_option("--precision", o->precision, "Arithmetic of training: float64 or float32")
      ->check(CLI::IsMember({"float64", "float32"}))->capture_default_str();
  sub->add_option("--init", o->init,
                  "random (R = scale G / sqrt(n)), theory (the theory optimum's R and omega), or a checkpoint "
                  "FILE to resume from")
      ->capture_default_str();
  sub->add_option("--init-scale", o->init_scale, "Scale of the random R")->capture_default_str();
  sub->add_option("--init-stepsize", o->init_stepsize, "Initial stepsize omega (random init)")->capture_default_str();
  sub->add_option("--seed", o->seed, "Seed of every random draw (data, noise, init, shuffles)")->capture_default_str();
  sub->add_option("--save", o->save, "Write the trained model to this checkpoint (JSON)");
  sub->add_flag("--json", o->json, "Print one JSON object (no progress line)");
  sub->add_flag("--hessian", o->hessian,
                "Also report the extreme eigenvalues of the Hessian of the expected risk at the trained "
                "model (finite differences; sharp vs flat minima; parameters <= " +
                    std::to_string(kMaxDenseDimension) + ")");

  sub->callback([o, sub] {
    const TrainCli& c = *o;
    if (!(std::isfinite(c.sigma) && c.sigma > 0)) throw Error("--sigma must be > 0");
    Rng rng(c.seed);
    // Data.
    SampleModel sm;
    Matrix clean, noisy;
    theory::DataModel truth = theory::DataModel::iid(1, 0, 1);
    const bool need_frames = c.objective != "expected";
    if (c.data == "file") {
      if (c.clean_file.empty()) throw Error("--data file needs --clean FILE");
      clean = read_frames(c.clean_file);
      if (sub->count("--n") && clean.rows() != c.n)
        throw Error("--clean '" + c.clean_file + "' has frames of n = " + std::to_string(clean.rows()) +
                    " but --n " + std::to_string(c.n));
      if (!c.noisy_file.empty()) {
        noisy = read_frames(c.noisy_file);
        if (noisy.rows() != clean.rows() || noisy.cols() != clean.cols())
          throw Error("--noisy '" + c.noisy_file + "' is " + std::to_string(noisy.rows()) + "x" +
                      std::to_string(noisy.cols()) + " but --clean is " + std::to_string(clean.rows()) + "x" +
                      std::to_string(clean.cols()));
      }
      sm = SampleModel::gaussian(empirical_second_moment(clean));
      truth = sm.to_theory();
    } else {
      if (c.n < 1) throw Error("--n must be >= 1 (got " + std::to_string(c.n) + ")");
      sm = SampleModel::from_name(c.data, c.n, c.mu, c.theta, c.rho);
      truth = sm.to_theory();
      if (need_frames) {
        if (c.samples < 1) throw Error("--samples B must be >= 1 (got " + std::to_string(c.samples) + ")");
        clean = sm.sample(c.samples, rng);
      }
    }
    const Index n = sm.n;
    if (need_frames && noisy.size() == 0 && c.objective == "empirical") noisy = add_noise(clean, c.sigma, rng);
    // Model.
    const long long k = c.k == 0 ? n : c.k;
    if (k < 1 || k > n)
      throw Error("--k must satisfy 1 <= k <= n = " + std::to_string(n) + " (got " + std::to_string(k) + ")");
    if (c.depth < 1) throw Error("--depth N must be >= 1 (got " + std::to_string(c.depth) + ")");
    ModelSpec spec{n, k, parse_method(c.method), c.depth, StepsizeMode::Learned};
    double fixed_w = c.init_stepsize;
    if (c.stepsize == "per-iteration") spec.stepsize_mode = StepsizeMode::PerIteration;
    else if (c.stepsize != "learned") {
      spec.stepsize_mode = StepsizeMode::Fixed;
      fixed_w = parse_positive(c.stepsize, "--stepsize");
    }
    QuadraticModel init;
    if (c.init == "random") {
      InitOptions io;
      io.scale = c.init_scale;
      io.stepsize = fixed_w;
      io.seed = c.seed + 1;
      init = QuadraticModel::random(spec, io);
    } else if (c.init == "theory") {
      init = model_at_theory_optimum(spec, truth, c.sigma, fixed_w);
    } else {
      init = load_model(c.init, spec).model;
      if (spec.stepsize_mode == StepsizeMode::Fixed && sub->count("--stepsize"))
        init = QuadraticModel::from_regularizer(spec, init.regularizer(), {fixed_w});
    }
    // Training.
    TrainOptions t;
    t.seed = c.seed;
    t.precision = c.precision == "float32" ? Precision::Float32 : Precision::Float64;
    t.batch_size = c.batch;
    t.validation_fraction = c.validation;
    t.patience = c.patience;
    const bool stochastic = c.objective == "sampled" || c.batch > 0;
    t.optimizer = c.optimizer == "auto" ? (stochastic ? OptimizerKind::Adam : OptimizerKind::Lbfgs)
                                        : parse_optimizer(c.optimizer);
    t.lbfgs.max_iterations = c.iterations > 0 ? c.iterations : 1000;
    t.adam.max_iterations = c.iterations > 0 ? c.iterations : 3000;
    t.adam.learning_rate = c.lr;
    t.adam.decay = 0.5;
    t.adam.decay_every = std::max(1, t.adam.max_iterations / 4);
    if (c.batch < 0) throw Error("--batch must be >= 0");
    if (c.iterations < 0) throw Error("--iterations must be >= 0");
    const optim::Observer obs = progress_line(!c.json && ::isatty(::fileno(stderr)));
    TrainResult r;
    if (c.objective == "expected") r = train_expected(init, sm.second_moment(), c.sigma, t, obs);
    else if (c.objective == "sampled") r = train_sampled_noise(init, clean, c.sigma, t, obs);
    else r = train_frames<double>(init, noisy, clean, t, obs);
    if (obs) std::fprintf(stderr, "\n");
    if (r.optim.status == optim::Status::Diverged)
      std::cerr << "warning: " << r.optim.message << '\n';

    // Report.
    const theory::OptimalRisk opt = theory_optimum(r.model, truth, c.sigma);
    const double pop = population_risk(r.model, truth, c.sigma);
    json j;
    j["data"] = c.data;
    j["n"] = n;
    j["k"] = k;
    if (c.data != "file") { j["mu"] = c.mu; j["theta"] = c.theta; }
    if (c.data == "ar1") j["rho"] = c.rho;
    j["sigma"] = c.sigma;
    j["samples"] = need_frames ? clean.cols() : 0;
    j["method"] = c.method;
    if (spec.method == Method::Unrolled) {
      j["depth"] = c.depth;
      j["stepsize_mode"] = to_string(spec.stepsize_mode);
    }
    j["objective"] = c.objective;
    j["optimizer"] = to_string(t.optimizer);
    j["precision"] = c.precision;
    j["seed"] = c.seed;
    j["train_loss"] = r.train_loss;
    if (r.validation_loss >= 0) j["validation_loss"] = r.validation_loss;
    j["population_risk"] = pop;
    j["optimal_risk"] = opt.risk;
    j["optimal_attained"] = opt.attained;
    j["risk_ratio"] = opt.risk > 0 ? pop / opt.risk : 1.0;
    j["linear_risk"] = theory::best_linear(truth, c.sigma).risk;
    if (spec.method == Method::Unrolled) {
      j["stepsize"] = r.model.stepsize();
      if (spec.stepsize_mode == StepsizeMode::PerIteration) j["stepsizes"] = r.model.stepsizes();
      j["optimal_stepsize"] = opt.stepsize;
    }
    j["regularizer_norm"] = r.model.regularizer().norm();
    if (c.hessian) {
      if (spec.num_parameters() > kMaxDenseDimension)
        throw Error("--hessian: too many parameters (k n > " + std::to_string(kMaxDenseDimension) + ")");
      const auto mo = Moments<double>::expected(sm.second_moment(), c.sigma);
      const auto w = r.model.stepsizes();
      const auto cv = optim::curvature(StructuredLoss<double>(spec, w, mo), r.model.parameters());
      j["hessian_max_eig"] = cv.max_eigenvalue;
      j["hessian_min_eig"] = cv.min_eigenvalue;
      j["hessian_negative"] = cv.negative;
    }
    j["status"] = optim::to_string(r.optim.status);
    j["iterations"] = r.optim.iterations;
    j["seconds"] = r.optim.seconds;
    j["message"] = r.optim.message;
    if (!c.save.empty()) {
      json meta = j;
      save_model(c.save, r.model, meta);
      j["saved"] = c.save;
    }
    print_result(j, c.json);
  });
}
}  // namespace varlearn::cli
