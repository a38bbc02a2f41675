#pragma once
/// \file audio_file.hpp
/// Reading and writing audio: libsndfile for WAV/FLAC/AIFF/... plus codec2's headerless
/// `.raw` (16-bit signed little-endian mono, 8 kHz by default). Samples are double in
/// [-1, 1]; 16-bit PCM is divided by 32768 (so read -> write_wav -> read is exact).
/// Mono only: a multi-channel file is refused unless `mixdown` averages its channels.
/// Resampling (libsamplerate, SRC_SINC_BEST_QUALITY) happens only when asked for a rate.
#include <filesystem>
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"

namespace varlearn::audio {

/// A mono signal: samples in [-1, 1] at `rate` Hz.
struct Signal {
  Vector samples;      ///< the waveform, one sample per entry
  int rate = 0;        ///< sample rate f_s in Hz
  std::string source;  ///< file it came from (for messages and reports); may be empty
  double seconds() const { return rate > 0 ? double(samples.size()) / rate : 0.0; }
};

/// How files are read.
struct ReadOptions {
  /// Target rate f_s in Hz. 0: keep each file's own rate (and read_many() refuses files
  /// whose rates differ). > 0: every file is resampled to it when its rate differs.
  int rate = 0;
  /// Average the channels of a multi-channel file; false: such a file is refused.
  bool mixdown = false;
  /// Rate assumed for headerless `.raw` files (codec2 convention: s16le mono 8 kHz).
  int raw_rate = 8000;
  /// Files with fewer samples than this (after resampling) are refused as "too short".
  Index min_samples = 1;
  void validate() const;  ///< throws Error for negative/absurd rates or min_samples < 1
};

/// Reads one file. Throws Error (Kind::BadInput) naming the file for: missing file, a
/// folder, not audio (libsndfile cannot parse it / odd-sized .raw), empty or too short,
/// multi-channel without mixdown, non-finite samples.
Signal read_audio(const std::filesystem::path& path, const ReadOptions& options = {});

/// Reads several files with the same options. With options.rate == 0 all files must share
/// one rate; otherwise Error "mixed sample rates ... (give a rate to resample)".
std::vector<Signal> read_many(const std::vector<std::filesystem::path>& paths,
                              const ReadOptions& options = {});

/// Resamples `x` from `from_rate` to `to_rate` Hz with libsamplerate (best sinc).
/// Returns a copy when the rates are equal. Output length round(len * to/from).
Vector resample(const Vector& x, int from_rate, int to_rate);

/// Writes a mono 16-bit PCM WAV atomically (temporary file + rename). Samples are scaled by
/// 32768, rounded and clipped to [-32768, 32767]. Returns how many samples were clipped.
/// Throws Error when the folder does not exist / is not writable, rate <= 0, or NaN.
Index write_wav(const std::filesystem::path& path, const Vector& samples, int rate);
inline Index write_wav(const std::filesystem::path& path, const Signal& s) {
  return write_wav(path, s.samples, s.rate);
}

}  // namespace varlearn::audio
