#include "varlearn/audio/audio_file.hpp"

#include <samplerate.h>
#include <sndfile.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <fstream>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"

namespace varlearn::audio {
namespace fs = std::filesystem;

namespace {

std::string lower_ext(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return e;
}

std::string qpath(const fs::path& p) { return quote_for_message(p.string()); }

// A file whose header announces more sample bytes than it holds (a truncated download or an
// interrupted write) is an error: libsndfile reads what is there without a word, and only its
// log says "data : HEADER (should be ACTUAL)". Streaming writers that leave the size unset
// (0 or 0xFFFFFFFF-like placeholders) are not truncated files and pass.
void check_not_truncated(SNDFILE* f, const fs::path& path) {
  char log[4096] = {0};
  sf_command(f, SFC_GET_LOG_INFO, log, sizeof log - 1);
  const std::string text(log);
  size_t at = 0;
  while ((at = text.find("data", at)) != std::string::npos) {
    const size_t eol = std::min(text.find('\n', at), text.size());
    const std::string line = text.substr(at, eol - at);
    at = eol;
    long long header = 0, actual = 0;
    if (std::sscanf(line.c_str(), "data : %lld (should be %lld)", &header, &actual) == 2 && actual < header &&
        header > 0 && header < 0x7fff0000LL)
      throw Error(std::string("audio file ") + qpath(path) + " is truncated: its header announces " +
                  std::to_string(header) + " bytes of samples, the file holds " + std::to_string(actual));
  }
}

// Headerless codec2 raw: 16-bit signed little-endian mono.
Signal read_raw_s16le(const fs::path& path, int rate) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(std::string("cannot read audio file ") + qpath(path) + ": " + std::strerror(errno));
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) throw Error(std::string("audio file ") + qpath(path) + " is empty");
  if (bytes.size() % 2 != 0)
    throw Error(std::string("audio file ") + qpath(path) + " is not 16-bit raw audio (odd size " +
                std::to_string(bytes.size()) + " bytes)");
  Signal s;
  s.rate = rate;
  s.source = path.string();
  s.samples.resize(Index(bytes.size() / 2));
  for (Index i = 0; i < s.samples.size(); ++i) {
    const auto lo = static_cast<unsigned char>(bytes[size_t(2 * i)]);
    const auto hi = static_cast<unsigned char>(bytes[size_t(2 * i + 1)]);
    const auto v = static_cast<int16_t>(static_cast<uint16_t>(lo | (hi << 8)));
    s.samples[i] = double(v) / 32768.0;
  }
  return s;
}

Signal read_sndfile(const fs::path& path, bool mixdown) {
  SF_INFO info;
  std::memset(&info, 0, sizeof info);
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f)
    throw Error(std::string("cannot read audio file ") + qpath(path) + ": not a readable audio file (" +
                sf_strerror(nullptr) + ")");
  struct Closer {
    SNDFILE* f;
    ~Closer() { sf_close(f); }
  } closer{f};
  if (info.frames <= 0) throw Error(std::string("audio file ") + qpath(path) + " is empty (no samples)");
  if (info.samplerate <= 0) throw Error(std::string("audio file ") + qpath(path) + " has no valid sample rate");
  const int ch = info.channels;
  if (ch < 1) throw Error(std::string("audio file ") + qpath(path) + " has no channels");
  if (ch > 1 && !mixdown)
    throw Error(std::string("audio file ") + qpath(path) + " has " + std::to_string(ch) +
                " channels; only mono is accepted (use --mixdown to average the channels)");
  check_not_truncated(f, path);
  // Read as double: libsndfile normalizes 16-bit PCM by exactly 1/32768.
  sf_command(f, SFC_SET_NORM_DOUBLE, nullptr, SF_TRUE);
  std::vector<double> buf(size_t(info.frames) * size_t(ch));
  const sf_count_t got = sf_readf_double(f, buf.data(), info.frames);
  if (got <= 0) throw Error(std::string("audio file ") + qpath(path) + ": no samples could be read");
  Signal s;
  s.rate = info.samplerate;
  s.source = path.string();
  s.samples.resize(Index(got));
  for (sf_count_t i = 0; i < got; ++i) {
    double acc = 0;
    for (int c = 0; c < ch; ++c) acc += buf[size_t(i) * size_t(ch) + size_t(c)];
    s.samples[Index(i)] = acc / ch;
  }
  return s;
}

}  // namespace

void ReadOptions::validate() const {
  require(rate >= 0 && rate <= 768000, "audio::ReadOptions", "rate " + std::to_string(rate) + " Hz is out of range (0 or 1..768000)");
  require(raw_rate >= 1 && raw_rate <= 768000, "audio::ReadOptions",
          "raw_rate " + std::to_string(raw_rate) + " Hz is out of range");
  require(min_samples >= 1, "audio::ReadOptions", "min_samples must be >= 1");
}

Signal read_audio(const fs::path& path, const ReadOptions& options) {
  options.validate();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(std::string("audio file not found: ") + qpath(path));
  if (fs::is_directory(path, ec)) throw Error(qpath(path) + " is a folder, not an audio file");
  if (fs::file_size(path, ec) == 0 && !ec) throw Error(std::string("audio file ") + qpath(path) + " is empty");
  Signal s = lower_ext(path) == ".raw" ? read_raw_s16le(path, options.raw_rate)
                                       : read_sndfile(path, options.mixdown);
  if (!s.samples.allFinite()) throw Error(std::string("audio file ") + qpath(path) + " contains non-finite samples");
  if (options.rate > 0 && s.rate != options.rate) {
    s.samples = resample(s.samples, s.rate, options.rate);
    s.rate = options.rate;
  }
  if (s.samples.size() < options.min_samples)
    throw Error(std::string("audio file ") + qpath(path) + " is too short: " + std::to_string(s.samples.size()) +
                " samples, need at least " + std::to_string(options.min_samples));
  return s;
}

std::vector<Signal> read_many(const std::vector<fs::path>& paths, const ReadOptions& options) {
  std::vector<Signal> out;
  out.reserve(paths.size());
  for (const auto& p : paths) {
    out.push_back(read_audio(p, options));
    if (options.rate == 0 && out.back().rate != out.front().rate)
      throw Error(std::string("mixed sample rates: ") + qpath(out.front().source) + " is " +
                  std::to_string(out.front().rate) + " Hz but " + qpath(p) + " is " +
                  std::to_string(out.back().rate) + " Hz (give a rate, e.g. --rate 8000, to resample)");
  }
  return out;
}

Vector resample(const Vector& x, int from_rate, int to_rate) {
  require(from_rate > 0 && to_rate > 0, "audio::resample", "rates must be positive");
  if (from_rate == to_rate || x.size() == 0) return x;
  const double ratio = double(to_rate) / double(from_rate);
  require(ratio <= 256.0 && ratio >= 1.0 / 256.0, "audio::resample",
          "rate ratio " + std::to_string(ratio) + " is outside libsamplerate's range [1/256, 256]");
  std::vector<float> in(x.data(), x.data() + x.size());
  const long out_len = std::lround(double(x.size()) * ratio);
  // A little headroom: the converter may emit a few samples more or less than len*ratio.
  std::vector<float> out(size_t(out_len) + 64, 0.0f);
  SRC_DATA d;
  std::memset(&d, 0, sizeof d);
  d.data_in = in.data();
  d.input_frames = long(in.size());
  d.data_out = out.data();
  d.output_frames = long(out.size());
  d.src_ratio = ratio;
  d.end_of_input = 1;
  const int err = src_simple(&d, SRC_SINC_BEST_QUALITY, 1);
  if (err != 0) throw Error(std::string("audio::resample: libsamplerate: ") + src_strerror(err), Error::Kind::Internal);
  Vector y = Vector::Zero(out_len);
  const long n = std::min<long>(out_len, d.output_frames_gen);
  for (long i = 0; i < n; ++i) y[i] = out[size_t(i)];
  return y;
}

Index write_wav(const fs::path& path, const Vector& samples, int rate) {
  require(rate > 0, "audio::write_wav", "sample rate must be positive");
  require(samples.allFinite(), "audio::write_wav", "samples for " + qpath(path) + " are not finite");
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(std::string("cannot write ") + qpath(path) + ": folder does not exist");
  if (::access(dir.c_str(), W_OK) != 0) throw Error(std::string("cannot write ") + qpath(path) + ": folder is not writable");
  std::vector<short> pcm(size_t(samples.size()));
  Index clipped = 0;
  for (Index i = 0; i < samples.size(); ++i) {
    double v = std::nearbyint(samples[i] * 32768.0);
    if (v > 32767.0) v = 32767.0, ++clipped;
    else if (v < -32768.0) v = -32768.0, ++clipped;
    pcm[size_t(i)] = static_cast<short>(v);
  }
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  SF_INFO info;
  std::memset(&info, 0, sizeof info);
  info.samplerate = rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
  if (!f) throw Error(std::string("cannot write ") + qpath(path) + ": " + sf_strerror(nullptr));
  const sf_count_t put = sf_write_short(f, pcm.data(), sf_count_t(pcm.size()));
  const int close_err = sf_close(f);
  if (put != sf_count_t(pcm.size()) || close_err != 0) {
    fs::remove(tmp, ec);
    throw Error(std::string("cannot write ") + qpath(path) + ": write failed");
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error(std::string("cannot write ") + qpath(path) + ": " + ec.message());
  }
  return clipped;
}

}  // namespace varlearn::audio
