#include "varlearn/general/train.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <sstream>

#include "varlearn/core/batches.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/names.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/dist/dist.hpp"

namespace varlearn::general {
using nlohmann::json;

namespace {
constexpr NameTable<LearningMethod, 2> kMethodNames{{{LearningMethod::Unrolled, "unrolled"},
                                                     {LearningMethod::Bilevel, "bilevel"}}};
constexpr NameTable<Optimizer, 2> kOptimizerNames{{{Optimizer::Lbfgs, "lbfgs"}, {Optimizer::Adam, "adam"}}};
constexpr NameTable<StepsizeKind, 3> kStepsizeNames{{{StepsizeKind::Learned, "learned"},
                                                     {StepsizeKind::PerIteration, "per-iteration"},
                                                     {StepsizeKind::Fixed, "fixed"}}};

// Seeds of the run's streams, derived from the user seed (distinct salts: the validation
// draw never reuses the numbers of the training draw).
constexpr std::uint64_t kTrainDrawSalt = 0x7a11d4a3ULL, kValidationDrawSalt = 0x0a11da7eULL,
                        kOperatorSalt = 0x0be7a70eULL, kBatchSalt = 0xba7c4e5ULL;
}  // namespace

const char* to_string(LearningMethod m) { return name_of(kMethodNames, m); }
LearningMethod parse_learning_method(const std::string& s) { return parse_name(kMethodNames, s, "method"); }
const char* to_string(Optimizer o) { return name_of(kOptimizerNames, o); }

void GeneralTrainOptions::validate() const {
  const char* w = "general training";
  if (method == LearningMethod::Unrolled) {
    require(depth >= 1, "--depth", "depth N = " + std::to_string(depth) + " must be >= 1");
    require(std::isfinite(stepsize) && stepsize >= 0, "--stepsize", "omega must be > 0");
    require(stepsize_kind != StepsizeKind::Fixed || stepsize > 0, "--stepsize", "a fixed omega must be > 0");
    require(unrolled_checkpoint_every >= 0, w, "unrolled_checkpoint_every must be >= 0");
    unrolled_options(*this).validate();
  } else {
    require(!momentum, "--momentum", "momentum is a choice of the unrolled solver (--method unrolled)");
    require(!single_precision, "--precision", "float32 is for unrolled learning; bilevel certifies its lower "
                                              "level in float64");
    bilevel.validate();
  }
  require(std::isfinite(noise_std) && noise_std > 0, "--sigma", "noise standard deviation sigma must be > 0");
  adam.validate();
  lbfgs.validate();
  require(batch_size >= 0, "--batch", "must be >= 0");
  require(loss_frames >= 0, "loss_frames", "must be >= 0 (0 = all training frames)");
  require(optimizer == Optimizer::Adam || batch_size == 0, "--batch", "minibatches need the Adam optimizer");
  require(patience >= 0, "--patience", "must be >= 0");
  require(validate_every >= 1, w, "validate_every must be >= 1");
  require(checkpoint_every >= 0, "--checkpoint-every", "must be >= 0");
  require(shards >= 0 && shards <= kMaxShards, "--shards", "must be in 0 … " + std::to_string(kMaxShards));
}

UnrolledOptions unrolled_options(const GeneralTrainOptions& o) {
  UnrolledOptions u;
  u.steps = o.depth;
  u.init = o.start;
  switch (o.stepsize_kind) {
    case StepsizeKind::Fixed:  // omega not trained: the optimizer sees theta alone
      u.sharing = StepSharing::Fixed;
      u.stepsize = o.stepsize;
      break;
    case StepsizeKind::PerIteration: u.sharing = StepSharing::PerIteration; break;
    case StepsizeKind::Learned: u.sharing = StepSharing::Shared; break;
  }
  u.momentum = o.momentum;
  u.checkpoint_every = o.unrolled_checkpoint_every == 0 ? sqrt_checkpointing(o.depth) : o.unrolled_checkpoint_every;
  return u;
}

namespace {

std::string text(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

/// FNV-1a over the bit patterns: tells data sets and initial parameters apart.
std::string checksum(const Matrix& m) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (Index i = 0; i < m.size(); ++i) {
    const double v = m.data()[i];
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof v);
    for (int b = 0; b < 8; ++b) {
      h ^= (bits >> (8 * b)) & 0xffU;
      h *= 0x100000001b3ULL;
    }
  }
  std::ostringstream os;
  os << std::hex << h;
  return os.str();
}

template <class G>
std::string rng_text(const G& g) {
  std::ostringstream os;
  os << g;
  return os.str();
}
template <class G>
void rng_restore(G& g, const std::string& s, const std::string& what) {
  require(!s.empty(), "training checkpoint", "the " + what + " generator state is missing");
  std::istringstream is(s);
  is >> g;
  require(!is.fail(), "training checkpoint", "the " + what + " generator state is malformed");
}

Matrix gather(const Matrix& m, const std::vector<Index>& idx) {
  Matrix out(m.rows(), static_cast<Index>(idx.size()));
  for (size_t j = 0; j < idx.size(); ++j) out.col(static_cast<Index>(j)) = m.col(idx[j]);
  return out;
}


/// The loss of one observed batch at the optimizer's x, by the run's method. A failure of the
/// engine (non-finite iterate, lower level not converged, indefinite Hessian) is recorded and
/// returned as NaN: the optimizer then stops (Adam: diverged) or backtracks (L-BFGS).
class Learner {
public:
  Learner(const reg::Regularizer<double>& init, const GeneralTrainOptions& o)
      : init_(init.clone()), o_(o), unrolled_(o.method == LearningMethod::Unrolled ? unrolled_options(o) : UnrolledOptions{}) {
    p_ = init_->num_parameters();
  }
  /// Step parameters in x (0 for bilevel and fixed steps).
  Index step_parameters() const {
    if (o_.method != LearningMethod::Unrolled || o_.stepsize_kind == StepsizeKind::Fixed) return 0;
    return unrolled_.num_step_parameters();
  }
  Index size() const { return p_ + step_parameters(); }
  const UnrolledOptions& unrolled() const { return unrolled_; }

  /// x0 = [theta0, alpha0] with omega0 given or the safe 0.9 / (L_A + L_R).
  Vector initial(const ops::Operator& a) {
    Vector x(size());
    x.head(p_) = init_->parameters();
    if (o_.method == LearningMethod::Unrolled) {
      double omega = o_.stepsize;
      if (!(omega > 0)) {
        const double lr = init_->hessian_bound().value_or(1.0);
        omega = 0.9 / (a.norm_squared_bound() + lr);
      }
      alpha0_ = softplus_inverse(omega);
      x.tail(step_parameters()).setConstant(alpha0_);
    }
    return x;
  }
  /// alpha of a model with parameters x.
  Vector alpha(const Vector& x) const {
    if (o_.method != LearningMethod::Unrolled) return {};
    if (step_parameters() == 0) return Vector();  // a fixed omega lives in UnrolledOptions::stepsize
    return x.tail(step_parameters());
  }
  double loss(const ops::Operator& a, const Matrix& g, const Matrix& target, const Vector& x, Vector* grad) {
    try {
      Energy energy(a, *init_, g);
      if (o_.method == LearningMethod::Bilevel) {
        energy.set_parameters(x);
        const BilevelResult r = bilevel_loss(energy, target, o_.bilevel, grad != nullptr);
        if (grad) {
          *grad = r.gradient;
          last_ = r;
        }
        return finite_or_fail(r.loss);
      }
      if (o_.single_precision) return single_loss(a, g, target, x, grad);
      energy.set_parameters(x.head(p_));
      const UnrolledResult r = unrolled_loss(energy, target, alpha(x), unrolled_, grad != nullptr);
      if (grad) {
        grad->resize(size());
        grad->head(p_) = r.theta_gradient;
        if (step_parameters() > 0) grad->tail(step_parameters()) = r.alpha_gradient;
      }
      return finite_or_fail(r.loss);
    } catch (const Error& e) {
      if (failure_.empty()) failure_ = e.what();
      if (grad) grad->setZero(size());
      return std::numeric_limits<double>::quiet_NaN();
    }
  }
  GeneralModel model(const Vector& x) const {
    GeneralModel m;
    auto r = std::shared_ptr<reg::Regularizer<double>>(init_->clone());
    r->set_parameters(x.head(p_));
    m.regularizer = r;
    m.method = o_.method;
    m.unrolled = unrolled_;
    m.alpha = alpha(x);
    if (o_.stepsize_kind == StepsizeKind::Fixed) m.fixed_stepsize = o_.stepsize;
    m.bilevel = o_.bilevel;
    return m;
  }
  const std::string& failure() const { return failure_; }
  const BilevelResult& last_bilevel() const { return last_; }

private:
  /// The unrolled loss in float32 at the float64 x (cast in, gradient cast out).
  double single_loss(const ops::Operator& a, const Matrix& g, const Matrix& target, const Vector& x, Vector* grad) {
    BasicEnergy<float> energy(a, *o_.single_precision, g.cast<float>());
    energy.set_parameters(x.head(p_).cast<float>());
    const BasicUnrolledResult<float> r =
        unrolled_loss<float>(energy, target.cast<float>(), alpha(x).cast<float>(), unrolled_, grad != nullptr);
    if (grad) {
      grad->resize(size());
      grad->head(p_) = r.theta_gradient.cast<double>();
      if (step_parameters() > 0) grad->tail(step_parameters()) = r.alpha_gradient.cast<double>();
    }
    return finite_or_fail(double(r.loss));
  }
  double finite_or_fail(double v) {
    if (!std::isfinite(v) && failure_.empty()) failure_ = "the loss is not finite (" + text(v) + ")";
    return v;
  }
  std::unique_ptr<reg::Regularizer<double>> init_;
  GeneralTrainOptions o_;
  UnrolledOptions unrolled_;
  Index p_ = 0;
  double alpha0_ = 0;
  std::string failure_;
  BilevelResult last_;
};

/// What makes two runs the same run (all but the iteration budgets and checkpoint_every).
std::map<std::string, std::string> fingerprint(const ops::OperatorModel& op, const reg::Regularizer<double>& init,
                                               const Matrix& clean, const Matrix& val, const GeneralTrainOptions& o) {
  std::map<std::string, std::string> f;
  f["entry"] = "general";
  f["operator"] = op.describe();
  f["regularizer"] = init.describe() + " p " + std::to_string(init.num_parameters()) + " checksum " +
                     checksum(init.parameters());
  f["method"] = to_string(o.method);
  if (o.method == LearningMethod::Unrolled)
    f["unrolled"] = "depth " + std::to_string(o.depth) + " start " + (o.start == UnrolledInit::Zero ? "zero" : "adjoint") +
                    " stepsize " + name_of(kStepsizeNames, o.stepsize_kind) + " " + text(o.stepsize) + " momentum " +
                    std::to_string(o.momentum) + (o.single_precision ? " float32" : "");
  else
    f["bilevel"] = "tolerance " + text(o.bilevel.tolerance) + " max_iterations " + std::to_string(o.bilevel.max_iterations) +
                   " cg_tolerance " + text(o.bilevel.cg_tolerance) + " max_cg " + std::to_string(o.bilevel.max_cg_iterations);
  f["noise_std"] = text(o.noise_std);
  f["optimizer"] = to_string(o.optimizer);
  if (o.optimizer == Optimizer::Adam) {
    const optim::AdamOptions& a = o.adam;
    f["adam"] = "learning_rate " + text(a.learning_rate) + " beta1 " + text(a.beta1) + " beta2 " + text(a.beta2) +
                " epsilon " + text(a.epsilon) + " decay " + text(a.decay) + " decay_every " +
                std::to_string(a.decay_every) + " divergence_factor " + text(a.divergence_factor);
  } else {
    const optim::LbfgsOptions& l = o.lbfgs;
    f["lbfgs"] = "memory " + std::to_string(l.memory) + " gradient_tolerance " + text(l.gradient_tolerance) +
                 " loss_tolerance " + text(l.loss_tolerance) + " past " + std::to_string(l.past);
  }
  f["batch_size"] = std::to_string(o.batch_size);
  if (o.loss_frames > 0) f["loss_frames"] = std::to_string(o.loss_frames);  // (absent when off: older checkpoints still match)
  f["patience"] = std::to_string(o.patience) + " every " + std::to_string(o.validate_every);
  f["seed"] = std::to_string(o.seed);
  f["data"] = std::to_string(clean.rows()) + "x" + std::to_string(clean.cols()) + " checksum " + checksum(clean) +
              " validation " + std::to_string(val.cols()) + " checksum " + checksum(val);
  return f;
}

void check_same_run(const std::map<std::string, std::string>& saved, const std::map<std::string, std::string>& now) {
  std::string diff;
  auto add = [&](const std::string& d) { diff += (diff.empty() ? "" : "; ") + d; };
  for (const auto& [k, v] : now) {
    const auto it = saved.find(k);
    if (it == saved.end()) add("'" + k + "' is missing in the checkpoint (this run: " + v + ")");
    else if (it->second != v) add("'" + k + "' is " + it->second + " in the checkpoint but " + v + " in this run");
  }
  for (const auto& [k, v] : saved)
    if (!now.count(k)) add("'" + k + "' (" + v + ") is in the checkpoint but not in this run");
  require(diff.empty(), "training checkpoint", "cannot resume a different run: " + diff);
}

}  // namespace

std::vector<double> GeneralModel::stepsizes() const {
  std::vector<double> w;
  if (method != LearningMethod::Unrolled) return w;
  for (int t = 0; t < unrolled.steps; ++t)
    w.push_back(alpha.size() == 0 ? fixed_stepsize : softplus(alpha.size() == 1 ? alpha(0) : alpha(t)));
  return w;
}

Matrix GeneralModel::output(const ops::Operator& a, const Matrix& g) const {
  require(static_cast<bool>(regularizer), "GeneralModel::output", "no regularizer");
  const Energy energy(a, *regularizer, g);
  if (method == LearningMethod::Bilevel) return solve_lower_level(energy, bilevel).f;
  return unrolled_output(energy, alpha, unrolled);
}

Observation observe_fixed(const ops::OperatorModel& op, const Matrix& clean, double noise_std, std::uint64_t seed) {
  Rng rng(seed);
  Observation o;
  o.a = op.draw(clean.cols(), rng);
  o.g = ops::observe(o.a, clean, noise_std, rng);
  return o;
}

std::uint64_t draw_seed(std::uint64_t seed, DrawSet set) {
  return seed ^ (set == DrawSet::Training ? kTrainDrawSalt : kValidationDrawSalt);
}

double model_loss(const GeneralModel& model, const Observation& obs, const Matrix& target) {
  const Matrix f = model.output(obs.a, obs.g);
  require(f.rows() == target.rows() && f.cols() == target.cols(), "general::model_loss", "shapes differ");
  return 0.5 * (f - target).squaredNorm() / double(target.cols());
}

double mse(const Matrix& f, const Matrix& target) {
  require(f.rows() == target.rows() && f.cols() == target.cols() && f.size() > 0, "general::mse", "shapes differ");
  return (f - target).squaredNorm() / double(f.size());
}

namespace {

/// The minibatch order in and out of a checkpoint's batch_rng / batch_order / batch_position.
void save_order(const MinibatchOrder& order, GeneralCheckpoint& c) {
  MinibatchOrder::State st = order.state();
  c.batch_rng = std::move(st.rng);
  c.batch_order = std::move(st.order);
  c.batch_position = st.position;
}
void restore_order(MinibatchOrder& order, const GeneralCheckpoint& c) {
  order.restore({c.batch_rng, c.batch_order, c.batch_position});
}

}  // namespace

GeneralTrainResult train_general(const ops::OperatorModel& op, const reg::Regularizer<double>& init,
                                 const Matrix& clean, const Matrix& val, const GeneralTrainOptions& o,
                                 const optim::Observer& user, const GeneralCheckpointing& cpt) {
  o.validate();
  const char* where = "train_general";
  const Index n = op.input_size();
  require(init.dimension() == n, where,
          "the regularizer acts on n = " + std::to_string(init.dimension()) + ", the operator on n = " + std::to_string(n));
  require(clean.rows() == n && clean.cols() >= 1, where,
          "training frames are " + std::to_string(clean.rows()) + " x " + std::to_string(clean.cols()) +
              ", expected n = " + std::to_string(n) + " rows and B >= 1");
  require(val.size() == 0 || val.rows() == n, where, "validation frames have " + std::to_string(val.rows()) + " rows");
  require(clean.allFinite() && val.allFinite(), where, "frames contain NaN/inf");

  Learner learner(init, o);
  // Fixed draws: the training set (L-BFGS, train_loss) and the validation set.
  // Adam with loss_frames: the fixed training draw (train_loss only) on evenly spaced frames.
  const bool spaced = o.optimizer == Optimizer::Adam && o.loss_frames > 0 && clean.cols() > o.loss_frames;
  Matrix spaced_clean;
  if (spaced) {
    spaced_clean.resize(n, o.loss_frames);
    for (Index j = 0; j < o.loss_frames; ++j) spaced_clean.col(j) = clean.col(j * clean.cols() / o.loss_frames);
  }
  const Matrix& loss_clean = spaced ? spaced_clean : clean;
  const Observation train_obs = observe_fixed(op, loss_clean, o.noise_std, draw_seed(o.seed, DrawSet::Training));
  Observation val_obs;
  if (val.cols() > 0) val_obs = observe_fixed(op, val, o.noise_std, draw_seed(o.seed, DrawSet::Validation));
  Vector x = learner.initial(train_obs.a);

  // Data parallelism (docs/scale-out.md): every rank draws the same batches, noise and operators
  // (the generators are replicated) and computes the loss and gradient sums over its shards of
  // the frames; dist::sum_parts adds the S shards in shard order, so every rank takes the same
  // step, and the numbers depend on S alone. One shard in one process: the whole batch, as always.
  // A run `alone` (a study's configuration on one rank) adds its shards itself, in the same order.
  const bool alone = o.alone || dist::size() == 1;
  const Index shards = o.shards > 0 ? o.shards : (alone ? 1 : Index(dist::size()));
  BilevelResult first_shard;  // bilevel diagnostics with shards: those of shard 0 (on rank 0)
  const auto loss_on = [&](const ops::Operator& a, const Matrix& g, const Matrix& target, const Vector& t,
                           Vector* grad) -> double {
    if (shards == 1 && alone) return learner.loss(a, g, target, t, grad);
    const Index frames = target.cols(), len = 1 + (grad ? learner.size() : 0);
    const dist::Share mine = alone ? dist::Share{0, shards} : dist::share(shards);
    Matrix parts = Matrix::Zero(len, mine.count);  // per shard s: [B_s l_s, B_s grad_s]
    for (Index j = 0; j < mine.count; ++j) {
      const dist::Share s = dist::share(frames, int(mine.begin + j), int(shards));
      if (s.count == 0) continue;
      Vector gr;
      const double l = learner.loss(a.columns(s.begin, s.count), g.middleCols(s.begin, s.count),
                                    target.middleCols(s.begin, s.count), t, grad ? &gr : nullptr);
      if (grad && mine.begin + j == 0) first_shard = learner.last_bilevel();
      parts(0, j) = double(s.count) * l;
      if (grad) parts.col(j).tail(learner.size()) = double(s.count) * gr;
    }
    Vector sums;
    if (alone) {
      sums = parts.col(0);
      for (Index j = 1; j < shards; ++j) sums += parts.col(j);  // shard order, as dist::sum_parts
    } else {
      sums = dist::sum_parts(parts, shards);
    }
    if (grad) *grad = sums.tail(learner.size()) / double(frames);
    return sums(0) / double(frames);
  };

  const bool adam = o.optimizer == Optimizer::Adam;
  const Index b = clean.cols();
  const Index bs = (adam && o.batch_size > 0 && o.batch_size < b) ? o.batch_size : b;
  auto batches = std::make_shared<MinibatchOrder>(b, bs, o.seed ^ kBatchSalt);
  auto noise_rng = std::make_shared<Rng>(derive_seed(o.seed, SeedStream::TrainingNoise));
  auto op_rng = std::make_shared<Rng>(o.seed ^ kOperatorSalt);

  optim::Function<double> f;
  if (adam) {  // fresh noise and a fresh operator draw for every minibatch
    f = optim::Function<double>([&, batches, noise_rng, op_rng](const Vector& t, Vector& g) {
      const Matrix yb = bs == b ? clean : gather(clean, batches->next());
      const ops::Operator a = op.draw(yb.cols(), *op_rng);
      const Matrix obs = ops::observe(a, yb, o.noise_std, *noise_rng);
      return loss_on(a, obs, yb, t, &g);
    });
  } else {
    f = optim::Function<double>(
        [&](const Vector& t, Vector& g) { return loss_on(train_obs.a, train_obs.g, clean, t, &g); },
        [&](const Vector& t) { return loss_on(train_obs.a, train_obs.g, clean, t, nullptr); });
  }
  auto validation = [&](const Vector& t) {
    const double v = loss_on(val_obs.a, val_obs.g, val, t, nullptr);
    return std::isfinite(v) ? v : std::numeric_limits<double>::infinity();
  };

  const bool has_val = val.cols() > 0;
  const bool early = has_val && o.patience > 0;
  double best = std::numeric_limits<double>::infinity();
  Vector best_x = x;
  int bad = 0;
  bool stopped_early = false;
  GeneralTrainResult res;
  std::map<std::string, std::string> run;
  if (cpt.resume || cpt.sink) run = fingerprint(op, init, clean, val, o);
  if (cpt.resume) {
    const GeneralCheckpoint& c = *cpt.resume;
    check_same_run(c.run, run);
    require(static_cast<Index>(c.best_parameters.size()) == x.size(), "training checkpoint",
            "best_parameters has " + std::to_string(c.best_parameters.size()) + " entries, the run " +
                std::to_string(x.size()));
    best = c.best_validation;
    for (Index i = 0; i < x.size(); ++i) best_x(i) = c.best_parameters[static_cast<size_t>(i)];
    bad = c.bad_validations;
    stopped_early = c.stopped_early;
    if (adam) {
      restore_order(*batches, c);
      rng_restore(*noise_rng, c.noise_rng, "noise");
      rng_restore(*op_rng, c.operator_rng, "operator");
    }
  }
  optim::Observer obs = [&](const optim::Progress& p) {
    if (has_val && p.iteration % o.validate_every == 0) {
      const double v = validation(x);
      res.validations.emplace_back(p.iteration, v);
      switch (optim::early_stopping_step(v, best, bad, early ? o.patience : 0)) {
        case optim::Validation::Improved: best_x = x; break;
        case optim::Validation::Stop: stopped_early = true; return false;
        case optim::Validation::Worse: break;
      }
    }
    return user ? user(p) : true;
  };
  optim::Checkpointing cp;
  cp.every = o.checkpoint_every;
  if (cpt.resume) cp.resume = &cpt.resume->optimizer;
  if (cpt.sink) {
    cp.sink = [&](const optim::State& s) {
      for (double v : s.x)
        if (!std::isfinite(v)) return;  // never write a broken checkpoint
      GeneralCheckpoint c;
      c.run = run;
      c.optimizer = s;
      if (adam) {
        save_order(*batches, c);
        c.noise_rng = rng_text(*noise_rng);
        c.operator_rng = rng_text(*op_rng);
      }
      c.best_validation = best;
      c.best_parameters.assign(best_x.data(), best_x.data() + best_x.size());
      c.bad_validations = bad;
      c.stopped_early = stopped_early;
      cpt.sink(c);
    };
  }
  if (adam) {
    res.optim = optim::Adam(o.adam).minimize<double>(f, x, obs, cp);
  } else {
    res.optim = optim::Lbfgs(o.lbfgs).minimize<double>(f, x, obs, cp);
  }
  if (!x.allFinite()) x = best_x;
  if (o.method == LearningMethod::Bilevel) {
    const BilevelResult& l = shards == 1 && alone ? learner.last_bilevel() : first_shard;
    res.lower_gradient_norm = l.lower_gradient_norm;
    res.cg_residual = l.cg_residual;
    res.lower_iterations = l.lower_iterations;
    res.cg_iterations = l.cg_iterations;
  }
  if (has_val) {  // keep the best-validation iterate (the final one included)
    const double v = validation(x);
    if (v < best) {
      best = v;
      best_x = x;
    }
    x = best_x;
    res.validation_loss = best;
  }
  res.stopped_early = stopped_early;
  res.parameters = x;
  res.model = learner.model(x);
  res.train_loss = loss_on(train_obs.a, train_obs.g, loss_clean, x, nullptr);
  std::string why = res.optim.message;
  if (stopped_early)
    why = "early stopping: the validation loss did not improve for " + std::to_string(o.patience) + " validations";
  if (!res.optim.ok() && !learner.failure().empty()) {
    res.optim.status = optim::Status::Diverged;
    why = "stopped at a non-finite loss: " + learner.failure() + " (the last good parameters are returned)";
  }
  if (!std::isfinite(res.train_loss) && res.optim.status != optim::Status::Diverged) {
    res.optim.status = optim::Status::Diverged;
    why = "the returned parameters give a non-finite training loss: " + learner.failure();
  }
  res.message = why;
  return res;
}

// ---------------------------------------------------------------------------------------
// Checkpoint files

json checkpoint_to_json(const GeneralCheckpoint& c) {
  json t;
  t["run"] = c.run;
  t["optimizer"] = optim::state_to_json(c.optimizer);
  if (!c.batch_rng.empty())
    t["batches"] = {{"rng", c.batch_rng}, {"order", c.batch_order}, {"position", c.batch_position}};
  if (!c.noise_rng.empty()) t["noise_rng"] = c.noise_rng;
  if (!c.operator_rng.empty()) t["operator_rng"] = c.operator_rng;
  json es;
  if (std::isfinite(c.best_validation)) es["best_validation"] = c.best_validation;
  else es["best_validation"] = nullptr;
  es["best_parameters"] = c.best_parameters;
  es["bad_validations"] = c.bad_validations;
  es["stopped"] = c.stopped_early;
  t["early_stopping"] = es;
  return t;
}

GeneralCheckpoint checkpoint_from_json(const json& t, const std::string& w) {
  GeneralCheckpoint c;
  try {
    require(t.is_object(), w, "training_state is not an object");
    require(t.contains("run") && t["run"].is_object(), w, "'run' is missing");
    for (auto it = t["run"].begin(); it != t["run"].end(); ++it) {
      require(it->is_string(), w, "'run." + it.key() + "' is not text");
      c.run[it.key()] = it->get<std::string>();
    }
    require(t.contains("optimizer"), w, "'optimizer' is missing");
    c.optimizer = optim::state_from_json(t["optimizer"]);
    if (t.contains("batches")) {
      const json& b = t["batches"];
      c.batch_rng = b.at("rng").get<std::string>();
      c.batch_order = b.at("order").get<std::vector<Index>>();
      c.batch_position = b.at("position").get<Index>();
    }
    if (t.contains("noise_rng")) c.noise_rng = t["noise_rng"].get<std::string>();
    if (t.contains("operator_rng")) c.operator_rng = t["operator_rng"].get<std::string>();
    const json& es = t.at("early_stopping");
    c.best_validation =
        es.at("best_validation").is_null() ? std::numeric_limits<double>::infinity() : es["best_validation"].get<double>();
    c.best_parameters = es.at("best_parameters").get<std::vector<double>>();
    for (double v : c.best_parameters) require(std::isfinite(v), w, "'early_stopping.best_parameters' is not finite");
    c.bad_validations = es.at("bad_validations").get<int>();
    require(c.bad_validations >= 0, w, "'early_stopping.bad_validations' must be >= 0");
    c.stopped_early = es.at("stopped").get<bool>();
  } catch (const json::exception& e) {
    throw Error(w + ": malformed training state (" + e.what() + ")");
  }
  return c;
}

void save_general_checkpoint(const std::filesystem::path& path, const GeneralCheckpoint& c, const json& report) {
  json j;
  j["format"] = "varlearn-general-checkpoint";
  j["version"] = 1;
  j["training_state"] = checkpoint_to_json(c);
  if (!report.is_null()) j["report"] = report;
  io::write_atomic(path, j.dump(1) + "\n");
}

GeneralCheckpoint load_general_checkpoint(const std::filesystem::path& path) {
  const std::string w = "checkpoint " + quote_for_message(path.string());
  json j;
  try {
    j = json::parse(io::read_text(path));
  } catch (const json::exception& e) {
    throw Error(w + ": not valid JSON (" + e.what() + ")");
  }
  require(j.is_object() && j.value("format", "") == "varlearn-general-checkpoint", w,
          "not a general-model training checkpoint (format != varlearn-general-checkpoint)");
  require(j.value("version", 0) == 1, w, "unsupported checkpoint version");
  require(j.contains("training_state"), w, "'training_state' is missing");
  return checkpoint_from_json(j["training_state"], w);
}

}  // namespace varlearn::general
