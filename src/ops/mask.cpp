#include "varlearn/ops/mask.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/names.hpp"
#include "varlearn/core/range.hpp"
#include "varlearn/ops/operator.hpp"

namespace varlearn::ops {
namespace {

constexpr NameTable<MaskKind, 2> kMaskKindNames{{{MaskKind::Random, "random"}, {MaskKind::Burst, "burst"}}};

/// Bursts per frame: floor(x) or ceil(x) with x = p n / L, the larger one with probability frac(x).
struct BurstCount {
  Index floor = 0;
  double fraction = 0;
  Index max() const { return fraction > 0 ? floor + 1 : floor; }
};
BurstCount burst_count(Index n, double p, Index length) {
  double x = p * static_cast<double>(n) / static_cast<double>(length);
  // p n / L meant as an integer (p = 0.3, n = 10, L = 1) must not become floor + a 1e-16 chance.
  if (std::abs(x - std::round(x)) <= 1e-12 * std::max(1.0, x)) x = std::round(x);
  BurstCount c;
  c.floor = static_cast<Index>(std::floor(x));
  c.fraction = x - static_cast<double>(c.floor);
  return c;
}

}  // namespace

Mask::Mask(MaskPattern observed) : observed_(std::move(observed)) {
  require(observed_.size() > 0, "ops::Mask", "empty pattern");
}

Mask Mask::from_matrix(const Matrix& zero_one) {
  require(zero_one.size() > 0, "ops::Mask::from_matrix", "empty pattern");
  for (Index j = 0; j < zero_one.cols(); ++j)
    for (Index i = 0; i < zero_one.rows(); ++i) {
      const double v = zero_one(i, j);
      if (v != 0.0 && v != 1.0)
        throw Error(std::string("ops::Mask::from_matrix: entry (") + std::to_string(i) + ", " + std::to_string(j) +
                    ") = " + format_general(v, 10) + " is neither 0 (missing) nor 1 (observed)");
    }
  return Mask(zero_one.array() != 0.0);
}

template <class T>
MatrixT<T> Mask::apply(const MatrixT<T>& f) const {
  const Index batch = batch_size();
  if (f.rows() != observed_.rows() || (batch > 0 && f.cols() != batch))
    require_shape(f.rows(), f.cols(), observed_.rows(), batch, "ops::Mask::apply", describe());
  MatrixT<T> out(f.rows(), f.cols());
  const bool shared = observed_.cols() == 1;
  for (Index j = 0; j < f.cols(); ++j)
    out.col(j).array() = observed_.col(shared ? 0 : j).select(f.col(j).array(), T(0));
  return out;
}

double Mask::norm_squared_bound() const { return observed_.any() ? 1.0 : 0.0; }

Index Mask::missing_count() const { return observed_.size() - observed_.count(); }

Mask Mask::columns(Index begin, Index count) const {
  if (observed_.cols() == 1) return *this;
  require(begin >= 0 && count >= 1 && begin + count <= observed_.cols(), "ops::Mask::columns",
          "frames [" + std::to_string(begin) + ", " + std::to_string(begin + count) + ") outside a batch of " +
              std::to_string(observed_.cols()));
  return Mask(observed_.middleCols(begin, count));
}

std::string Mask::describe() const {
  std::string s = "mask (n = ";
  s.append(std::to_string(observed_.rows()));
  if (observed_.cols() == 1) s.append(", every frame, ");
  else s.append(", B = ").append(std::to_string(observed_.cols())).append(", ");
  s.append(std::to_string(missing_count())).append(" of ").append(std::to_string(observed_.size()));
  s.append(" samples missing)");
  return s;
}

const char* to_string(MaskKind kind) { return name_of(kMaskKindNames, kind); }

void MaskOptions::validate(Index n) const {
  const char* w = "ops::MaskOptions";
  require(n >= 1, w, std::string("frame size n = ") + std::to_string(n) + " must be >= 1");
  if (!(missing_probability >= 0 && missing_probability < 1))
    throw_out_of_range(w, "missing_probability", missing_probability, "0 <= p < 1");
  if (kind != MaskKind::Burst) return;
  if (burst_length < 1 || burst_length > n)
    throw_out_of_range(w, "burst_length", static_cast<double>(burst_length),
                       std::string("1 <= L <= n = ") + std::to_string(n));
  const Index k = burst_count(n, missing_probability, burst_length).max();
  if (k * (burst_length + 1) > n + 1)
    throw Error(std::string(w) + ": " + std::to_string(k) + " bursts of L = " + std::to_string(burst_length) +
                " (p = " + format_general(missing_probability, 10) + ") do not fit in a frame of n = " +
                std::to_string(n) + " with an observed sample between bursts (need ceil(p n / L) (L + 1) <= n + 1)");
}

std::string MaskOptions::describe() const {
  std::string s = to_string(kind);
  s.append(" p = ").append(format_general(missing_probability, 6));
  if (kind == MaskKind::Burst) s.append(" L = ").append(std::to_string(burst_length));
  return s;
}

MaskPattern draw_mask_pattern(Index n, Index batch, const MaskOptions& options, Rng& rng) {
  options.validate(n);
  require(batch >= 1, "ops::draw_mask_pattern", std::string("batch B = ") + std::to_string(batch) + " must be >= 1");
  MaskPattern observed = MaskPattern::Constant(n, batch, true);
  if (options.kind == MaskKind::Random) {
    std::bernoulli_distribution missing(options.missing_probability);
    for (Index j = 0; j < batch; ++j)
      for (Index i = 0; i < n; ++i) observed(i, j) = !missing(rng);
    return observed;
  }
  const Index length = options.burst_length;
  const BurstCount count = burst_count(n, options.missing_probability, length);
  std::bernoulli_distribution one_more(count.fraction);
  std::vector<Index> slots;
  for (Index j = 0; j < batch; ++j) {
    const Index k = count.floor + (one_more(rng) ? 1 : 0);
    // k runs of L missing samples each followed by one observed guard sample (the guard of a
    // run ending at n - 1 is the virtual sample n): k blocks of L + 1 and n + 1 - k (L + 1) free
    // samples, i.e. k of units = n + 1 - k L slots, chosen uniformly (Floyd's algorithm).
    const Index units = n + 1 - k * length;
    slots.clear();
    for (Index t = units - k; t < units; ++t) {
      const Index r = std::uniform_int_distribution<Index>(0, t)(rng);
      slots.push_back(std::find(slots.begin(), slots.end(), r) == slots.end() ? r : t);
    }
    std::sort(slots.begin(), slots.end());
    for (Index b = 0; b < k; ++b)
      observed.col(j).segment(slots[static_cast<size_t>(b)] + b * length, length).setConstant(false);
  }
  return observed;
}

Mask draw_mask(Index n, Index batch, const MaskOptions& options, Rng& rng) {
  return Mask(draw_mask_pattern(n, batch, options, rng));
}

template MatrixT<float> Mask::apply<float>(const MatrixT<float>&) const;
template MatrixT<double> Mask::apply<double>(const MatrixT<double>&) const;

}  // namespace varlearn::ops
