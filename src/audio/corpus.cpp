#include "varlearn/audio/corpus.hpp"

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
  return spec;
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
