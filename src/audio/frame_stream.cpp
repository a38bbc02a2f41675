#include "varlearn/audio/frame_stream.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "varlearn/audio/framing.hpp"
#include "varlearn/core/error.hpp"

namespace varlearn::audio {
namespace fs = std::filesystem;

namespace {

void check_geometry(Index n, Index hop, const char* where) {
  require(n >= 1, where, "frame length n must be >= 1");
  require(hop >= 1 && hop <= n, where, "hop must satisfy 1 <= hop <= n");
}

std::string rate_mismatch(const std::string& first, int first_rate, const std::string& other, int other_rate) {
  return std::string("mixed sample rates: '") + first + "' is " + std::to_string(first_rate) + " Hz but '" + other +
         "' is " + std::to_string(other_rate) + " Hz (give a rate, e.g. --rate 8000, to resample)";
}

}  // namespace

// ---------------------------------------------------------------------------------------

SecondMomentAccumulator::SecondMomentAccumulator(Index n) : n_(n) {
  require(n >= 1, "audio::SecondMomentAccumulator", "frame length n must be >= 1");
  sum_ = Matrix::Zero(n, n);
}

void SecondMomentAccumulator::add_frames(const Matrix& frames) {
  require(frames.rows() == n_, "audio::SecondMomentAccumulator",
          "frames have " + std::to_string(frames.rows()) + " rows, expected n = " + std::to_string(n_));
  if (frames.cols() == 0) return;
  sum_.selfadjointView<Eigen::Lower>().rankUpdate(frames);  // lower triangle += F F^T
  frames_ += frames.cols();
}

void SecondMomentAccumulator::add_signal(const Vector& x, Index hop, Index block) {
  check_geometry(n_, hop, "audio::SecondMomentAccumulator::add_signal");
  require(block >= 1, "audio::SecondMomentAccumulator::add_signal", "block must be >= 1");
  const Index b = frame_count(x.size(), n_, hop, Tail::Drop);
  Matrix f;
  for (Index first = 0; first < b; first += block) {
    const Index count = std::min(block, b - first);
    f.resize(n_, count);
    for (Index j = 0; j < count; ++j) f.col(j) = x.segment((first + j) * hop, n_);
    add_frames(f);
  }
}

Matrix SecondMomentAccumulator::second_moment() const {
  require(frames_ > 0, "audio::SecondMomentAccumulator", "no frames were added");
  Matrix s = sum_.selfadjointView<Eigen::Lower>();
  s /= double(frames_);
  return s;
}

FrameMoments stream_second_moment(const std::vector<fs::path>& files, Index n, Index hop, const ReadOptions& options) {
  check_geometry(n, hop, "audio::stream_second_moment");
  require(!files.empty(), "audio::stream_second_moment", "no files given");
  SecondMomentAccumulator acc(n);
  FrameMoments m;
  std::string first;
  for (const auto& p : files) {
    const Signal s = read_audio(p, options);
    if (m.files == 0) m.rate = s.rate, first = s.source;
    else if (options.rate == 0 && s.rate != m.rate) throw Error(rate_mismatch(first, m.rate, s.source, s.rate));
    ++m.files;
    m.samples += s.samples.size();
    if (s.samples.size() < n) ++m.skipped;
    acc.add_signal(s.samples, hop);
  }
  require(acc.frames() > 0, "audio::stream_second_moment",
          "no frame of n = " + std::to_string(n) + " samples fits in the given files");
  m.frames = acc.frames();
  m.second_moment = acc.second_moment();
  return m;
}

// ---------------------------------------------------------------------------------------

FrameSampler::FrameSampler(const std::vector<fs::path>& files, Index n, Index hop, const ReadOptions& options)
    : n_(n), hop_(hop) {
  check_geometry(n, hop, "audio::FrameSampler");
  require(!files.empty(), "audio::FrameSampler", "no files given");
  files_.reserve(files.size());
  for (const auto& p : files) {
    Signal s = read_audio(p, options);
    if (files_.empty()) rate_ = s.rate;
    else if (options.rate == 0 && s.rate != rate_) throw Error(rate_mismatch(files_.front().source, rate_, s.source, s.rate));
    add(s.samples, std::move(s.source));
  }
}

FrameSampler::FrameSampler(const std::vector<Vector>& signals, Index n, Index hop, int rate) : n_(n), hop_(hop), rate_(rate) {
  check_geometry(n, hop, "audio::FrameSampler");
  files_.reserve(signals.size());
  for (const auto& x : signals) add(x, "");
}

void FrameSampler::add(const Vector& x, std::string source) {
  File f;
  f.source = std::move(source);
  f.length = x.size();
  bool exact = true;  // every sample k / 32768 with an int16 k
  for (Index i = 0; i < x.size() && exact; ++i) {
    const double k = x[i] * 32768.0;
    exact = k >= -32768.0 && k <= 32767.0 && k == std::nearbyint(k);
  }
  if (exact) {
    f.pcm.resize(size_t(x.size()));
    for (Index i = 0; i < x.size(); ++i) f.pcm[size_t(i)] = std::int16_t(std::lrint(x[i] * 32768.0));
  } else {
    f.samples = x;
  }
  files_.push_back(std::move(f));
  offsets_.push_back((offsets_.empty() ? 0 : offsets_.back()) + audio::frame_count(x.size(), n_, hop_, Tail::Drop));
}

Index FrameSampler::sample_count() const {
  Index total = 0;
  for (const auto& f : files_) total += f.length;
  return total;
}

Vector FrameSampler::signal(Index file) const {
  const File& f = files_.at(size_t(file));
  if (f.pcm.empty()) return f.samples;
  Vector x(f.length);
  for (Index i = 0; i < f.length; ++i) x[i] = double(f.pcm[size_t(i)]) / 32768.0;
  return x;
}

FrameSampler::Location FrameSampler::locate(Index b) const {
  require(b >= 0 && b < frame_count(), "audio::FrameSampler",
          "frame " + std::to_string(b) + " out of range (B = " + std::to_string(frame_count()) + ")");
  const auto it = std::upper_bound(offsets_.begin(), offsets_.end(), b);
  const Index file = Index(it - offsets_.begin());
  const Index before = file == 0 ? 0 : offsets_[size_t(file - 1)];
  return {file, (b - before) * hop_};
}

void FrameSampler::copy_frame(const Location& at, double* out) const {
  const File& f = files_[size_t(at.file)];
  if (f.pcm.empty()) {
    std::copy_n(f.samples.data() + at.offset, n_, out);
  } else {
    const std::int16_t* p = f.pcm.data() + at.offset;
    for (Index j = 0; j < n_; ++j) out[j] = double(p[j]) / 32768.0;
  }
}

Matrix FrameSampler::frames(const std::vector<Index>& ids) const {
  Matrix out(n_, Index(ids.size()));
  for (size_t j = 0; j < ids.size(); ++j) copy_frame(locate(ids[j]), out.col(Index(j)).data());
  return out;
}

Matrix FrameSampler::frames(Index first, Index count) const {
  require(count >= 0 && first >= 0 && first + count <= frame_count(), "audio::FrameSampler",
          "frames " + std::to_string(first) + " .. " + std::to_string(first + count - 1) + " out of range (B = " +
              std::to_string(frame_count()) + ")");
  Matrix out(n_, count);
  if (count == 0) return out;
  Location at = locate(first);
  for (Index j = 0; j < count; ++j) {
    if (j > 0) {  // next frame: same file one hop on, or the first frame of the next file with frames
      const Index in_file = offsets_[size_t(at.file)] - (at.file == 0 ? 0 : offsets_[size_t(at.file - 1)]);
      if (at.offset / hop_ + 1 < in_file) {
        at.offset += hop_;
      } else {
        at = locate(first + j);
      }
    }
    copy_frame(at, out.col(j).data());
  }
  return out;
}

Matrix FrameSampler::sample(Index batch, Rng& rng) const {
  require(batch >= 1, "audio::FrameSampler::sample", "batch must be >= 1");
  require(frame_count() > 0, "audio::FrameSampler::sample", "no frames");
  std::uniform_int_distribution<Index> pick(0, frame_count() - 1);
  std::vector<Index> ids(static_cast<size_t>(batch));
  for (auto& id : ids) id = pick(rng);
  return frames(ids);
}

Matrix FrameSampler::second_moment(Index block) const {
  require(block >= 1, "audio::FrameSampler::second_moment", "block must be >= 1");
  require(frame_count() > 0, "audio::FrameSampler::second_moment", "no frames");
  SecondMomentAccumulator acc(n_);
  for (Index first = 0; first < frame_count(); first += block)
    acc.add_frames(frames(first, std::min(block, frame_count() - first)));
  return acc.second_moment();
}

double FrameSampler::bytes() const {
  double total = double(offsets_.capacity() * sizeof(Index)) + double(files_.capacity() * sizeof(File));
  for (const auto& f : files_)
    total += double(f.pcm.capacity() * sizeof(std::int16_t)) + double(f.samples.size()) * sizeof(double) +
             double(f.source.capacity());
  return total;
}

bool FrameSampler::compact() const {
  return std::all_of(files_.begin(), files_.end(), [](const File& f) { return f.length == 0 || !f.pcm.empty(); });
}

}  // namespace varlearn::audio
