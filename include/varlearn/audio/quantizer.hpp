#pragma once
/// \file quantizer.hpp
/// Uniform quantizer \f$Q_\Delta\f$ on [-1, 1] for a bit depth b, \f$\Delta = 2/2^b\f$, and
/// the quantization cell of every sample (the set of inputs that map to the same level).
///
/// - Mid-rise (default, no zero level): levels \f$(k + 1/2)\Delta - 1\f$, k = 0..2^b-1, i.e.
///   \f$\pm\Delta/2, \pm 3\Delta/2, \dots, \pm(1 - \Delta/2)\f$;
///   \f$Q(x) = \Delta(\lfloor x/\Delta \rfloor + 1/2)\f$, the top level also taking x = 1.
///   Every cell is exactly \f$[q - \Delta/2, q + \Delta/2]\f$ and the cells tile [-1, 1].
/// - Mid-tread (has a zero level, like b-bit two's-complement PCM): levels \f$k\Delta\f$,
///   \f$k = -2^{b-1} \dots 2^{b-1} - 1\f$; \f$Q(x) = \Delta\,\mathrm{round}(x/\Delta)\f$ clipped to the
///   levels. Cells are \f$[q - \Delta/2, q + \Delta/2]\f$ except the bottom one, which starts at
///   -1, and the top one (level \f$1 - \Delta\f$), which reaches up to 1 (overload).
///
/// Out-of-range input: quantize() refuses (throws Error) samples outside [-1, 1] or not
/// finite. Callers that want clipping call clip_to_unit() first, which returns how many
/// samples it clipped so that they can warn (the library never prints).
#include <string>

#include "varlearn/core/types.hpp"

namespace varlearn::audio {

enum class QuantizerKind { MidRise, MidTread };

/// Lower and upper bounds of the quantization cell, sample by sample (same shape as input).
template <class T> struct QuantCell {
  MatrixT<T> lower;  ///< \f$\ell = \inf\{x : Q(x) = s\}\f$
  MatrixT<T> upper;  ///< \f$u = \sup\{x : Q(x) = s\}\f$
};

class Quantizer {
public:
  /// \param bits b in [1, 24] (throws Error otherwise). \param kind mid-rise by default.
  explicit Quantizer(int bits, QuantizerKind kind = QuantizerKind::MidRise);

  int bits() const { return bits_; }
  QuantizerKind kind() const { return kind_; }
  /// \f$\Delta = 2/2^b\f$.
  double step() const { return step_; }
  /// Number of levels, \f$2^b\f$.
  long levels() const { return 1L << bits_; }

  /// \f$s = Q_\Delta(\bar s)\f$ elementwise. Throws Error for samples outside [-1, 1] or NaN.
  template <class T> MatrixT<T> quantize(const MatrixT<T>& clean) const;
  template <class T> VectorT<T> quantize(const VectorT<T>& clean) const;

  /// Cell of each quantized sample s (s must be levels of this quantizer).
  template <class T> QuantCell<T> cell(const MatrixT<T>& quantized) const;
  /// Lower/upper cell bound of one level.
  double cell_lower(double level) const;
  double cell_upper(double level) const;

private:
  int bits_;
  QuantizerKind kind_;
  double step_;
  double quantize_one(double x) const;
};

/// Clips every sample into [-1, 1] in place; returns how many were outside (NaN -> Error).
template <class T> Index clip_to_unit(MatrixT<T>& signal);
template <class T> Index clip_to_unit(VectorT<T>& signal);

/// Parses "midrise"/"mid-rise" or "midtread"/"mid-tread" (Error otherwise).
QuantizerKind parse_quantizer_kind(const std::string& name);
const char* to_string(QuantizerKind kind);

}  // namespace varlearn::audio
