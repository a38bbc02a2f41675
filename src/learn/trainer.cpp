#include "varlearn/learn/trainer.hpp"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <sstream>

#include "varlearn/core/batches.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/names.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/dist/dist.hpp"
#include "varlearn/learn/data.hpp"

namespace varlearn::learn {

namespace {
constexpr NameTable<OptimizerKind, 2> kOptimizerNames{{{OptimizerKind::Lbfgs, "lbfgs"}, {OptimizerKind::Adam, "adam"}}};
}  // namespace

OptimizerKind parse_optimizer(const std::string& s) { return parse_name(kOptimizerNames, s, "optimizer"); }
const char* to_string(OptimizerKind k) { return name_of(kOptimizerNames, k); }

void TrainOptions::validate() const {
  const char* w = "TrainOptions";
  lbfgs.validate();
  adam.validate();
  unroll.validate();
  require(batch_size >= 0, w, "batch_size must be >= 0");
  require(validation_fraction >= 0 && validation_fraction <= 0.9, w,
          "validation_fraction must be in [0, 0.9]");
  require(patience >= 0, w, "patience must be >= 0");
  require(validate_every >= 1, w, "validate_every must be >= 1");
  require(checkpoint_every >= 0, w, "checkpoint_every must be >= 0");
}

namespace {

/// The moments of frames spread over the ranks (docs/scale-out.md): each rank forms the sums
/// over its share of the frames, dist::sum adds them in rank order, so every rank holds the
/// same sufficient statistics after one pass. One rank: Moments::from_frames itself.
template <class Real>
Moments<Real> moments_of(const MatrixT<Real>& x, const MatrixT<Real>& y) {
  if (dist::size() == 1) return Moments<Real>::from_frames(x, y);
  const Index n = x.rows(), b = x.cols(), nn = n * n;
  require(b >= 1 && y.rows() == n && y.cols() == b, "moments", "no frames, or noisy and clean frames differ in shape");
  const dist::Share s = dist::share(b);
  Vector sums = Vector::Zero(2 * nn + 1);  // [B_r xx_r, B_r xy_r, B_r yy_r]
  if (s.count > 0) {
    const Moments<Real> m = Moments<Real>::from_frames(x.middleCols(s.begin, s.count), y.middleCols(s.begin, s.count));
    const double c = double(s.count);
    Eigen::Map<Matrix>(sums.data(), n, n) = c * m.xx.template cast<double>();
    Eigen::Map<Matrix>(sums.data() + nn, n, n) = c * m.xy.template cast<double>();
    sums(2 * nn) = c * m.yy;
  }
  dist::sum(sums);
  Moments<Real> m;
  m.xx = (Eigen::Map<const Matrix>(sums.data(), n, n) / double(b)).template cast<Real>();
  m.xy = (Eigen::Map<const Matrix>(sums.data() + nn, n, n) / double(b)).template cast<Real>();
  m.yy = sums(2 * nn) / double(b);
  m.frames = b;
  return m;
}

/// Loss and gradient on one minibatch, by the path the options choose (the structured path
/// forms the batch's moments first).
template <class Real>
double batch_loss(const ModelSpec& spec, const VectorT<Real>& t, const std::vector<double>& w, const MatrixT<Real>& xb,
                  const MatrixT<Real>& yb, VectorT<Real>& g, const TrainOptions& o) {
  if (o.path == DataPath::Structured) return loss_structured<Real>(spec, t, w, moments_of<Real>(xb, yb), &g);
  return loss_direct<Real>(spec, t, w, xb, yb, &g, o.unroll);
}

/// The run's fingerprint (TrainingCheckpoint::run) and the hooks that save and restore the
/// stochastic objective's state (minibatch order, noise generator) beside the optimizer's.
struct Context {
  std::map<std::string, std::string> run;
  std::function<void(TrainingCheckpoint&)> save;
  std::function<void(const TrainingCheckpoint&)> restore;
  TrainCheckpointing checkpointing;
};

std::string text(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

/// FNV-1a over the bit patterns of the values (as double): tells data sets apart.
template <class M>
std::string checksum(const M& m) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (Index j = 0; j < m.cols(); ++j)
    for (Index i = 0; i < m.rows(); ++i) {
      const double v = static_cast<double>(m(i, j));
      std::uint64_t bits = 0;
      static_assert(sizeof bits == sizeof v);
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

/// What makes two runs the same run (all but the iteration budget and checkpoint_every).
std::map<std::string, std::string> fingerprint(const char* entry, const QuadraticModel& init, const TrainOptions& o) {
  std::map<std::string, std::string> f;
  f["entry"] = entry;
  f["model"] = init.spec().describe();
  if (init.spec().method == Method::Unrolled && init.spec().stepsize_mode == StepsizeMode::Fixed) {
    std::string w;
    for (double v : init.stepsizes()) w += (w.empty() ? "" : " ") + text(v);
    f["fixed_stepsizes"] = w;
  }
  f["optimizer"] = to_string(o.optimizer);
  if (o.optimizer == OptimizerKind::Adam) {
    const optim::AdamOptions& a = o.adam;
    f["adam"] = "learning_rate " + text(a.learning_rate) + " beta1 " + text(a.beta1) + " beta2 " + text(a.beta2) +
                " epsilon " + text(a.epsilon) + " decay " + text(a.decay) + " decay_every " +
                std::to_string(a.decay_every) + " gradient_tolerance " + text(a.gradient_tolerance) +
                " divergence_factor " + text(a.divergence_factor) + " record_history " +
                std::to_string(a.record_history);
  } else {
    const optim::LbfgsOptions& l = o.lbfgs;
    f["lbfgs"] = "memory " + std::to_string(l.memory) + " gradient_tolerance " + text(l.gradient_tolerance) +
                 " loss_tolerance " + text(l.loss_tolerance) + " past " + std::to_string(l.past) + " c1 " +
                 text(l.line_search.c1) + " c2 " + text(l.line_search.c2) + " max_evaluations " +
                 std::to_string(l.line_search.max_evaluations) + " expansion " + text(l.line_search.expansion) +
                 " max_backtracking " + std::to_string(l.line_search.max_backtracking) + " record_history " +
                 std::to_string(l.record_history);
  }
  f["precision"] = o.precision == Precision::Float32 ? "float32" : "float64";
  f["path"] = o.path == DataPath::Auto ? "auto" : o.path == DataPath::Direct ? "direct" : "structured";
  f["unroll"] = "checkpoint_every " + std::to_string(o.unroll.checkpoint_every) + " memory_budget_bytes " +
                text(o.unroll.memory_budget_bytes) + " use_gram " + std::to_string(o.unroll.use_gram);
  f["batch_size"] = std::to_string(o.batch_size);
  f["validation_fraction"] = text(o.validation_fraction);
  f["patience"] = std::to_string(o.patience);
  f["validate_every"] = std::to_string(o.validate_every);
  f["seed"] = std::to_string(o.seed);
  return f;
}

/// Throws Error naming every difference between the checkpoint's run and this one.
void check_same_run(const std::map<std::string, std::string>& saved, const std::map<std::string, std::string>& now) {
  std::string diff;
  auto add = [&](const std::string& d) { diff += (diff.empty() ? "" : "; ") + d; };
  for (const auto& [k, v] : now) {
    const auto it = saved.find(k);
    if (it == saved.end()) add(std::string("'") + k + "' is missing in the checkpoint (this run: " + v + ")");
    else if (it->second != v) add(std::string("'") + k + "' is " + it->second + " in the checkpoint but " + v + " in this run");
  }
  for (const auto& [k, v] : saved)
    if (!now.count(k)) add(std::string("'") + k + "' (" + v + ") is in the checkpoint but not in this run");
  require(diff.empty(), "training checkpoint", "cannot resume a different run: " + diff);
}

/// Runs the chosen optimizer on f from the model's parameters, with early stopping on
/// `validation` (if given) and the user's observer; checkpoints / resumes through ctx.
template <class Real>
TrainResult run(const QuadraticModel& init, const optim::Function<Real>& f,
                const std::function<double(const Vector&)>& validation,
                const std::function<double(const Vector&)>& train_loss, const TrainOptions& o,
                const optim::Observer& user, const Context& ctx) {
  VectorT<Real> x = init.parameters().template cast<Real>();
  const bool early = validation && o.patience > 0;
  double best = std::numeric_limits<double>::infinity();
  VectorT<Real> best_x = x;
  int bad = 0;
  bool stopped_early = false;
  const TrainingCheckpoint* resume = ctx.checkpointing.resume;
  if (resume) {
    check_same_run(resume->run, ctx.run);
    const char* where = "training checkpoint";
    require(static_cast<Index>(resume->best_parameters.size()) == x.size(), where,
            "best_parameters has " + std::to_string(resume->best_parameters.size()) + " entries, the model " +
                std::to_string(x.size()));
    require(resume->bad_validations >= 0, where, "bad_validations must be >= 0");
    best = resume->best_validation;
    for (Index i = 0; i < x.size(); ++i) best_x(i) = static_cast<Real>(resume->best_parameters[static_cast<size_t>(i)]);
    bad = resume->bad_validations;
    stopped_early = resume->stopped_early;
    if (ctx.restore) ctx.restore(*resume);
    else
      require(resume->batch_rng.empty() && resume->noise_rng.empty(), where,
              "holds a minibatch order or noise generator, but this run is deterministic (full batch)");
  }
  optim::Observer obs = [&](const optim::Progress& p) {
    if (validation && p.iteration % o.validate_every == 0) {
      const double v = validation(x.template cast<double>());
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
  if (resume) cp.resume = &resume->optimizer;
  if (ctx.checkpointing.sink) {
    cp.sink = [&](const optim::State& s) {
      Vector theta(static_cast<Index>(s.x.size()));
      for (Index i = 0; i < theta.size(); ++i) theta(i) = s.x[static_cast<size_t>(i)];
      if (!theta.allFinite()) return;  // never write a broken checkpoint (the run diverges next)
      TrainingCheckpoint c;
      c.run = ctx.run;
      c.model = init;
      c.model.set_parameters(theta);
      c.optimizer = s;
      c.best_validation = best;
      c.best_parameters.resize(static_cast<size_t>(best_x.size()));
      for (Index i = 0; i < best_x.size(); ++i) c.best_parameters[static_cast<size_t>(i)] = static_cast<double>(best_x(i));
      c.bad_validations = bad;
      c.stopped_early = stopped_early;
      if (ctx.save) ctx.save(c);
      ctx.checkpointing.sink(c);
    };
  }
  TrainResult res;
  if (o.optimizer == OptimizerKind::Lbfgs)
    res.optim = optim::Lbfgs(o.lbfgs).minimize<Real>(f, x, obs, cp);
  else
    res.optim = optim::Adam(o.adam).minimize<Real>(f, x, obs, cp);
  if (validation) {  // keep the best-validation iterate (the final one included)
    const double v = validation(x.template cast<double>());
    if (v < best) { best = v; best_x = x; }
    x = best_x;
    res.validation_loss = best;
  }
  if (stopped_early) res.optim.message = "early stopping: validation loss did not improve for " +
                                         std::to_string(o.patience) + " validations";
  res.model = init;
  Vector theta = x.template cast<double>();
  if (!theta.allFinite()) theta = init.parameters();
  res.model.set_parameters(theta);
  res.train_loss = train_loss(theta);
  res.message = std::string(optim::to_string(res.optim.status)) + ": " + res.optim.message;
  return res;
}

/// Columns `idx` of m.
template <class M>
M gather(const M& m, const std::vector<Index>& idx) {
  M out(m.rows(), static_cast<Index>(idx.size()));
  for (size_t j = 0; j < idx.size(); ++j) out.col(static_cast<Index>(j)) = m.col(idx[j]);
  return out;
}

struct Split {
  std::vector<Index> train, val;
};
Split split_columns(Index b, double fraction, std::uint64_t seed) {
  Split s;
  std::vector<Index> idx(static_cast<size_t>(b));
  std::iota(idx.begin(), idx.end(), Index{0});
  Index nval = fraction > 0 ? std::max<Index>(1, static_cast<Index>(std::floor(fraction * b))) : 0;
  require(b - nval >= 1, "training", "validation split leaves no training frames");
  if (nval > 0) {
    Rng rng(derive_seed(seed, SeedStream::ValidationSplit));
    std::shuffle(idx.begin(), idx.end(), rng);
  }
  s.val.assign(idx.begin(), idx.begin() + nval);
  s.train.assign(idx.begin() + nval, idx.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}
/// The minibatch order in and out of a checkpoint's batch_rng / batch_order / batch_position.
void save_order(const MinibatchOrder& order, TrainingCheckpoint& c) {
  MinibatchOrder::State st = order.state();
  c.batch_rng = std::move(st.rng);
  c.batch_order = std::move(st.order);
  c.batch_position = st.position;
}
void restore_order(MinibatchOrder& order, const TrainingCheckpoint& c) {
  order.restore({c.batch_rng, c.batch_order, c.batch_position});
}



template <class Real, class TData>
TrainResult frames_impl(const QuadraticModel& init, const MatrixT<TData>& xin, const MatrixT<TData>& yin,
                        const TrainOptions& o, const optim::Observer& user, const TrainCheckpointing& cpt) {
  o.validate();
  const ModelSpec& spec = init.spec();
  const char* where = "train";
  require(xin.cols() >= 1, where, "no frames (B = 0)");
  require(xin.rows() == yin.rows() && xin.cols() == yin.cols(), where,
          "noisy frames are " + std::to_string(xin.rows()) + "x" + std::to_string(xin.cols()) +
              " but clean frames " + std::to_string(yin.rows()) + "x" + std::to_string(yin.cols()));
  require(xin.rows() == spec.n, where,
          "frames have " + std::to_string(xin.rows()) + " rows, model n = " + std::to_string(spec.n));
  require(xin.allFinite() && yin.allFinite(), where, "frames contain NaN/inf");
  Context ctx;
  ctx.checkpointing = cpt;
  if (cpt.resume || cpt.sink) {
    ctx.run = fingerprint("frames", init, o);
    ctx.run["data"] = std::to_string(xin.rows()) + "x" + std::to_string(xin.cols()) + " checksum " +
                      checksum(xin) + " " + checksum(yin);
  }
  const Split sp = split_columns(xin.cols(), o.validation_fraction, o.seed);
  const MatrixT<Real> x = gather(xin, sp.train).template cast<Real>();
  const MatrixT<Real> y = gather(yin, sp.train).template cast<Real>();
  const Index b = x.cols();
  const auto w = init.stepsizes();
  const Moments<double> train_m = moments_of<double>(x.template cast<double>(), y.template cast<double>());
  std::function<double(const Vector&)> validation;
  std::shared_ptr<Moments<double>> val_m;
  if (!sp.val.empty()) {
    val_m = std::make_shared<Moments<double>>(
        moments_of<double>(gather(xin, sp.val).template cast<double>(), gather(yin, sp.val).template cast<double>()));
    validation = [&spec, w, val_m](const Vector& t) { return loss_structured<double>(spec, t, w, *val_m, nullptr); };
  }
  auto train_loss = [&](const Vector& t) { return loss_structured<double>(spec, t, w, train_m, nullptr); };
  const bool minibatch = o.batch_size > 0 && o.batch_size < b;
  require(!minibatch || o.optimizer == OptimizerKind::Adam, where,
          "minibatches need the Adam optimizer (L-BFGS is full-batch)");
  if (!minibatch) {
    if (o.path == DataPath::Direct)
      return run<Real>(init, DirectLoss<Real>(spec, w, x, y, o.unroll), validation, train_loss, o, user, ctx);
    return run<Real>(init, StructuredLoss<Real>(spec, w, moments_of<Real>(x, y)), validation, train_loss, o,
                     user, ctx);
  }
  auto batches = std::make_shared<MinibatchOrder>(b, o.batch_size, o.seed);
  ctx.save = [batches](TrainingCheckpoint& c) { save_order(*batches, c); };
  ctx.restore = [batches](const TrainingCheckpoint& c) { restore_order(*batches, c); };
  const optim::Function<Real> f([&, batches](const VectorT<Real>& t, VectorT<Real>& g) {
    const auto idx = batches->next();
    const MatrixT<Real> xb = gather(x, idx), yb = gather(y, idx);
    return batch_loss<Real>(spec, t, w, xb, yb, g, o);
  });
  return run<Real>(init, f, validation, train_loss, o, user, ctx);
}

}  // namespace

template <class T>
TrainResult train_frames(const QuadraticModel& init, const MatrixT<T>& noisy, const MatrixT<T>& clean,
                         const TrainOptions& o, const optim::Observer& observer, const TrainCheckpointing& cpt) {
  if (o.precision == Precision::Float32) return frames_impl<float, T>(init, noisy, clean, o, observer, cpt);
  return frames_impl<double, T>(init, noisy, clean, o, observer, cpt);
}

TrainResult train_expected(const QuadraticModel& init, const Matrix& s, double noise_std,
                           const TrainOptions& o, const optim::Observer& observer, const TrainCheckpointing& cpt) {
  o.validate();
  const ModelSpec& spec = init.spec();
  require(s.rows() == spec.n && s.cols() == spec.n, "train_expected",
          "second moment is " + std::to_string(s.rows()) + "x" + std::to_string(s.cols()) +
              ", model n = " + std::to_string(spec.n));
  const auto w = init.stepsizes();
  const auto md = std::make_shared<Moments<double>>(Moments<double>::expected(s, noise_std));
  auto train_loss = [&spec, w, md](const Vector& t) { return loss_structured<double>(spec, t, w, *md, nullptr); };
  Context ctx;
  ctx.checkpointing = cpt;
  if (cpt.resume || cpt.sink) {
    ctx.run = fingerprint("expected", init, o);
    ctx.run["data"] = "second moment " + std::to_string(s.rows()) + "x" + std::to_string(s.cols()) + " checksum " +
                      checksum(s);
    ctx.run["noise_std"] = text(noise_std);
  }
  if (o.precision == Precision::Float32) {
    return run<float>(init, StructuredLoss<float>(spec, w, Moments<float>::expected(s, noise_std)), {}, train_loss, o,
                      observer, ctx);
  }
  return run<double>(init, StructuredLoss<double>(spec, w, *md), {}, train_loss, o, observer, ctx);
}

namespace {
template <class Real>
TrainResult sampled_impl(const QuadraticModel& init, const Matrix& clean, double sigma, const TrainOptions& o,
                         const optim::Observer& user, const TrainCheckpointing& cpt) {
  const ModelSpec& spec = init.spec();
  Context ctx;
  ctx.checkpointing = cpt;
  if (cpt.resume || cpt.sink) {
    ctx.run = fingerprint("sampled_noise", init, o);
    ctx.run["data"] = std::to_string(clean.rows()) + "x" + std::to_string(clean.cols()) + " checksum " +
                      checksum(clean);
    ctx.run["noise_std"] = text(sigma);
  }
  const Split sp = split_columns(clean.cols(), o.validation_fraction, o.seed);
  const Matrix ytr = gather(clean, sp.train);
  const MatrixT<Real> y = ytr.template cast<Real>();
  const auto w = init.stepsizes();
  const auto train_m = std::make_shared<Moments<double>>(
      Moments<double>::expected(empirical_second_moment(ytr), sigma));
  auto train_loss = [&spec, w, train_m](const Vector& t) { return loss_structured<double>(spec, t, w, *train_m, nullptr); };
  std::function<double(const Vector&)> validation;
  if (!sp.val.empty()) {
    auto vm = std::make_shared<Moments<double>>(
        Moments<double>::expected(empirical_second_moment(gather(clean, sp.val)), sigma));
    validation = [&spec, w, vm](const Vector& t) { return loss_structured<double>(spec, t, w, *vm, nullptr); };
  }
  const Index b = y.cols();
  const Index bs = (o.batch_size > 0 && o.batch_size < b) ? o.batch_size : b;
  auto batches = std::make_shared<MinibatchOrder>(b, bs, o.seed);
  auto rng = std::make_shared<Rng>(derive_seed(o.seed, SeedStream::TrainingNoise));
  ctx.save = [batches, rng](TrainingCheckpoint& c) {
    save_order(*batches, c);
    std::ostringstream os;
    os << *rng;
    c.noise_rng = os.str();
  };
  ctx.restore = [batches, rng](const TrainingCheckpoint& c) {
    restore_order(*batches, c);
    require(!c.noise_rng.empty(), "training checkpoint", "the noise generator state is missing");
    std::istringstream is(c.noise_rng);
    is >> *rng;
    require(!is.fail(), "training checkpoint", "the noise generator state is malformed");
  };
  const Real s = static_cast<Real>(sigma);
  const optim::Function<Real> f([&, batches, rng, s](const VectorT<Real>& t, VectorT<Real>& g) {
    const auto idx = bs == b ? std::vector<Index>() : batches->next();
    const MatrixT<Real> yb = bs == b ? y : gather(y, idx);
    MatrixT<Real> xb = yb;
    add_gaussian_noise_inplace(xb, s, *rng);
    return batch_loss<Real>(spec, t, w, xb, yb, g, o);
  });
  return run<Real>(init, f, validation, train_loss, o, user, ctx);
}
}  // namespace

TrainResult train_sampled_noise(const QuadraticModel& init, const Matrix& clean, double noise_std,
                                const TrainOptions& o, const optim::Observer& observer,
                                const TrainCheckpointing& cpt) {
  o.validate();
  const char* where = "train_sampled_noise";
  require(clean.cols() >= 1, where, "no frames (B = 0)");
  require(clean.rows() == init.spec().n, where,
          "frames have " + std::to_string(clean.rows()) + " rows, model n = " + std::to_string(init.spec().n));
  require(clean.allFinite(), where, "frames contain NaN/inf");
  require(std::isfinite(noise_std) && noise_std > 0, where, "noise std sigma must be > 0");
  require(o.optimizer == OptimizerKind::Adam, where,
          "fresh noise per step is a stochastic objective: use the Adam optimizer");
  if (o.precision == Precision::Float32) return sampled_impl<float>(init, clean, noise_std, o, observer, cpt);
  return sampled_impl<double>(init, clean, noise_std, o, observer, cpt);
}

template TrainResult train_frames(const QuadraticModel&, const MatrixT<float>&, const MatrixT<float>&,
                                  const TrainOptions&, const optim::Observer&, const TrainCheckpointing&);
template TrainResult train_frames(const QuadraticModel&, const MatrixT<double>&, const MatrixT<double>&,
                                  const TrainOptions&, const optim::Observer&, const TrainCheckpointing&);

}  // namespace varlearn::learn
