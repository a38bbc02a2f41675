#include "varlearn/learn/model.hpp"

#include <Eigen/Cholesky>
#include <cmath>

#include "unroller.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/names.hpp"
#include "varlearn/core/random.hpp"

namespace varlearn::learn {

namespace {
constexpr NameTable<Method, 2> kMethodNames{{{Method::Bilevel, "bilevel"}, {Method::Unrolled, "unrolled"}}};
}  // namespace

const char* to_string(Method m) { return name_of(kMethodNames, m); }
Method parse_method(const std::string& s) { return parse_name(kMethodNames, s, "method"); }

std::string ModelSpec::describe() const {
  std::string s = method == Method::Bilevel ? "bilevel" : "unrolled N=" + std::to_string(depth);
  s += " k=" + std::to_string(rank) + " n=" + std::to_string(n);
  if (method == Method::Unrolled) s += std::string(" stepsize ") + to_string(stepsize_mode);
  return s;
}
void ModelSpec::validate() const {
  require(n >= 1, "model", "dimension n must be >= 1");
  require(rank >= 1, "model", "rank k must be >= 1");
  require(method == Method::Bilevel || (depth >= 1 && depth <= kMaxDepth), "model",
          std::string("depth N = ") + std::to_string(depth) + " must be in [1, " + std::to_string(kMaxDepth) + "]");
}

void InitOptions::validate() const {
  require(std::isfinite(scale) && scale >= 0, "InitOptions", "scale must be >= 0");
  require(std::isfinite(stepsize) && stepsize > 0, "InitOptions", "stepsize must be > 0");
  require(std::isfinite(spread) && spread >= 0 && spread < 2, "InitOptions", "spread must be in [0, 2)");
}

QuadraticModel QuadraticModel::random(const ModelSpec& spec, const InitOptions& o) {
  spec.validate();
  o.validate();
  Rng rng(o.seed);
  const Matrix r = gaussian_matrix(spec.rank, spec.n, o.scale / std::sqrt(static_cast<double>(spec.n)), rng);
  std::vector<double> w{o.stepsize};
  if (spec.method == Method::Unrolled && spec.stepsize_mode == StepsizeMode::PerIteration && spec.depth > 1) {
    w.resize(static_cast<size_t>(spec.depth));
    for (int j = 0; j < spec.depth; ++j)
      w[static_cast<size_t>(j)] = o.stepsize * (1 + o.spread * (static_cast<double>(j) / (spec.depth - 1) - 0.5));
  }
  return from_regularizer(spec, r, w);
}

QuadraticModel QuadraticModel::from_regularizer(const ModelSpec& spec, const Matrix& r,
                                                const std::vector<double>& w) {
  spec.validate();
  const char* where = "QuadraticModel";
  require(r.rows() == spec.rank && r.cols() == spec.n, where,
          "regularizer is " + std::to_string(r.rows()) + "x" + std::to_string(r.cols()) +
              ", model " + spec.describe() + " needs " + std::to_string(spec.rank) + "x" +
              std::to_string(spec.n));
  require(r.allFinite(), where, "regularizer has NaN/inf entries");
  QuadraticModel m;
  m.spec_ = spec;
  m.r_ = r;
  const Index ns = spec.num_stepsizes();
  if (ns > 0) {
    require(!w.empty() && (static_cast<Index>(w.size()) == 1 || static_cast<Index>(w.size()) == ns),
            where, "need 1 or " + std::to_string(ns) + " stepsizes, got " + std::to_string(w.size()));
    for (double x : w) require(std::isfinite(x) && x > 0, where, "stepsize omega must be > 0");
    m.omega_.assign(static_cast<size_t>(ns), w[0]);
    if (static_cast<Index>(w.size()) == ns) m.omega_ = w;
  }
  return m;
}

Vector QuadraticModel::parameters() const {
  Vector t(spec_.num_parameters());
  const Index kn = spec_.n * spec_.rank;
  Eigen::Map<Matrix>(t.data(), spec_.rank, spec_.n) = r_;
  spec_.stepsize_policy().to_alpha(omega_, t.data() + kn);
  return t;
}

void QuadraticModel::set_parameters(const Vector& t) {
  require(t.size() == spec_.num_parameters(), "QuadraticModel::set_parameters",
          "got " + std::to_string(t.size()) + " parameters, model needs " +
              std::to_string(spec_.num_parameters()));
  require(t.allFinite(), "QuadraticModel::set_parameters", "parameters have NaN/inf entries");
  const Index kn = spec_.n * spec_.rank;
  r_ = Eigen::Map<const Matrix>(t.data(), spec_.rank, spec_.n);
  spec_.stepsize_policy().from_alpha(t.data() + kn, omega_);
}

Matrix QuadraticModel::denoiser() const {
  const Index n = spec_.n;
  const Matrix eye = Matrix::Identity(n, n);
  if (spec_.method == Method::Bilevel) {
    Matrix a = eye;
    a.noalias() += r_.transpose() * r_;
    Eigen::LLT<Matrix> llt(a);
    Matrix t = llt.solve(eye);
    return 0.5 * (t + t.transpose());
  }
  Matrix t = detail::unrolled_forward<double>(r_, spec_.stepsize_policy().expand(omega_), eye);
  return 0.5 * (t + t.transpose());
}

Matrix QuadraticModel::apply(const Matrix& x) const {
  require(x.rows() == spec_.n, "QuadraticModel::apply",
          "frames have " + std::to_string(x.rows()) + " rows, model n = " + std::to_string(spec_.n));
  return denoiser() * x;
}

theory::Family QuadraticModel::family() const {
  if (spec_.method == Method::Bilevel) return theory::Family::bilevel();
  require(spec_.stepsize_mode != StepsizeMode::PerIteration, "QuadraticModel::family",
          "per-iteration stepsizes are not a one-stepsize theory family");
  return theory::Family::unrolled(spec_.depth, omega_.front());
}

}  // namespace varlearn::learn
