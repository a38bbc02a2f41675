#include "options.hpp"

#include <cmath>
#include <iostream>

#include "varlearn/core/error.hpp"
#include "varlearn/core/limits.hpp"
#include "varlearn/theory/risk.hpp"

namespace varlearn::cli {

// ---------------------------------------------------------------------------------------
// DataOptions

DataOptions::DataOptions(Index default_n) : default_n_(default_n) { source.n = default_n; }

void DataOptions::add(CLI::App* app, bool frames) {
  app->add_option("--data", name,
                  "Data model of the clean signal y: constant (y = lambda 1, E lambda = mu, Var lambda = theta^2), "
                  "iid (y_j i.i.d., mean mu, variance theta^2), ar1 (Sigma = mu^2 11^T + theta^2 rho^|i-j|), "
                  "file (the clean signal comes from files: --second-moment SIGMA (n x n) and/or --clean FRAMES "
                  "(n x B; their second moment Y Y^T / B is Sigma unless --second-moment is given))")
      ->check(CLI::IsMember({"constant", "iid", "ar1", "file"}))
      ->capture_default_str();
  n_ = app->add_option("--n", source.n,
                       default_n_ > 0 ? "Signal dimension n (--data file: taken from the files; if given, it must agree)"
                                      : "Signal dimension n (default: from the checkpoint or matrix; if given, it must "
                                        "agree)");
  if (default_n_ > 0) n_->capture_default_str();
  mu_ = app->add_option("--mu", source.mu, "Mean mu of the signal (constant: of lambda; iid/ar1: of each entry)")
            ->capture_default_str();
  theta_ = app->add_option("--theta", source.theta, "Standard deviation theta of the signal (theta >= 0)")
               ->capture_default_str();
  rho_ = app->add_option("--rho", source.rho, "AR(1) correlation rho, |rho| < 1 (--data ar1 only)")->capture_default_str();
  app->add_option("--second-moment", source.second_moment_file,
                  "--data file: text file with Sigma = E[y y^T], a symmetric PSD n x n matrix (rows per line, "
                  "space/comma separated)");
  app->add_option("--clean", source.clean_file,
                  frames ? "Clean frames file (n x B, one frame per column): the frames of this command; with "
                           "--data file also Sigma = Y Y^T / B (unless --second-moment)"
                         : "--data file: clean frames file (n x B, one frame per column); Sigma = Y Y^T / B "
                           "(unless --second-moment)");
  if (frames)
    app->add_option("--noisy", noisy, "Noisy frames file matching --clean (default: clean + N(0, sigma^2), --seed)");
}

learn::DataSource DataOptions::resolved(Index n_elsewhere, bool frames_anywhere) const {
  learn::DataSource s = source;
  s.kind = theory::parse_data_kind(name);
  const bool file = s.kind == theory::DataKind::File;
  if (file) {
    for (const CLI::Option* o : {mu_, theta_, rho_})
      if (o->count()) throw Error(o->get_name() + " is not used with --data file (Sigma comes from the files)");
  } else if (s.kind != theory::DataKind::Ar1 && rho_->count()) {
    throw Error("--rho is only read with --data ar1");
  }
  if (!n_->count()) s.n = file ? 0 : (default_n_ > 0 ? default_n_ : n_elsewhere);
  if (n_elsewhere > 0) {
    if (n_->count() && s.n != n_elsewhere)
      throw Error("--n " + std::to_string(s.n) + " does not match n = " + std::to_string(n_elsewhere) +
                  " of the matrix");
    if (!file) s.n = n_elsewhere;
  }
  s.validate(frames_anywhere);
  return s;
}

theory::DataModel DataOptions::build(Index n_elsewhere) const { return resolved(n_elsewhere).theory_model(); }

nlohmann::json DataOptions::describe(const learn::DataSource& s) {
  nlohmann::json j{{"data", theory::to_string(s.kind)}};
  if (s.kind == theory::DataKind::File) {
    if (!s.second_moment_file.empty()) j["second_moment"] = s.second_moment_file;
    if (!s.clean_file.empty()) j["clean"] = s.clean_file;
  } else {
    j["n"] = s.n;
    j["mu"] = s.mu;
    j["theta"] = s.theta;
    if (s.kind == theory::DataKind::Ar1) j["rho"] = s.rho;
  }
  return j;
}

// ---------------------------------------------------------------------------------------
// NoiseOptions, RankOption

void NoiseOptions::add(CLI::App* app, const std::string& note) {
  app->add_option("--sigma", sigma,
                  "Noise standard deviation sigma > 0 (x = y + eps, eps ~ N(0, sigma^2 I))" +
                      (note.empty() ? "" : " " + note))
      ->capture_default_str();
}

double NoiseOptions::checked() const {
  theory::check_noise_std(sigma, "--sigma");
  return sigma;
}

void RankOption::add(CLI::App* app, const std::string& note) {
  app->add_option("--k", k, "Rank k of the regularizer R (k x n), 1 <= k <= n; 0 = n" + (note.empty() ? "" : " " + note))
      ->capture_default_str();
}

Index RankOption::resolve(Index n) const { return learn::resolve_rank(Index(k), n); }

// ---------------------------------------------------------------------------------------
// FamilyOptions

FamilyOptions::FamilyOptions(Config c)
    : method(c.method), depth(c.default_depth), stepsize(c.stepsize), config_(std::move(c)) {}

void FamilyOptions::add(CLI::App* app) {
  const Config& c = config_;
  if (!c.methods.empty()) {
    std::string help;
    for (const std::string& m : c.methods) {
      if (!help.empty()) help += ", ";
      if (m == "linear") help += "linear (best linear denoiser, no constraint)";
      else if (m == "bilevel") help += "bilevel (T = (I + R^T R)^-1)";
      else help += "unrolled (N gradient steps with stepsize omega from z^0 = 0)";
    }
    app->add_option("--method", method, help)->check(CLI::IsMember(c.methods))->capture_default_str();
  }
  if (c.depth)
    app->add_option("--depth", depth, "Unrolling depth N >= 1" + (c.depth_note.empty() ? "" : " " + c.depth_note))
        ->capture_default_str();
  if (!c.stepsize.empty()) {
    std::string help = "Stepsize omega > 0";
    if (c.learned) help += c.per_iteration ? ", 'learned'" : ", or 'learned'";
    if (c.per_iteration) help += ", or 'per-iteration' (one learned omega per iteration)";
    app->add_option("--stepsize", stepsize, help + (c.stepsize_note.empty() ? "" : " " + c.stepsize_note))
        ->capture_default_str();
  }
}

double FamilyOptions::stepsize_number() const {
  char* end = nullptr;
  const double w = std::strtod(stepsize.c_str(), &end);
  if (end == stepsize.c_str() || *end != '\0' || !std::isfinite(w))
    throw Error("--stepsize must be a number" + std::string(config_.learned ? " or 'learned'" : "") + " (got '" +
                stepsize + "')");
  return w;
}

double FamilyOptions::omega() const {
  const double w = stepsize_number();
  if (!(w > 0)) throw Error("--stepsize omega must be > 0 (got " + stepsize + ")");
  return w;
}

theory::Family FamilyOptions::family() const {
  if (method == "bilevel") return theory::Family::bilevel();
  if (learned()) throw Error("--stepsize learned is not allowed here: give a number");
  if (depth < 1) throw Error("--depth N must be >= 1 (got " + std::to_string(depth) + ")");
  return theory::Family::unrolled(depth, omega());
}

// ---------------------------------------------------------------------------------------
// OutputOptions, TrainingOptions

void OutputOptions::add(CLI::App* app, const std::string& out_help) {
  if (!out_help.empty()) app->add_option("--out", out, out_help);
  app->add_flag("--json", json, "Print one JSON object instead of aligned key: value lines (and no progress line)");
}

void TrainingOptions::add(CLI::App* app, learn::TrainExperiment& e) {
  app->add_option("--objective", objective,
                  "empirical (B noisy/clean pairs), expected (exact expectation over the noise: the population "
                  "risk itself), sampled (fresh noise for every minibatch, Adam)")
      ->check(CLI::IsMember({"empirical", "expected", "sampled"}))->capture_default_str();
  app->add_option("--samples", e.samples, "Training samples B (frames) >= 1 (not used by --objective expected)")
      ->capture_default_str();
  app->add_option("--optimizer", e.optimizer, "lbfgs, adam, or auto (lbfgs; adam for sampled/minibatches)")
      ->check(CLI::IsMember({"auto", "lbfgs", "adam"}))->capture_default_str();
  app->add_option("--iterations", e.iterations, "Optimizer iterations; 0 = auto (lbfgs 1000, adam 3000)")
      ->capture_default_str();
  app->add_option("--lr", e.learning_rate, "Adam learning rate eta")->capture_default_str();
  app->add_option("--batch", e.batch, "Minibatch size (Adam; 0 = full batch)")->capture_default_str();
  app->add_option("--validation", e.validation, "Fraction of frames held out for validation, in [0, 0.9]")
      ->capture_default_str();
  app->add_option("--patience", e.patience, "Early stopping: validations without improvement (0 = off)")
      ->capture_default_str();
  app->add_option("--precision", precision, "Arithmetic of training: float64 or float32")
      ->check(CLI::IsMember({"float64", "float32"}))->capture_default_str();
  app->add_option("--init", e.init,
                  "random (R = scale G / sqrt(n)), theory (the theory optimum's R and omega), or a checkpoint "
                  "FILE to resume from")
      ->capture_default_str();
  app->add_option("--init-scale", e.init_scale, "Scale of the random R")->capture_default_str();
  app->add_option("--init-stepsize", e.init_stepsize, "Initial stepsize omega (random init)")->capture_default_str();
  app->add_option("--seed", e.seed, "Seed of every random draw (data, noise, init, shuffles)")->capture_default_str();
  app->add_option("--save", e.save,
                  "Write the trained model and its training state to this checkpoint (JSON, atomic; "
                  "eval and --init read it as a model, --resume continues the run)");
  app->add_option("--checkpoint-every", e.checkpoint_every,
                  "Also write --save every K iterations, so a killed run loses at most K (0 = at the end only)")
      ->capture_default_str();
  app->add_option("--resume", e.resume,
                  "Continue the run saved in this checkpoint with the same flags (--iterations may grow): "
                  "ends with the same numbers as an uninterrupted run; checkpoints go on into --save, "
                  "else into this file");
  app->add_flag("--hessian", e.hessian,
                "Also report the extreme eigenvalues of the Hessian of the expected risk at the trained "
                "model (finite differences; sharp vs flat minima; parameters <= " +
                    std::to_string(kMaxDenseDimension) + ")");
}

void TrainingOptions::apply(learn::TrainExperiment& e) const {
  e.objective = learn::parse_train_objective(objective);
  e.precision = precision == "float32" ? learn::Precision::Float32 : learn::Precision::Float64;
}

// ---------------------------------------------------------------------------------------

void print_result(const nlohmann::json& j, bool json) {
  if (json) {
    std::cout << j.dump(2) << '\n';
    return;
  }
  size_t width = 0;
  for (auto it = j.begin(); it != j.end(); ++it) width = std::max(width, it.key().size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::cout << it.key() << std::string(width - it.key().size(), ' ') << "  ";
    if (it->is_string()) std::cout << it->get<std::string>();
    else std::cout << it->dump();
    std::cout << '\n';
  }
}

std::vector<double> parse_list(const std::string& s, const std::string& flag) {
  std::vector<double> out;
  std::string cur;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == ',') {
      char* end = nullptr;
      const double v = std::strtod(cur.c_str(), &end);
      if (cur.empty() || *end != '\0' || !std::isfinite(v)) throw Error(flag + ": '" + cur + "' is not a number");
      out.push_back(v);
      cur.clear();
    } else {
      cur += s[i];
    }
  }
  return out;
}

}  // namespace varlearn::cli
