#include "varlearn/audio/corpus.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>

#include "varlearn/core/error.hpp"

namespace varlearn::audio {
namespace fs = std::filesystem;

fs::path codec2_dir() {
  if (const char* env = std::getenv("VARLEARN_CODEC2_DIR"); env && *env) return env;
  return "/usr/share/codec2";
}

// Chosen by inspection (durations, frame-energy dynamic range, sample-exact containment
// checks between files); docs/audio.md gives the reasons. Test files are other speakers and
// other sentences than the training files.
const std::vector<CorpusEntry>& default_corpus_entries() {
  static const std::vector<CorpusEntry> entries{
      {"raw/hts.raw", "Harvard test sentences, 24 s (contains hts1/hts2)", false},
      {"raw/vk5qi.raw", "male, read speech, 13.5 s", false},
      {"raw/cq_ref.raw", "male, amateur-radio CQ call (reference mic recording), 9 s", false},
      {"raw/speech_orig_16k.wav", "read speech, 16 kHz original (resampled), 10.8 s", false},
      {"raw/morig.raw", "male, 2 s", false},
      {"raw/kristoff.raw", "male, 5 s", true},
      {"raw/cross.raw", "read sentence, 3 s", true},
      {"raw/big_dog.raw", "read sentence, 2.5 s", true},
      {"raw/forig.raw", "female, 1.6 s", true},
  };
  return entries;
}

const std::vector<std::pair<std::string, std::string>>& excluded_corpus_files() {
  static const std::vector<std::pair<std::string, std::string>> excluded{
      {"raw/hts1.raw, raw/hts2.raw", "sample-exact parts of raw/hts.raw (would leak between splits)"},
      {"raw/hts1a.raw, raw/hts2a.raw", "first 3 s of hts1/hts2 (duplicates)"},
      {"raw/f2400.raw, raw/m2400.raw", "codec-decoded copies (codec2 2400 bit/s) of forig/morig"},
      {"raw/700d_end_over.raw", "FreeDV 700D decoded over-the-air output (codec-decoded, radio)"},
      {"raw/g3plx.raw", "off-air HF radio recording (clipped at full scale)"},
      {"raw/ve9qrp.raw, raw/ve9qrp_10s.raw", "long off-air HF radio recording, and its excerpt"},
      {"raw/mmt1.raw", "speech over strong background noise (19 dB frame-energy range)"},
      {"raw/sine1k_2Hz_spread.raw, raw/sine1k_2ms_delay_2Hz_spread.raw", "1 kHz test tone through a fading channel model"},
      {"raw/test_datac1_006.raw, raw/testframes_700d.raw", "modem waveforms (FreeDV data modes), not speech"},
      {"wav/all.wav", "concatenation of other files (hts1a, hts2a, morig, forig, ve9qrp_10s, cq_ref, kristoff, vk5qi)"},
      {"wav/big_dog, forig, morig, hts1a, hts2a, mmt1, f2400, m2400, ve9qrp, vk5qi .wav", "WAV copies of the .raw files"},
      {"wav/cross.wav", "8-bit mu-law copy of raw/cross.raw (codec copy)"},
      {"wav/david4.wav, wav/vk2tpm_004.wav", "flat, noise-like energy (2-4 dB frame-energy range): modem/off-air, not clean speech"},
      {"wav/wia_16kHz.wav", "1 s only, 16 kHz broadcast excerpt with background (27 dB range); too short to matter"},
  };
  return excluded;
}

CorpusSpec default_corpus(bool quick) {
  const fs::path dir = codec2_dir();
  CorpusSpec spec;
  for (const auto& e : default_corpus_entries()) {
    // quick: one long training file and two short test files (a few seconds each side)
    if (quick && e.name != "raw/hts.raw" && e.name != "raw/cross.raw" && e.name != "raw/forig.raw") continue;
    const fs::path p = dir / e.name;
    std::error_code ec;
    if (!fs::exists(p, ec))
      throw Error("default speech corpus: '" + p.string() +
                  "' not found (install Debian's codec2-examples, set VARLEARN_CODEC2_DIR, or give "
                  "--train and --test files)");
    (e.test ? spec.test : spec.train).push_back(p);
  }
  spec.name = "codec2";
  spec.test_name = "codec2 test files (other speakers and sentences)";
  spec.rate = 8000;
  return spec;
}

// ---------------------------------------------------------------------------------------
// asterisk

fs::path asterisk_dir() {
  if (const char* env = std::getenv("VARLEARN_ASTERISK_DIR"); env && *env) return env;
  return "/usr/share/asterisk/sounds";
}

const std::vector<AsteriskLanguage>& asterisk_languages() {
  // Voices from the folder names Debian installs (en_US_f_Allison, fr_CA_f_June, es_MX_f_Allison,
  // it_IT_m_Carlo, ru_RU_f_IvrvoiceRU).
  static const std::vector<AsteriskLanguage> languages{
      {"en", "Allison", "Allison, female, US English", "asterisk-core-sounds-en-wav", "en_US_f_Allison"},
      {"fr", "June", "June, female, Canadian French", "asterisk-core-sounds-fr-wav", "fr_CA_f_June"},
      {"es", "Allison", "Allison, female, Mexican Spanish (the en speaker)", "asterisk-core-sounds-es-wav",
       "es_MX_f_Allison"},
      {"it", "Carlo", "Carlo, male, Italian", "asterisk-core-sounds-it-wav", "it_IT_m_Carlo"},
      {"ru", "IvrvoiceRU", "IvrvoiceRU voice, female, Russian", "asterisk-core-sounds-ru-wav", "ru_RU_f_IvrvoiceRU"},
  };
  return languages;
}

const std::vector<AsteriskExclusion>& excluded_asterisk_files() {
  // Found by inspection of every prompt (duration, peak, 20 ms frame-energy range p90/p10,
  // sample-exact duplicates: none); docs/audio.md has the table.
  static const std::vector<AsteriskExclusion> excluded{
      {"*", "silence/", "digital silence of 1-10 s (the pauses asterisk plays), not speech"},
      {"*", "ascending-2tone.wav", "two-tone signal (0.2 s), not speech"},
      {"*", "descending-2tone.wav", "two-tone signal (0.2 s), not speech"},
      {"*", "beep.wav", "beep tone (0.4 s), not speech"},
      {"*", "beeperr.wav", "error beep (0.4 s), not speech"},
      {"*", "tt-monkeys.wav", "16 s of screeching monkeys (a joke prompt), not speech"},
      {"ru", "is.wav", "empty file (no samples)"},
  };
  return excluded;
}

namespace {

const AsteriskLanguage& find_language(const std::string& code) {
  for (const auto& l : asterisk_languages())
    if (l.code == code) return l;
  std::string all;
  for (const auto& l : asterisk_languages()) all += (all.empty() ? "" : ", ") + l.code;
  throw Error("asterisk prompts: unknown language '" + code + "' (one of " + all + ")");
}

bool excluded_prompt(const std::string& code, const std::string& relative) {
  for (const auto& e : excluded_asterisk_files()) {
    if (e.language != "*" && e.language != code) continue;
    if (e.path.back() == '/' ? relative.rfind(e.path, 0) == 0 : relative == e.path) return true;
  }
  return false;
}

Error missing_prompts(const AsteriskLanguage& l, const fs::path& dir, const std::string& what) {
  return Error("asterisk prompts for '" + l.code + "': '" + dir.string() + "' " + what + " (install Debian's " +
               l.package + ", e.g. with scripts/setup.sh, set VARLEARN_ASTERISK_DIR, or give --train and --test files)");
}

}  // namespace

std::vector<fs::path> asterisk_files(const std::string& code, bool quick) {
  const AsteriskLanguage& lang = find_language(code);
  fs::path dir = asterisk_dir() / code;
  std::error_code ec;
  if (!fs::is_directory(dir, ec) && fs::is_directory(asterisk_dir() / lang.folder, ec)) dir = asterisk_dir() / lang.folder;
  if (!fs::is_directory(dir, ec)) throw missing_prompts(lang, dir, "not found");
  std::vector<std::pair<std::string, fs::path>> found;  // (relative path, path)
  const auto opts = fs::directory_options::follow_directory_symlink;
  for (auto it = fs::recursive_directory_iterator(dir, opts, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const fs::path& p = it->path();
    std::error_code file_ec;  // a broken link is skipped, not a listing error
    if (p.extension() != ".wav" || !fs::is_regular_file(p, file_ec)) continue;  // follows links to files
    const std::string relative = p.lexically_relative(dir).generic_string();
    if (!excluded_prompt(code, relative)) found.emplace_back(relative, p);
  }
  if (ec) throw missing_prompts(lang, dir, std::string("cannot be listed (") + ec.message() + ")");
  if (found.empty()) throw missing_prompts(lang, dir, "holds no .wav prompt");
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  if (!quick) {
    for (auto& f : found) out.push_back(std::move(f.second));
    return out;
  }
  // quick: every 29th prompt (spread over the alphabet and the subfolders), those of at most
  // 4 s, until 8 s; durations estimated from the size (16-bit mono 8 kHz: 16000 bytes a second)
  constexpr size_t kStride = 29;
  constexpr double kQuickSeconds = 8.0, kQuickLongest = 4.0;
  double seconds = 0;
  for (size_t i = 0; i < found.size() && seconds < kQuickSeconds; i += kStride) {
    const auto bytes = fs::file_size(found[i].second, ec);
    const double s = ec ? 0.0 : double(bytes) / 16000.0;
    if (s > kQuickLongest) continue;
    seconds += s;
    out.push_back(found[i].second);
  }
  if (out.empty()) out.push_back(found.front().second);
  return out;
}

CorpusSpec asterisk_corpus(bool quick, const std::string& test_language, bool codec2_test) {
  const AsteriskLanguage& test = find_language(test_language);
  CorpusSpec spec;
  for (const auto& l : asterisk_languages()) {
    if (l.code == test.code) continue;
    if (l.voice == test.voice)
      throw Error("asterisk split: the test language '" + test.code + "' has the same speaker (" + test.voice +
                  ") as the training language '" + l.code + "'; test on a language whose speaker is in no other folder");
    for (auto& p : asterisk_files(l.code, quick)) spec.train.push_back(std::move(p));
  }
  spec.test = asterisk_files(test.code, quick);
  spec.name = "asterisk";
  spec.test_name = test.code + " (" + test.speaker + "; speaker and language unseen in training)";
  spec.rate = 8000;
  if (codec2_test) spec.extra_tests.push_back({"codec2", default_corpus(quick).test});
  return spec;
}

CorpusKind parse_corpus_kind(const std::string& name) {
  if (name == "codec2") return CorpusKind::Codec2;
  if (name == "asterisk") return CorpusKind::Asterisk;
  throw Error("unknown corpus '" + name + "' (codec2 or asterisk)");
}

std::string corpus_kind_name(CorpusKind kind) { return kind == CorpusKind::Asterisk ? "asterisk" : "codec2"; }

CorpusSpec corpus_spec(CorpusKind kind, bool quick, bool extra_tests) {
  return kind == CorpusKind::Asterisk ? asterisk_corpus(quick, kAsteriskTestLanguage, extra_tests) : default_corpus(quick);
}

CorpusSpec split_by_file(const std::vector<fs::path>& files, int test_every) {
  require(test_every >= 2, "audio::split_by_file", "test_every must be >= 2");
  CorpusSpec spec;
  for (size_t i = 0; i < files.size(); ++i)
    ((i + 1) % size_t(test_every) == 0 ? spec.test : spec.train).push_back(files[i]);
  require(!spec.train.empty() && !spec.test.empty(), "audio::split_by_file",
          "need at least " + std::to_string(test_every) + " files so both train and test are non-empty");
  return spec;
}

LoadedCorpus load_corpus(const CorpusSpec& spec, const ReadOptions& options) {
  require(!spec.train.empty(), "corpus", "no training files given");
  require(!spec.test.empty(), "corpus", "no test files given");
  std::set<fs::path> seen;
  for (const auto& p : spec.train) seen.insert(fs::weakly_canonical(p));
  for (const auto& p : spec.test) {
    const std::string name = p.string();
    require(!seen.count(fs::weakly_canonical(p)), "corpus",
            "'" + name + "' is in both the training and the test list (the split is by file)");
  }
  std::vector<fs::path> all = spec.train;
  all.insert(all.end(), spec.test.begin(), spec.test.end());
  std::vector<Signal> sig = read_many(all, options);  // also checks that rates agree
  LoadedCorpus c;
  c.rate = sig.front().rate;
  c.train.assign(sig.begin(), sig.begin() + std::ptrdiff_t(spec.train.size()));
  c.test.assign(sig.begin() + std::ptrdiff_t(spec.train.size()), sig.end());
  return c;
}

}  // namespace varlearn::audio
