#include "varlearn/audio/quantizer.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "varlearn/core/error.hpp"
#include "varlearn/core/names.hpp"

namespace varlearn::audio {

Quantizer::Quantizer(int bits, QuantizerKind kind) : bits_(bits), kind_(kind) {
  require(bits >= 1 && bits <= 24, "audio::Quantizer",
          "bit depth b = " + std::to_string(bits) + " must be in [1, 24]");
  step_ = 2.0 / static_cast<double>(1L << bits);
}

double Quantizer::quantize_one(double x) const {
  const double half_levels = static_cast<double>(1L << (bits_ - 1));
  if (kind_ == QuantizerKind::MidRise) {
    // k = floor((x + 1)/Delta) in [0, 2^b - 1]; level (k + 1/2) Delta - 1.
    double k = std::floor((x + 1.0) / step_);
    k = std::clamp(k, 0.0, 2.0 * half_levels - 1.0);
    return (k + 0.5) * step_ - 1.0;
  }
  double k = std::nearbyint(x / step_);
  k = std::clamp(k, -half_levels, half_levels - 1.0);
  return k * step_;
}

double Quantizer::cell_lower(double level) const {
  if (kind_ == QuantizerKind::MidTread && level <= -1.0 + 0.5 * step_) return -1.0;
  return level - 0.5 * step_;
}

double Quantizer::cell_upper(double level) const {
  if (kind_ == QuantizerKind::MidTread && level >= 1.0 - 1.5 * step_) return 1.0;
  return level + 0.5 * step_;
}

namespace {
template <class Derived> void check_range(const Eigen::MatrixBase<Derived>& s) {
  for (Index j = 0; j < s.cols(); ++j)
    for (Index i = 0; i < s.rows(); ++i) {
      const double v = static_cast<double>(s(i, j));
      if (!std::isfinite(v))
        throw Error("audio::Quantizer::quantize: sample " + std::to_string(i + j * s.rows()) +
                    " is not finite");
      if (v < -1.0 || v > 1.0)
        throw Error("audio::Quantizer::quantize: sample " + std::to_string(i + j * s.rows()) +
                    " = " + std::to_string(v) +
                    " is outside [-1, 1] (clip first with audio::clip_to_unit)");
    }
}
}  // namespace

template <class T> MatrixT<T> Quantizer::quantize(const MatrixT<T>& clean) const {
  check_range(clean);
  return clean.unaryExpr([this](T x) { return static_cast<T>(quantize_one(static_cast<double>(x))); });
}

template <class T> VectorT<T> Quantizer::quantize(const VectorT<T>& clean) const {
  check_range(clean);
  return clean.unaryExpr([this](T x) { return static_cast<T>(quantize_one(static_cast<double>(x))); });
}

template <class T> QuantCell<T> Quantizer::cell(const MatrixT<T>& quantized) const {
  QuantCell<T> c;
  c.lower = quantized.unaryExpr([this](T q) { return static_cast<T>(cell_lower(static_cast<double>(q))); });
  c.upper = quantized.unaryExpr([this](T q) { return static_cast<T>(cell_upper(static_cast<double>(q))); });
  return c;
}

template <class Derived> static Index clip_impl(Eigen::MatrixBase<Derived>& s) {
  Index clipped = 0;
  for (Index j = 0; j < s.cols(); ++j)
    for (Index i = 0; i < s.rows(); ++i) {
      auto& v = s(i, j);
      if (!std::isfinite(static_cast<double>(v)))
        throw Error("audio::clip_to_unit: sample " + std::to_string(i + j * s.rows()) + " is not finite");
      if (v > 1) { v = 1; ++clipped; }
      else if (v < -1) { v = -1; ++clipped; }
    }
  return clipped;
}

template <class T> Index clip_to_unit(MatrixT<T>& signal) { return clip_impl(signal); }
template <class T> Index clip_to_unit(VectorT<T>& signal) { return clip_impl(signal); }

namespace {
constexpr NameTable<QuantizerKind, 2> kQuantizerNames{{{QuantizerKind::MidRise, "mid-rise"}, {QuantizerKind::MidTread, "mid-tread"}}};
}  // namespace

QuantizerKind parse_quantizer_kind(const std::string& name) {
  if (name == "midrise") return QuantizerKind::MidRise;  // also accepted without the dash
  if (name == "midtread") return QuantizerKind::MidTread;
  return parse_name(kQuantizerNames, name, "quantizer");
}
const char* to_string(QuantizerKind kind) { return name_of(kQuantizerNames, kind); }


template MatrixT<float> Quantizer::quantize<float>(const MatrixT<float>&) const;
template MatrixT<double> Quantizer::quantize<double>(const MatrixT<double>&) const;
template VectorT<float> Quantizer::quantize<float>(const VectorT<float>&) const;
template VectorT<double> Quantizer::quantize<double>(const VectorT<double>&) const;
template QuantCell<float> Quantizer::cell<float>(const MatrixT<float>&) const;
template QuantCell<double> Quantizer::cell<double>(const MatrixT<double>&) const;
template Index clip_to_unit<float>(MatrixT<float>&);
template Index clip_to_unit<double>(MatrixT<double>&);
template Index clip_to_unit<float>(VectorT<float>&);
template Index clip_to_unit<double>(VectorT<double>&);

}  // namespace varlearn::audio
