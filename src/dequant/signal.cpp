#include "varlearn/dequant/signal.hpp"

#include <string>

#include "varlearn/audio/framing.hpp"
#include "varlearn/core/error.hpp"

namespace varlearn::dequant {

void FramingOptions::validate() const {
  require(n >= 1, "dequant::FramingOptions", "frame length n = " + std::to_string(n) + " must be >= 1");
  require(!half_overlap || n >= 2, "dequant::FramingOptions", "half overlap needs frame length n >= 2");
}

QuantizedSignal quantize_signal(const Vector& clean, const audio::Quantizer& quantizer) {
  require(clean.size() >= 1, "dequant::quantize_signal", "empty signal");
  QuantizedSignal out;
  out.quantized = quantizer.quantize(clean);
  out.lower = out.quantized.unaryExpr([&](double q) { return quantizer.cell_lower(q); });
  out.upper = out.quantized.unaryExpr([&](double q) { return quantizer.cell_upper(q); });
  return out;
}

DequantFrames make_frames(const std::vector<Vector>& clean, const audio::Quantizer& quantizer,
                          const FramingOptions& framing) {
  framing.validate();
  std::vector<Vector> c, s, l, u;
  for (const Vector& x : clean) {
    if (x.size() < framing.n) continue;
    QuantizedSignal q = quantize_signal(x, quantizer);
    c.push_back(x);
    s.push_back(std::move(q.quantized));
    l.push_back(std::move(q.lower));
    u.push_back(std::move(q.upper));
  }
  require(!c.empty(), "dequant::make_frames",
          "no signal is at least one frame long (n = " + std::to_string(framing.n) + ")");
  const Index hop = framing.hop();
  DequantFrames f;
  f.clean = audio::frame_all(c, framing.n, hop, audio::Tail::Drop);
  f.quantized = audio::frame_all(s, framing.n, hop, audio::Tail::Drop);
  f.lower = audio::frame_all(l, framing.n, hop, audio::Tail::Drop);
  f.upper = audio::frame_all(u, framing.n, hop, audio::Tail::Drop);
  return f;
}

Vector dequantize_signal(const QuantizedSignal& signal, const FramingOptions& framing, const FrameMethod& method) {
  framing.validate();
  const Index len = signal.quantized.size();
  require(signal.lower.size() == len && signal.upper.size() == len, "dequant::dequantize_signal",
          "quantized signal and cell bounds differ in length");
  require(framing.n <= len, "dequant::dequantize_signal",
          "frame length n = " + std::to_string(framing.n) + " exceeds the signal length " + std::to_string(len));
  const Index hop = framing.hop();
  const Matrix fs = audio::frame(signal.quantized, framing.n, hop, audio::Tail::ZeroPad);
  const Matrix fl = audio::frame(signal.lower, framing.n, hop, audio::Tail::ZeroPad);
  const Matrix fu = audio::frame(signal.upper, framing.n, hop, audio::Tail::ZeroPad);
  const Matrix est = method(fs, fl, fu);
  require(est.rows() == fs.rows() && est.cols() == fs.cols(), "dequant::dequantize_signal",
          "the frame method returned the wrong shape");
  return audio::overlap_add(est, hop, len, framing.half_overlap ? audio::Window::Hann : audio::Window::Rectangular);
}

}  // namespace varlearn::dequant
