#include "varlearn/audio/framing.hpp"

#include <cmath>
#include <numbers>

#include "varlearn/core/error.hpp"

namespace varlearn::audio {

namespace {
void check_geometry(Index n, Index hop, const char* where) {
  require(n >= 1, where, "frame length n must be >= 1 (got " + std::to_string(n) + ")");
  require(hop >= 1 && hop <= n, where,
          "hop must be in 1..n = " + std::to_string(n) + " (got " + std::to_string(hop) + ")");
}
}  // namespace

Index frame_count(Index length, Index n, Index hop, Tail tail) {
  check_geometry(n, hop, "audio::frame_count");
  if (length <= 0) return 0;
  if (tail == Tail::Drop) return length < n ? 0 : 1 + (length - n) / hop;
  if (length <= n) return 1;
  return 1 + (length - n + hop - 1) / hop;  // ceil: the last frame reaches the last sample
}

Matrix frame(const Vector& x, Index n, Index hop, Tail tail) {
  const Index b = frame_count(x.size(), n, hop, tail);
  require(b > 0, "audio::frame",
          "signal of " + std::to_string(x.size()) + " samples is shorter than one frame (n = " +
              std::to_string(n) + ")");
  Matrix f = Matrix::Zero(n, b);
  for (Index j = 0; j < b; ++j) {
    const Index start = j * hop;
    const Index len = std::min(n, x.size() - start);
    f.col(j).head(len) = x.segment(start, len);
  }
  return f;
}

Matrix frame_all(const std::vector<Vector>& xs, Index n, Index hop, Tail tail) {
  Index total = 0;
  for (const auto& x : xs) total += frame_count(x.size(), n, hop, tail);
  require(total > 0, "audio::frame_all",
          "no frame of n = " + std::to_string(n) + " samples fits in the given signals");
  Matrix f(n, total);
  Index at = 0;
  for (const auto& x : xs) {
    const Index b = frame_count(x.size(), n, hop, tail);
    if (b == 0) continue;
    f.middleCols(at, b) = frame(x, n, hop, tail);
    at += b;
  }
  return f;
}

Vector window_weights(Index n, Window window) {
  require(n >= 1, "audio::window_weights", "n must be >= 1");
  if (window == Window::Rectangular) return Vector::Ones(n);
  Vector w(n);
  for (Index j = 0; j < n; ++j) {
    const double s = std::sin(std::numbers::pi * (double(j) + 0.5) / double(n));
    w[j] = s * s;  // strictly positive, so the normalization below never divides by 0
  }
  return w;
}

Vector overlap_add(const Matrix& frames, Index hop, Index length, Window window) {
  const Index n = frames.rows(), b = frames.cols();
  check_geometry(n, hop, "audio::overlap_add");
  require(length >= 0 && length <= (b > 0 ? (b - 1) * hop + n : 0), "audio::overlap_add",
          "length " + std::to_string(length) + " exceeds what " + std::to_string(b) +
              " frames cover");
  const Vector w = window_weights(n, window);
  Vector acc = Vector::Zero((b > 0 ? (b - 1) * hop + n : 0));
  Vector norm = Vector::Zero(acc.size());
  for (Index j = 0; j < b; ++j) {
    acc.segment(j * hop, n) += w.cwiseProduct(frames.col(j));
    norm.segment(j * hop, n) += w;
  }
  Vector out = Vector::Zero(length);
  for (Index t = 0; t < length; ++t)
    if (norm[t] > 0) out[t] = acc[t] / norm[t];
  return out;
}

}  // namespace varlearn::audio
