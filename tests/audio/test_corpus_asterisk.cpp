// The asterisk corpus (split by language, exclusions, missing packages) on a generated fake
// prompt folder, the streaming second moment against the in-memory one, and the frame sampler
// against frame_all(); the real Debian packages when they are installed.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/audio/corpus.hpp"
#include "varlearn/audio/frame_stream.hpp"
#include "varlearn/audio/framing.hpp"
#include "varlearn/core/error.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace varlearn;
using namespace varlearn::audio;

namespace {

using varlearn::testing::TempDir;

/// Sets an environment variable for the scope, restoring the old value at its end.
class ScopedEnv {
public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
  const char* name_;
  std::optional<std::string> old_;
};

/// Random samples on the 16-bit grid k/32768 (so WAV round trips are exact).
Vector pcm_noise(Index len, std::mt19937_64& rng, double scale = 0.3) {
  std::normal_distribution<double> g(0.0, scale);
  Vector x(len);
  for (Index i = 0; i < len; ++i) x[i] = std::clamp(std::nearbyint(g(rng) * 32768.0), -32768.0, 32767.0) / 32768.0;
  return x;
}

std::string real_path(const fs::path& p) { return fs::weakly_canonical(p).string(); }

/// A fake prompt folder: per language 5 prompts (3 at the top, 2 in digits/), plus files the
/// corpus must leave out (silence/, beep.wav, tt-monkeys.wav, a .gsm file). "en" is a
/// symbolic link to en_US_f_Allison, as Debian installs it; fr is only fr_CA_f_June (the
/// link comes from a package that is only recommended).
struct FakeAsterisk {
  TempDir dir;
  std::map<std::string, std::vector<std::string>> kept;  // language -> relative paths kept
  FakeAsterisk() {
    std::mt19937_64 rng(7);
    for (const char* code : {"en", "fr", "es", "it", "ru"}) {
      const std::string lang = code;
      const fs::path root = lang == "en"   ? dir.path / "en_US_f_Allison"
                            : lang == "fr" ? dir.path / "fr_CA_f_June"
                                           : dir.path / lang;
      fs::create_directories(root / "digits");
      fs::create_directories(root / "silence");
      for (const char* rel : {"b-prompt.wav", "a-prompt.wav", "c.wav", "digits/1.wav", "digits/2.wav"}) {
        write_wav(root / rel, pcm_noise(200 + Index(rng() % 300), rng), 8000);
        kept[lang].push_back(rel);
      }
      write_wav(root / "silence" / "1.wav", Vector::Zero(800), 8000);
      write_wav(root / "beep.wav", pcm_noise(100, rng), 8000);
      write_wav(root / "tt-monkeys.wav", pcm_noise(100, rng), 8000);
      std::ofstream(root / "a-prompt.gsm") << "not a wav";
      fs::create_symlink(root / "gone.wav", root / "broken-link.wav");  // a dangling link: skipped
      std::sort(kept[lang].begin(), kept[lang].end());
    }
    fs::create_directory_symlink(dir.path / "en_US_f_Allison", dir.path / "en");
  }
};

std::set<std::string> as_set(const std::vector<fs::path>& v) {
  std::set<std::string> s;
  for (const auto& p : v) s.insert(real_path(p));
  return s;
}

}  // namespace

TEST(AsteriskCorpus, SplitByLanguageAndExclusions) {
  FakeAsterisk fake;
  const ScopedEnv env("VARLEARN_ASTERISK_DIR", fake.dir.path.string());
  EXPECT_EQ(asterisk_dir(), fake.dir.path);
  const CorpusSpec spec = asterisk_corpus(false, "ru", false);
  EXPECT_EQ(spec.name, "asterisk");
  EXPECT_EQ(spec.rate, 8000);
  EXPECT_TRUE(spec.extra_tests.empty());
  ASSERT_EQ(spec.train.size(), 4u * 5u);
  ASSERT_EQ(spec.test.size(), 5u);
  // test: exactly the ru prompts, sorted by relative path; train: the other four languages
  for (size_t i = 0; i < spec.test.size(); ++i)
    EXPECT_EQ(spec.test[i].lexically_relative(fake.dir.path / "ru").generic_string(), fake.kept["ru"][i]);
  const std::set<std::string> train = as_set(spec.train), test = as_set(spec.test);
  for (const auto& t : test) EXPECT_EQ(train.count(t), 0u) << t;
  std::map<std::string, int> per_language;
  for (const auto& p : spec.train) {
    std::string lang = p.lexically_relative(fake.dir.path).begin()->string();
    if (lang == "fr_CA_f_June") lang = "fr";
    EXPECT_NE(lang, "ru");
    ++per_language[lang];
    const std::string name = p.filename().string();
    EXPECT_TRUE(name != "beep.wav" && name != "tt-monkeys.wav" && p.extension() == ".wav") << p;
    EXPECT_EQ(p.string().find("silence"), std::string::npos) << p;
  }
  EXPECT_EQ(per_language, (std::map<std::string, int>{{"en", 5}, {"es", 5}, {"fr", 5}, {"it", 5}}));
  // the "en" link is followed; the files read
  EXPECT_EQ(real_path(asterisk_files("en")[0]), real_path(fake.dir.path / "en_US_f_Allison" / "a-prompt.wav"));
  const LoadedCorpus c = load_corpus(spec);
  EXPECT_EQ(c.rate, 8000);
  EXPECT_EQ(c.train.size(), 20u);

  // another test language: it is never in training
  const CorpusSpec it = asterisk_corpus(false, "it", false);
  for (const auto& p : it.train) EXPECT_EQ(p.string().find(fake.dir.path.string() + "/it/"), std::string::npos);
  EXPECT_EQ(it.test.size(), 5u);

  // quick: a non-empty subset of each language
  const CorpusSpec q = asterisk_corpus(true, "ru", false);
  EXPECT_EQ(q.train.size(), 4u);  // tiny prompts: every 29th, i.e. the first of each language
  EXPECT_EQ(q.test.size(), 1u);
  for (const auto& t : as_set(q.train)) EXPECT_EQ(train.count(t), 1u);
}

TEST(AsteriskCorpus, RefusesSharedSpeakerAndUnknownLanguage) {
  FakeAsterisk fake;
  const ScopedEnv env("VARLEARN_ASTERISK_DIR", fake.dir.path.string());
  // en and es: the same speaker (Allison) would be heard in training
  for (const char* lang : {"en", "es"}) {
    try {
      asterisk_corpus(false, lang, false);
      ADD_FAILURE() << lang << " accepted as test language";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("Allison"), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(asterisk_corpus(false, "fr", false));
  EXPECT_THROW(asterisk_corpus(false, "de", false), Error);
  EXPECT_THROW(asterisk_files("xx"), Error);
  EXPECT_EQ(parse_corpus_kind("asterisk"), CorpusKind::Asterisk);
  EXPECT_EQ(parse_corpus_kind("codec2"), CorpusKind::Codec2);
  EXPECT_EQ(corpus_kind_name(CorpusKind::Asterisk), "asterisk");
  EXPECT_THROW(parse_corpus_kind("timit"), Error);
  // every language's speaker is listed; en and es share one voice, the default test voice no other
  const auto& langs = asterisk_languages();
  ASSERT_EQ(langs.size(), 5u);
  int ru_voice = 0;
  for (const auto& l : langs) ru_voice += l.voice == langs[4].voice;
  EXPECT_EQ(langs[4].code, kAsteriskTestLanguage);
  EXPECT_EQ(ru_voice, 1);
  EXPECT_EQ(langs[0].voice, langs[2].voice);
}

TEST(AsteriskCorpus, MissingPackageNamesIt) {
  TempDir empty;
  const ScopedEnv env("VARLEARN_ASTERISK_DIR", empty.path.string());
  try {
    asterisk_corpus(false);
    ADD_FAILURE() << "no error without the prompts";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find("asterisk-core-sounds-en-wav"), std::string::npos) << e.what();
  }
  // only ru missing -> its package; a folder without .wav prompts (only gsm installed) -> its package
  FakeAsterisk fake;
  const ScopedEnv env2("VARLEARN_ASTERISK_DIR", fake.dir.path.string());
  fs::remove_all(fake.dir.path / "ru");
  try {
    asterisk_corpus(false);
    ADD_FAILURE() << "no error without ru";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("asterisk-core-sounds-ru-wav"), std::string::npos) << e.what();
  }
  fs::create_directories(fake.dir.path / "ru");
  std::ofstream(fake.dir.path / "ru" / "hello.gsm") << "x";
  try {
    asterisk_files("ru");
    ADD_FAILURE() << "no error for a folder without prompts";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no .wav"), std::string::npos) << e.what();
  }
}

TEST(AsteriskCorpus, Codec2IsTheSecondTestSet) {
  FakeAsterisk fake;
  TempDir codec2;
  fs::create_directories(codec2.path / "raw");
  std::mt19937_64 rng(3);
  for (const auto& e : default_corpus_entries()) {  // tiny stand-ins: s16le 8 kHz
    const Vector x = pcm_noise(400, rng);
    if (e.name.ends_with(".wav")) {
      write_wav(codec2.path / e.name, x, 8000);
      continue;
    }
    std::ofstream out(codec2.path / e.name, std::ios::binary);
    for (Index i = 0; i < x.size(); ++i) {
      const auto v = static_cast<std::int16_t>(std::lrint(x[i] * 32768.0));
      out.put(char(v & 0xff)).put(char((v >> 8) & 0xff));
    }
  }
  const ScopedEnv env("VARLEARN_ASTERISK_DIR", fake.dir.path.string());
  const ScopedEnv env2("VARLEARN_CODEC2_DIR", codec2.path.string());
  for (bool quick : {false, true}) {
    const CorpusSpec spec = corpus_spec(CorpusKind::Asterisk, quick);
    ASSERT_EQ(spec.extra_tests.size(), 1u);
    EXPECT_EQ(spec.extra_tests[0].name, "codec2");
    EXPECT_EQ(spec.extra_tests[0].files, default_corpus(quick).test);
    const std::set<std::string> train = as_set(spec.train);
    for (const auto& p : spec.extra_tests[0].files) EXPECT_EQ(train.count(real_path(p)), 0u);
  }
  const CorpusSpec c2 = corpus_spec(CorpusKind::Codec2);
  EXPECT_EQ(c2.name, "codec2");
  EXPECT_EQ(c2.rate, 8000);
  EXPECT_TRUE(c2.extra_tests.empty());
}

// S streamed file by file (and block by block) equals F F^T / B of the whole frame matrix.
TEST(FrameStream, StreamingSecondMomentEqualsInMemory) {
  TempDir d;
  std::mt19937_64 rng(11);
  const Index n = 37, hop = 11;
  std::vector<fs::path> files;
  std::vector<Vector> signals;
  for (Index len : {500, 37, 20, 1234, 48, 999}) {  // exact one frame, shorter than n, odd tails
    signals.push_back(pcm_noise(len, rng));
    files.push_back(d.path / ("s" + std::to_string(files.size()) + ".wav"));
    write_wav(files.back(), signals.back(), 8000);
  }
  const Matrix f = frame_all(signals, n, hop, Tail::Drop);
  const Matrix s_mem = f * f.transpose() / double(f.cols());
  const FrameMoments m = stream_second_moment(files, n, hop);
  EXPECT_EQ(m.frames, f.cols());
  EXPECT_EQ(m.files, 6);
  EXPECT_EQ(m.skipped, 1);
  EXPECT_EQ(m.rate, 8000);
  EXPECT_EQ(m.samples, 500 + 37 + 20 + 1234 + 48 + 999);
  EXPECT_LE((m.second_moment - s_mem).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_EQ((m.second_moment - m.second_moment.transpose()).cwiseAbs().maxCoeff(), 0.0);
  for (Index block : {1, 7, 4096}) {
    SecondMomentAccumulator acc(n);
    for (const auto& x : signals) acc.add_signal(x, hop, block);
    EXPECT_EQ(acc.frames(), f.cols());
    EXPECT_LE((acc.second_moment() - s_mem).cwiseAbs().maxCoeff(), 1e-12) << "block " << block;
    const FrameSampler sampler(files, n, hop);
    EXPECT_LE((sampler.second_moment(block) - s_mem).cwiseAbs().maxCoeff(), 1e-12) << "block " << block;
  }
  // a planted error is seen: one frame more changes S by far more than the tolerance
  SecondMomentAccumulator acc(n);
  for (const auto& x : signals) acc.add_signal(x, hop);
  acc.add_frames(f.col(0));
  EXPECT_GT((acc.second_moment() - s_mem).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_THROW(SecondMomentAccumulator(n).second_moment(), Error);
  EXPECT_THROW(stream_second_moment({}, n, hop), Error);
  EXPECT_THROW(stream_second_moment({files[2]}, n, hop), Error);  // shorter than n: no frame
  EXPECT_THROW(stream_second_moment(files, n, n + 1), Error);
}

// Every frame the sampler hands out is an exact slice of a file, in frame_all() order.
TEST(FrameStream, SamplerFramesAreExactSlices) {
  TempDir d;
  std::mt19937_64 rng(5);
  const Index n = 16, hop = 5;
  std::vector<fs::path> files;
  std::vector<Vector> signals;
  for (Index len : {100, 10, 16, 77}) {  // one file shorter than n: no frame
    signals.push_back(pcm_noise(len, rng));
    files.push_back(d.path / ("x" + std::to_string(files.size()) + ".wav"));
    write_wav(files.back(), signals.back(), 8000);
  }
  const FrameSampler s(files, n, hop);
  const Matrix all = frame_all(signals, n, hop, Tail::Drop);
  ASSERT_EQ(s.frame_count(), all.cols());
  EXPECT_EQ(s.file_count(), 4);
  EXPECT_EQ(s.rate(), 8000);
  EXPECT_TRUE(s.compact());
  EXPECT_EQ(s.sample_count(), 203);
  EXPECT_LT(s.bytes(), 203.0 * 2 + 2000);  // int16 storage plus the index
  EXPECT_EQ((s.frames(0, s.frame_count()) - all).cwiseAbs().maxCoeff(), 0.0);
  for (Index first : {0, 3, 17, 18}) {  // runs across file boundaries (and the empty file)
    const Index count = std::min<Index>(6, s.frame_count() - first);
    EXPECT_EQ((s.frames(first, count) - all.middleCols(first, count)).cwiseAbs().maxCoeff(), 0.0) << first;
  }
  for (Index b = 0; b < s.frame_count(); ++b) {
    const auto at = s.locate(b);
    ASSERT_LT(at.file, 4);
    EXPECT_EQ(at.offset % hop, 0);
    EXPECT_EQ((s.frames({b}).col(0) - signals[size_t(at.file)].segment(at.offset, n)).cwiseAbs().maxCoeff(), 0.0);
    EXPECT_EQ(s.signal(at.file), signals[size_t(at.file)]);
  }
  // minibatches: exact frames, same seed same batch, every frame reachable
  Rng r1(42), r2(42);
  const Matrix b1 = s.sample(64, r1), b2 = s.sample(64, r2);
  EXPECT_EQ(b1, b2);
  std::set<Index> hit;
  Rng r3(1);
  for (int rep = 0; rep < 50; ++rep) {
    const Matrix b = s.sample(32, r3);
    for (Index j = 0; j < b.cols(); ++j) {
      Index found = -1;
      for (Index k = 0; k < all.cols() && found < 0; ++k)
        if (all.col(k) == b.col(j)) found = k;
      ASSERT_GE(found, 0) << "sampled column is no frame of the files";
      hit.insert(found);
    }
  }
  EXPECT_EQ(Index(hit.size()), all.cols());
  EXPECT_THROW(s.frames({s.frame_count()}), Error);
  EXPECT_THROW(s.frames(1, s.frame_count()), Error);
  EXPECT_THROW(s.sample(0, r1), Error);

  // samples off the 16-bit grid are kept as double, frames still exact
  std::vector<Vector> off{Vector::LinSpaced(50, -0.3, 0.7), signals[0]};
  const FrameSampler so(off, n, hop, 8000);
  EXPECT_FALSE(so.compact());
  EXPECT_EQ((so.frames(0, so.frame_count()) - frame_all(off, n, hop)).cwiseAbs().maxCoeff(), 0.0);
}

TEST(FrameStream, MixedRatesRefused) {
  TempDir d;
  std::mt19937_64 rng(9);
  write_wav(d.path / "a.wav", pcm_noise(400, rng), 8000);
  write_wav(d.path / "b.wav", pcm_noise(400, rng), 16000);
  const std::vector<fs::path> files{d.path / "a.wav", d.path / "b.wav"};
  EXPECT_THROW(stream_second_moment(files, 32, 16), Error);
  EXPECT_THROW(FrameSampler(files, 32, 16), Error);
  ReadOptions o;
  o.rate = 8000;  // resampled: b is off the 16-bit grid, kept as double
  const FrameSampler s(files, 32, 16, o);
  EXPECT_EQ(s.rate(), 8000);
  EXPECT_EQ(s.sample_count(), 600);
}

// The installed Debian packages: every language present, the split by language holds, the
// quick subset reads at 8 kHz. Skipped without them.
TEST(AsteriskCorpus, RealPackagesWhenInstalled) {
  if (std::getenv("VARLEARN_ASTERISK_DIR") == nullptr) {
    for (const auto& l : asterisk_languages())
      if (!fs::is_directory(asterisk_dir() / l.code)) GTEST_SKIP() << l.package << " not installed";
  } else {
    GTEST_SKIP() << "VARLEARN_ASTERISK_DIR is set";
  }
  for (const auto& l : asterisk_languages()) {
    const auto files = asterisk_files(l.code);
    EXPECT_GT(files.size(), 400u) << l.code;  // 500-600 prompts each
    for (const auto& p : files) EXPECT_EQ(p.string().find("/silence/"), std::string::npos);
  }
  const CorpusSpec spec = asterisk_corpus(false, kAsteriskTestLanguage, false);
  const std::set<std::string> test = as_set(spec.test);
  for (const auto& p : spec.train) EXPECT_EQ(test.count(real_path(p)), 0u);
  for (const auto& p : spec.test) EXPECT_NE(real_path(p).find("ru_RU"), std::string::npos) << p;
  for (const auto& p : spec.train) EXPECT_EQ(real_path(p).find("ru_RU"), std::string::npos) << p;
  const CorpusSpec quick = asterisk_corpus(true, kAsteriskTestLanguage, false);
  ReadOptions o;
  o.rate = quick.rate;
  const LoadedCorpus c = load_corpus(quick, o);
  double train_seconds = 0, test_seconds = 0;
  for (const auto& s : c.train) train_seconds += s.seconds();
  for (const auto& s : c.test) test_seconds += s.seconds();
  EXPECT_GT(train_seconds, 4 * 8.0);
  EXPECT_LT(train_seconds, 4 * 30.0);
  EXPECT_GT(test_seconds, 8.0);
  const FrameSampler sampler(quick.train, 320, 160, o);
  EXPECT_TRUE(sampler.compact());  // 16-bit PCM: held as int16
  std::cout << "[ info ] asterisk quick: " << quick.train.size() << " train files (" << train_seconds << " s), "
            << quick.test.size() << " test files (" << test_seconds << " s)\n";
}

// Not run by default (seconds and ~0.2 GB): memory of the full corpus held by FrameSampler and
// the time of the streamed second moment. Run with --gtest_also_run_disabled_tests.
TEST(AsteriskCorpus, DISABLED_MemoryOfTheFullCorpus) {
  for (const auto& l : asterisk_languages())
    if (!fs::is_directory(asterisk_dir() / l.code)) GTEST_SKIP() << l.package << " not installed";
  auto rss = [](const char* key) {  // kB from /proc/self/status
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::string(key).size()));
    return 0.0;
  };
  const CorpusSpec spec = asterisk_corpus(false, kAsteriskTestLanguage, false);
  ReadOptions o;
  o.rate = spec.rate;
  const double before = rss("VmRSS:");
  const auto t0 = std::chrono::steady_clock::now();
  const FrameMoments m = stream_second_moment(spec.train, 320, 160, o);
  const auto t1 = std::chrono::steady_clock::now();
  const double after_stream = rss("VmHWM:");
  const FrameSampler train(spec.train, 320, 160, o), test(spec.test, 320, 160, o);
  const auto t2 = std::chrono::steady_clock::now();
  const double held = rss("VmRSS:");
  std::cout << "[ info ] train: " << spec.train.size() << " files, " << m.samples << " samples ("
            << double(m.samples) / 8000 / 60 << " min), B = " << m.frames << " frames (n = 320, hop 160)\n"
            << "[ info ] n x B frame matrix in double would be " << double(m.frames) * 320 * 8 / 1e6 << " MB\n"
            << "[ info ] streamed S: " << std::chrono::duration<double>(t1 - t0).count() << " s, peak RSS "
            << after_stream / 1e3 << " MB (" << before / 1e3 << " MB before)\n"
            << "[ info ] samplers: train " << train.bytes() / 1e6 << " MB (" << train.frame_count() << " frames), test "
            << test.bytes() / 1e6 << " MB (" << test.frame_count() << " frames, " << double(test.sample_count()) / 8000 / 60
            << " min), read in " << std::chrono::duration<double>(t2 - t1).count() << " s, RSS " << held / 1e3 << " MB\n";
  EXPECT_TRUE(train.compact());
}
