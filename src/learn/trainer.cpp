#include "varlearn/learn/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>

#include "varlearn/core/error.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/learn/data.hpp"

namespace varlearn::learn {

OptimizerKind parse_optimizer(const std::string& s) {
  if (s == "lbfgs") return OptimizerKind::Lbfgs;
  if (s == "adam") return OptimizerKind::Adam;
  throw Error("unknown optimizer '" + s + "' (expected lbfgs or adam)");
}
const char* to_string(OptimizerKind k) { return k == OptimizerKind::Lbfgs ? "lbfgs" : "adam"; }

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
}

namespace {

/// Loss and gradient on one minibatch, by the path the options choose (the structured path
/// forms the batch's moments first).
template <class Real>
double batch_loss(const ModelSpec& spec, const VectorT<Real>& t, const std::vector<double>& w, const MatrixT<Real>& xb,
                  const MatrixT<Real>& yb, VectorT<Real>& g, const TrainOptions& o) {
  if (o.path == DataPath::Structured) return loss_structured<Real>(spec, t, w, Moments<Real>::from_frames(xb, yb), &g);
  return loss_direct<Real>(spec, t, w, xb, yb, &g, o.unroll);
}

/// Runs the chosen optimizer on f from the model's parameters, with early stopping on
/// `validation` (if given) and the user's observer.
template <class Real>
TrainResult run(const QuadraticModel& init, const optim::Function<Real>& f,
                const std::function<double(const Vector&)>& validation,
                const std::function<double(const Vector&)>& train_loss, const TrainOptions& o,
                const optim::Observer& user) {
  VectorT<Real> x = init.parameters().template cast<Real>();
  const bool early = validation && o.patience > 0;
  double best = std::numeric_limits<double>::infinity();
  VectorT<Real> best_x = x;
  int bad = 0;
  bool stopped_early = false;
  optim::Observer obs = [&](const optim::Progress& p) {
    if (validation && p.iteration % o.validate_every == 0) {
      const double v = validation(x.template cast<double>());
      if (v < best) {
        best = v;
        best_x = x;
        bad = 0;
      } else if (early && ++bad >= o.patience) {
        stopped_early = true;
        return false;
      }
    }
    return user ? user(p) : true;
  };
  TrainResult res;
  if (o.optimizer == OptimizerKind::Lbfgs)
    res.optim = optim::Lbfgs(o.lbfgs).minimize<Real>(f, x, obs);
  else
    res.optim = optim::Adam(o.adam).minimize<Real>(f, x, obs);
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

/// Minibatch index stream: seeded shuffle per epoch.
class Batches {
public:
  Batches(Index b, Index size, std::uint64_t seed) : perm_(static_cast<size_t>(b)), size_(size), rng_(seed) {
    std::iota(perm_.begin(), perm_.end(), Index{0});
    pos_ = perm_.size();
  }
  std::vector<Index> next() {
    if (pos_ + static_cast<size_t>(size_) > perm_.size()) {
      std::shuffle(perm_.begin(), perm_.end(), rng_);
      pos_ = 0;
    }
    std::vector<Index> out(perm_.begin() + static_cast<std::ptrdiff_t>(pos_),
                           perm_.begin() + static_cast<std::ptrdiff_t>(pos_ + static_cast<size_t>(size_)));
    pos_ += static_cast<size_t>(size_);
    return out;
  }

private:
  std::vector<Index> perm_;
  Index size_;
  Rng rng_;
  size_t pos_ = 0;
};

template <class Real, class TData>
TrainResult frames_impl(const QuadraticModel& init, const MatrixT<TData>& xin, const MatrixT<TData>& yin,
                        const TrainOptions& o, const optim::Observer& user) {
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
  const Split sp = split_columns(xin.cols(), o.validation_fraction, o.seed);
  const MatrixT<Real> x = gather(xin, sp.train).template cast<Real>();
  const MatrixT<Real> y = gather(yin, sp.train).template cast<Real>();
  const Index b = x.cols();
  const auto w = init.stepsizes();
  const Moments<double> train_m = Moments<double>::from_frames(x.template cast<double>(), y.template cast<double>());
  std::function<double(const Vector&)> validation;
  std::shared_ptr<Moments<double>> val_m;
  if (!sp.val.empty()) {
    val_m = std::make_shared<Moments<double>>(Moments<double>::from_frames(
        gather(xin, sp.val).template cast<double>(), gather(yin, sp.val).template cast<double>()));
    validation = [&spec, w, val_m](const Vector& t) { return loss_structured<double>(spec, t, w, *val_m, nullptr); };
  }
  auto train_loss = [&](const Vector& t) { return loss_structured<double>(spec, t, w, train_m, nullptr); };
  const bool minibatch = o.batch_size > 0 && o.batch_size < b;
  require(!minibatch || o.optimizer == OptimizerKind::Adam, where,
          "minibatches need the Adam optimizer (L-BFGS is full-batch)");
  if (!minibatch) {
    if (o.path == DataPath::Direct) return run<Real>(init, DirectLoss<Real>(spec, w, x, y, o.unroll), validation, train_loss, o, user);
    return run<Real>(init, StructuredLoss<Real>(spec, w, Moments<Real>::from_frames(x, y)), validation, train_loss, o,
                     user);
  }
  auto batches = std::make_shared<Batches>(b, o.batch_size, o.seed);
  const optim::Function<Real> f([&, batches](const VectorT<Real>& t, VectorT<Real>& g) {
    const auto idx = batches->next();
    const MatrixT<Real> xb = gather(x, idx), yb = gather(y, idx);
    return batch_loss<Real>(spec, t, w, xb, yb, g, o);
  });
  return run<Real>(init, f, validation, train_loss, o, user);
}

}  // namespace

template <class T>
TrainResult train_frames(const QuadraticModel& init, const MatrixT<T>& noisy, const MatrixT<T>& clean,
                         const TrainOptions& o, const optim::Observer& observer) {
  if (o.precision == Precision::Float32) return frames_impl<float, T>(init, noisy, clean, o, observer);
  return frames_impl<double, T>(init, noisy, clean, o, observer);
}

TrainResult train_expected(const QuadraticModel& init, const Matrix& s, double noise_std,
                           const TrainOptions& o, const optim::Observer& observer) {
  o.validate();
  const ModelSpec& spec = init.spec();
  require(s.rows() == spec.n && s.cols() == spec.n, "train_expected",
          "second moment is " + std::to_string(s.rows()) + "x" + std::to_string(s.cols()) +
              ", model n = " + std::to_string(spec.n));
  const auto w = init.stepsizes();
  const auto md = std::make_shared<Moments<double>>(Moments<double>::expected(s, noise_std));
  auto train_loss = [&spec, w, md](const Vector& t) { return loss_structured<double>(spec, t, w, *md, nullptr); };
  if (o.precision == Precision::Float32) {
    return run<float>(init, StructuredLoss<float>(spec, w, Moments<float>::expected(s, noise_std)), {}, train_loss, o,
                      observer);
  }
  return run<double>(init, StructuredLoss<double>(spec, w, *md), {}, train_loss, o, observer);
}

namespace {
template <class Real>
TrainResult sampled_impl(const QuadraticModel& init, const Matrix& clean, double sigma, const TrainOptions& o,
                         const optim::Observer& user) {
  const ModelSpec& spec = init.spec();
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
  auto batches = std::make_shared<Batches>(b, bs, o.seed);
  auto rng = std::make_shared<Rng>(derive_seed(o.seed, SeedStream::TrainingNoise));
  const Real s = static_cast<Real>(sigma);
  const optim::Function<Real> f([&, batches, rng, s](const VectorT<Real>& t, VectorT<Real>& g) {
    const auto idx = bs == b ? std::vector<Index>() : batches->next();
    const MatrixT<Real> yb = bs == b ? y : gather(y, idx);
    MatrixT<Real> xb = yb;
    add_gaussian_noise_inplace(xb, s, *rng);
    return batch_loss<Real>(spec, t, w, xb, yb, g, o);
  });
  return run<Real>(init, f, validation, train_loss, o, user);
}
}  // namespace

TrainResult train_sampled_noise(const QuadraticModel& init, const Matrix& clean, double noise_std,
                                const TrainOptions& o, const optim::Observer& observer) {
  o.validate();
  const char* where = "train_sampled_noise";
  require(clean.cols() >= 1, where, "no frames (B = 0)");
  require(clean.rows() == init.spec().n, where,
          "frames have " + std::to_string(clean.rows()) + " rows, model n = " + std::to_string(init.spec().n));
  require(clean.allFinite(), where, "frames contain NaN/inf");
  require(std::isfinite(noise_std) && noise_std > 0, where, "noise std sigma must be > 0");
  require(o.optimizer == OptimizerKind::Adam, where,
          "fresh noise per step is a stochastic objective: use the Adam optimizer");
  if (o.precision == Precision::Float32) return sampled_impl<float>(init, clean, noise_std, o, observer);
  return sampled_impl<double>(init, clean, noise_std, o, observer);
}

template TrainResult train_frames(const QuadraticModel&, const MatrixT<float>&, const MatrixT<float>&,
                                  const TrainOptions&, const optim::Observer&);
template TrainResult train_frames(const QuadraticModel&, const MatrixT<double>&, const MatrixT<double>&,
                                  const TrainOptions&, const optim::Observer&);

}  // namespace varlearn::learn
