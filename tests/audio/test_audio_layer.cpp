// Audio layer: files (libsndfile + codec2 raw), resampling, framing/overlap-add, corpus.
#include <gtest/gtest.h>
#include <sndfile.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/audio/corpus.hpp"
#include "varlearn/audio/framing.hpp"
#include "varlearn/audio/noise.hpp"
#include "varlearn/core/error.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace varlearn;
using namespace varlearn::audio;

namespace {

using varlearn::testing::TempDir;

// Sum of sinusoids, quantized to the 16-bit grid (k/32768) so PCM round trips are exact.
Vector tones(Index len, int rate, std::vector<std::pair<double, double>> freq_amp) {
  Vector x(len);
  for (Index t = 0; t < len; ++t) {
    double v = 0;
    for (auto [f, a] : freq_amp) v += a * std::sin(2 * std::numbers::pi * f * double(t) / rate);
    x[t] = std::nearbyint(v * 32768.0) / 32768.0;
  }
  return x;
}

void write_sf(const fs::path& p, const std::vector<short>& interleaved, int rate, int channels,
              int format = SF_FORMAT_WAV | SF_FORMAT_PCM_16) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr);
  sf_write_short(f, interleaved.data(), sf_count_t(interleaved.size()));
  sf_close(f);
}

// Frequency of the strongest DFT bin (naive DFT on a coarse grid + refinement).
double peak_frequency(const Vector& x, int rate) {
  double best_f = 0, best_p = -1;
  for (double f = 20; f < rate / 2.0; f += 1.0) {
    double re = 0, im = 0;
    for (Index t = 0; t < x.size(); ++t) {
      const double ph = 2 * std::numbers::pi * f * double(t) / rate;
      re += x[t] * std::cos(ph);
      im += x[t] * std::sin(ph);
    }
    if (re * re + im * im > best_p) best_p = re * re + im * im, best_f = f;
  }
  return best_f;
}

bool has_tmp_leftovers(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().string().find(".tmp.") != std::string::npos) return true;
  return false;
}

}  // namespace

TEST(AudioFile, Pcm16RoundTripIsExact) {
  TempDir d;
  const Vector x = tones(8000, 8000, {{440, 0.3}, {1234.5, 0.2}, {3100, 0.1}});
  const fs::path p = d.path / "tones.wav";
  EXPECT_EQ(write_wav(p, x, 8000), 0);
  const Signal s = read_audio(p);
  EXPECT_EQ(s.rate, 8000);
  ASSERT_EQ(s.samples.size(), x.size());
  EXPECT_EQ((s.samples - x).cwiseAbs().maxCoeff(), 0.0);
  // and once more through the file: bit-identical
  write_wav(d.path / "again.wav", s);
  EXPECT_EQ((read_audio(d.path / "again.wav").samples - x).cwiseAbs().maxCoeff(), 0.0);
  EXPECT_FALSE(has_tmp_leftovers(d.path));
}

TEST(AudioFile, ScalesBy32768AndClipsOnWrite) {
  TempDir d;
  write_sf(d.path / "ext.wav", {-32768, -1, 0, 1, 16384, 32767}, 8000, 1);
  const Signal s = read_audio(d.path / "ext.wav");
  ASSERT_EQ(s.samples.size(), 6);
  EXPECT_EQ(s.samples[0], -1.0);
  EXPECT_EQ(s.samples[3], 1.0 / 32768.0);
  EXPECT_EQ(s.samples[4], 0.5);
  EXPECT_EQ(s.samples[5], 32767.0 / 32768.0);
  Vector loud(3);
  loud << 1.5, -2.0, 0.25;
  EXPECT_EQ(write_wav(d.path / "clip.wav", loud, 8000), 2);
}

TEST(AudioFile, RawIsS16leMonoAtRawRate) {
  TempDir d;
  const std::vector<short> v{0, 1000, -1000, 32767, -32768};
  {
    std::ofstream out(d.path / "x.raw", std::ios::binary);
    for (short s : v) {
      const unsigned short u = static_cast<unsigned short>(s);
      out.put(char(u & 0xff)).put(char(u >> 8));
    }
  }
  const Signal s = read_audio(d.path / "x.raw");
  EXPECT_EQ(s.rate, 8000);
  ASSERT_EQ(s.samples.size(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s.samples[i], v[size_t(i)] / 32768.0);
  ReadOptions o;
  o.raw_rate = 16000;
  EXPECT_EQ(read_audio(d.path / "x.raw", o).rate, 16000);
}

TEST(AudioFile, StereoRefusedUnlessMixdown) {
  TempDir d;
  write_sf(d.path / "st.wav", {100, 300, -200, 200, 0, 0}, 8000, 2);
  try {
    read_audio(d.path / "st.wav");
    FAIL() << "stereo accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find("--mixdown"), std::string::npos) << e.what();
  }
  ReadOptions o;
  o.mixdown = true;
  const Signal s = read_audio(d.path / "st.wav", o);
  ASSERT_EQ(s.samples.size(), 3);
  EXPECT_DOUBLE_EQ(s.samples[0], 200.0 / 32768.0);
  EXPECT_DOUBLE_EQ(s.samples[1], 0.0);
}

TEST(AudioFile, BadInputGivesClearErrors) {
  TempDir d;
  auto msg = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Error::Kind::BadInput);
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(msg([&] { read_audio(d.path / "missing.wav"); }).find("not found"), std::string::npos);
  {
    std::ofstream(d.path / "text.wav") << "this is not audio at all\n";
  }
  EXPECT_NE(msg([&] { read_audio(d.path / "text.wav"); }).find("not a readable audio file"), std::string::npos);
  { std::ofstream(d.path / "empty.wav"); }
  EXPECT_NE(msg([&] { read_audio(d.path / "empty.wav"); }).find("empty"), std::string::npos);
  { std::ofstream(d.path / "odd.raw") << "abc"; }
  EXPECT_NE(msg([&] { read_audio(d.path / "odd.raw"); }).find("odd size"), std::string::npos);
  write_sf(d.path / "short.wav", {1, 2, 3}, 8000, 1);
  ReadOptions o;
  o.min_samples = 320;
  EXPECT_NE(msg([&] { read_audio(d.path / "short.wav", o); }).find("too short"), std::string::npos);
  EXPECT_NE(msg([&] { read_audio(d.path); }).find("folder"), std::string::npos);
  // mixed rates: refused without a rate, resampled with one
  write_wav(d.path / "a8.wav", tones(800, 8000, {{500, 0.1}}), 8000);
  write_wav(d.path / "b16.wav", tones(1600, 16000, {{500, 0.1}}), 16000);
  EXPECT_NE(msg([&] { read_many({d.path / "a8.wav", d.path / "b16.wav"}); }).find("mixed sample rates"),
            std::string::npos);
  ReadOptions r;
  r.rate = 8000;
  const auto both = read_many({d.path / "a8.wav", d.path / "b16.wav"}, r);
  EXPECT_EQ(both[1].rate, 8000);
  EXPECT_EQ(both[1].samples.size(), 800);
  // unwritable output: nothing left behind
  EXPECT_NE(msg([&] { write_wav(d.path / "no" / "such" / "dir.wav", Vector::Zero(4), 8000); }).find("does not exist"),
            std::string::npos);
  if (::geteuid() != 0) {  // root ignores permissions
    fs::create_directories(d.path / "ro");
    fs::permissions(d.path / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    EXPECT_NE(msg([&] { write_wav(d.path / "ro" / "x.wav", Vector::Zero(4), 8000); }).find("not writable"),
              std::string::npos);
    fs::permissions(d.path / "ro", fs::perms::owner_all);
  }
  EXPECT_FALSE(has_tmp_leftovers(d.path));
}

TEST(Resample, KeepsToneFrequency) {
  const Vector x = tones(16000, 16000, {{1000, 0.5}});
  const Vector y = resample(x, 16000, 8000);
  EXPECT_EQ(y.size(), 8000);
  EXPECT_NEAR(peak_frequency(y.segment(2000, 2000), 8000), 1000.0, 2.0);
  const Vector z = resample(tones(8000, 8000, {{700, 0.5}}), 8000, 11025);
  EXPECT_EQ(z.size(), 11025);
  EXPECT_NEAR(peak_frequency(z.segment(3000, 2205), 11025), 700.0, 2.0);
  // amplitude is kept too (passband)
  EXPECT_NEAR(y.segment(1000, 6000).cwiseAbs().maxCoeff(), 0.5, 0.01);
  // a tone above the new Nyquist is removed (anti-aliasing)
  const Vector hi = resample(tones(16000, 16000, {{6000, 0.5}}), 16000, 8000);
  EXPECT_LT(hi.segment(1000, 6000).cwiseAbs().maxCoeff(), 0.01);
}

TEST(Framing, FramesAreColumnsAndOverlapAddReconstructs) {
  const Vector x = tones(1001, 8000, {{300, 0.4}, {2222, 0.2}});
  for (auto [n, hop] : std::vector<std::pair<Index, Index>>{{320, 160}, {37, 7}, {64, 64}, {50, 1}}) {
    for (Tail tail : {Tail::Drop, Tail::ZeroPad}) {
      const Matrix f = frame(x, n, hop, tail);
      EXPECT_EQ(f.rows(), n);
      EXPECT_EQ(f.cols(), frame_count(x.size(), n, hop, tail));
      EXPECT_EQ(f(3, 2), x[2 * hop + 3]);
      const Index covered = tail == Tail::ZeroPad ? x.size() : (f.cols() - 1) * hop + n;
      if (tail == Tail::ZeroPad) { EXPECT_GE((f.cols() - 1) * hop + n, x.size()); }
      for (Window w : {Window::Hann, Window::Rectangular}) {
        const Vector y = overlap_add(f, hop, covered, w);
        EXPECT_LT((y - x.head(covered)).cwiseAbs().maxCoeff(), 1e-12) << n << " " << hop;
      }
    }
  }
  // Hann weights sum to a constant at hop n/2 (smooth joins), and are positive
  const Vector w = window_weights(320, Window::Hann);
  EXPECT_GT(w.minCoeff(), 0.0);
  for (Index t = 0; t < 160; ++t) EXPECT_NEAR(w[t] + w[t + 160], 1.0, 1e-12);
  // a changed frame set is averaged, not summed
  Matrix ones = Matrix::Ones(10, 5);
  EXPECT_LT((overlap_add(ones, 3, 22) - Vector::Ones(22)).cwiseAbs().maxCoeff(), 1e-12);
}

TEST(Framing, RejectsBadGeometry) {
  const Vector x = Vector::Ones(100);
  EXPECT_THROW(frame(x, 0, 1), Error);
  EXPECT_THROW(frame(x, 10, 11), Error);
  EXPECT_THROW(frame(x, 10, 0), Error);
  EXPECT_THROW(frame(x, 101, 50, Tail::Drop), Error);  // shorter than one frame
  EXPECT_EQ(frame(x, 101, 50, Tail::ZeroPad).cols(), 1);
  EXPECT_THROW(frame_all({Vector::Ones(5)}, 10, 5), Error);
  EXPECT_EQ(frame_all({Vector::Ones(5), Vector::Ones(20)}, 10, 5).cols(), 3);
}

TEST(Noise, SeededAndRightVariance) {
  Rng a(7), b(7);
  const Matrix y = Matrix::Zero(100, 200);
  const Matrix xa = add_gaussian_noise(y, 0.1, a), xb = add_gaussian_noise(y, 0.1, b);
  EXPECT_EQ((xa - xb).cwiseAbs().maxCoeff(), 0.0);
  EXPECT_NEAR(xa.squaredNorm() / double(xa.size()), 0.01, 0.0005);
  EXPECT_THROW(add_gaussian_noise(y, -1.0, a), Error);
}

TEST(Corpus, SplitByFileAndLoad) {
  TempDir d;
  std::vector<fs::path> files;
  for (int i = 0; i < 8; ++i) {
    files.push_back(d.path / "f");
    files.back() += std::to_string(i) + ".wav";
    write_wav(files.back(), tones(400 + 10 * i, 8000, {{200.0 + 50 * i, 0.1}}), 8000);
  }
  const CorpusSpec s = split_by_file(files, 4);
  EXPECT_EQ(s.train.size(), 6u);
  EXPECT_EQ(s.test.size(), 2u);
  const LoadedCorpus c = load_corpus(s);
  EXPECT_EQ(c.rate, 8000);
  EXPECT_EQ(c.test[0].samples.size(), 430);
  CorpusSpec overlap{{files[0]}, {files[0]}};
  EXPECT_THROW(load_corpus(overlap), Error);
  EXPECT_THROW(load_corpus(CorpusSpec{{files[0]}, {}}), Error);
}

TEST(Corpus, DefaultCodec2ListWhenInstalled) {
  const auto& entries = default_corpus_entries();
  int tests = 0;
  for (const auto& e : entries) tests += e.test;
  EXPECT_GT(tests, 0);
  EXPECT_LT(tests, int(entries.size()));
  if (!fs::exists(codec2_dir() / "raw" / "hts.raw")) GTEST_SKIP() << "codec2-examples not installed";
  ReadOptions o;
  o.rate = 8000;
  const LoadedCorpus c = load_corpus(default_corpus(true), o);
  EXPECT_EQ(c.rate, 8000);
  EXPECT_GT(c.train[0].seconds(), 20.0);
}
