#pragma once
/// \file frame_stream.hpp
/// Statistics and minibatches over a large file set without the n x B frame matrix.
/// Two hours of 8 kHz speech framed at n = 320, hop 160 is a 320 x 360000 matrix (0.9 GB in
/// double); the second moment needs only n x n, and a minibatch needs only its columns:
///  - SecondMomentAccumulator / stream_second_moment(): \f$S = \frac1B\sum_b f_b f_b^T\f$ over
///    every full frame (Tail::Drop, frames never cross files), one file (one block) at a time;
///  - FrameSampler: holds each file's samples once (16-bit PCM as int16: 2 bytes a sample) and
///    hands out frames by index, in order (streaming evaluation), or as seeded minibatches.
/// Frames are exactly those of frame_all(signals, n, hop, Tail::Drop), column for column.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/core/types.hpp"

namespace varlearn::audio {

/// Accumulates \f$\sum_b f_b f_b^T\f$ and the frame count B block by block (a symmetric
/// rank-B update of the lower triangle per block), so S never needs all frames at once.
class SecondMomentAccumulator {
public:
  /// Frames of n samples (n >= 1).
  explicit SecondMomentAccumulator(Index n);
  /// Adds the columns of `frames` (n x b).
  void add_frames(const Matrix& frames);
  /// Adds every full frame of `x` (Tail::Drop; nothing when x is shorter than n), in blocks
  /// of at most `block` frames.
  void add_signal(const Vector& x, Index hop, Index block = 4096);
  Index n() const { return n_; }
  Index frames() const { return frames_; }  ///< B so far
  /// \f$S = \frac1B\sum_b f_b f_b^T\f$ (symmetric n x n). Throws Error when B = 0.
  Matrix second_moment() const;

private:
  Index n_, frames_ = 0;
  Matrix sum_;  ///< lower triangle of sum_b f_b f_b^T
};

/// Second moment of the frames of a file set, read one file at a time.
struct FrameMoments {
  Matrix second_moment;  ///< S = sum_b f_b f_b^T / B
  Index frames = 0;      ///< B
  Index files = 0;       ///< files read
  Index skipped = 0;     ///< files shorter than n (no full frame)
  Index samples = 0;     ///< samples read, all files
  int rate = 0;          ///< their common rate f_s (Hz)
};

/// S over every full frame (n, hop, Tail::Drop) of `files`, read with `options` one at a time:
/// the memory is one file and n x n. Errors: no file, no frame, mixed rates with
/// options.rate == 0, and read_audio()'s.
FrameMoments stream_second_moment(const std::vector<std::filesystem::path>& files, Index n, Index hop,
                                  const ReadOptions& options = {});

/// The samples of a file set held once, and its full frames (n, hop, Tail::Drop; never across
/// files) handed out by index b = 0 .. B-1 in frame_all() order.
class FrameSampler {
public:
  /// Reads `files` one at a time with `options` (rate 0: they must share one rate). A file
  /// whose samples are all on the 16-bit grid k/32768 is kept as int16 (exact), any other
  /// (resampled, 24-bit, float) as double. Files shorter than n hold no frame (kept, skipped).
  FrameSampler(const std::vector<std::filesystem::path>& files, Index n, Index hop, const ReadOptions& options = {});
  /// From signals in memory (each kept as int16 when exact, as above); rate is informative.
  FrameSampler(const std::vector<Vector>& signals, Index n, Index hop, int rate = 0);

  Index n() const { return n_; }
  Index hop() const { return hop_; }
  int rate() const { return rate_; }
  Index frame_count() const { return offsets_.empty() ? 0 : offsets_.back(); }  ///< B
  Index file_count() const { return Index(files_.size()); }
  Index sample_count() const;                                          ///< samples held, all files
  const std::string& source(Index file) const { return files_.at(size_t(file)).source; }
  Vector signal(Index file) const;  ///< one file's samples as doubles

  /// Where frame b starts: file index and sample offset in it (offset = k * hop).
  struct Location {
    Index file = 0, offset = 0;
  };
  Location locate(Index b) const;

  /// Frames `ids` (each 0 <= id < B) as the columns of an n x ids.size() matrix.
  Matrix frames(const std::vector<Index>& ids) const;
  /// Frames first .. first + count - 1, in order (streaming evaluation over all frames).
  Matrix frames(Index first, Index count) const;
  /// A minibatch of `batch` frames drawn uniformly over all B frames, with replacement (each
  /// frame equally likely, so a file weighs by its length). Same seed, same batch.
  Matrix sample(Index batch, Rng& rng) const;
  /// S = sum_b f_b f_b^T / B over all frames, in blocks of `block` frames.
  Matrix second_moment(Index block = 4096) const;

  /// Bytes held by the samples (int16: 2 a sample, double: 8), plus the index.
  double bytes() const;
  /// Every file held as int16.
  bool compact() const;

private:
  struct File {
    std::vector<std::int16_t> pcm;  ///< the samples * 32768 when exact, else empty
    Vector samples;                 ///< the samples when not exact, else empty
    std::string source;
    Index length = 0;
  };
  void add(const Vector& x, std::string source);
  void copy_frame(const Location& at, double* out) const;

  Index n_, hop_;
  int rate_ = 0;
  std::vector<File> files_;
  std::vector<Index> offsets_;  ///< offsets_[i]: frames in files 0..i (cumulative)
};

}  // namespace varlearn::audio
