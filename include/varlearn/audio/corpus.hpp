#pragma once
/// \file corpus.hpp
/// Speech corpora. The default is the clean speech shipped by Debian's codec2-examples
/// (/usr/share/codec2/raw, 8 kHz s16le mono), with a fixed split BY FILE into train and
/// test so test speakers/sentences are unseen; the list and why each other file is left
/// out are in docs/audio.md. The large corpus is Debian's asterisk-core-sounds-LANG-wav
/// (professionally recorded telephony prompts, 8 kHz mono 16-bit, one speaker per language,
/// about two hours in all), split BY LANGUAGE so that the test speaker is never heard in
/// training. Users give their own files instead (CorpusSpec). Streaming statistics and
/// minibatches over a large file set: frame_stream.hpp.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "varlearn/audio/audio_file.hpp"

namespace varlearn::audio {

/// One file of the default corpus.
struct CorpusEntry {
  std::string name;     ///< file name relative to the codec2 folder, e.g. "raw/hts1.raw"
  std::string speaker;  ///< short description (speaker / content)
  bool test = false;    ///< in the test split
};

/// Folder of the codec2 examples: $VARLEARN_CODEC2_DIR if set, else /usr/share/codec2.
std::filesystem::path codec2_dir();

/// The default clean-speech list with its split (fixed, documented in docs/audio.md).
const std::vector<CorpusEntry>& default_corpus_entries();

/// Leaves out (documented reasons): name -> reason. For docs/tests/reports.
const std::vector<std::pair<std::string, std::string>>& excluded_corpus_files();

/// A further named test set beside a corpus' own (e.g. codec2's test files beside the
/// asterisk test language): never in training.
struct TestSet {
  std::string name;                         ///< e.g. "codec2"
  std::vector<std::filesystem::path> files;  ///< its files
};

/// Train and test file lists.
struct CorpusSpec {
  std::vector<std::filesystem::path> train, test;
  /// Which corpus: "codec2", "asterisk", or "" (the caller's own files).
  std::string name;
  /// What the test side is, e.g. "ru (unseen speaker and language)"; "" when not known.
  std::string test_name;
  /// Further test sets (asterisk: codec2's test files), read at `rate` like `test`.
  std::vector<TestSet> extra_tests;
  /// Rate f_s to read every file at (ReadOptions::rate): 8000 for the built-in corpora (it
  /// resamples codec2's one 16 kHz file), 0 = the files' own common rate.
  int rate = 0;
  CorpusSpec() = default;
  CorpusSpec(std::vector<std::filesystem::path> train_files, std::vector<std::filesystem::path> test_files)
      : train(std::move(train_files)), test(std::move(test_files)) {}
};

/// The default corpus' paths under codec2_dir(). `quick`: a smaller subset (a few seconds
/// of train and test). Throws Error naming the first missing file (install codec2-examples
/// or give --train/--test). name = "codec2", rate = 8000.
CorpusSpec default_corpus(bool quick = false);

// ---------------------------------------------------------------------------------------
// The asterisk prompts: Debian's asterisk-core-sounds-{en,fr,es,it,ru}-wav.

/// One language folder of the asterisk prompts.
struct AsteriskLanguage {
  std::string code;     ///< folder under asterisk_dir(): "en", "fr", "es", "it", "ru"
  std::string voice;    ///< the speaker's name: the same name is the same person ("Allison")
  std::string speaker;  ///< description, e.g. "Allison, female, US English"
  std::string package;  ///< the Debian package that installs it
  /// The folder that package installs (e.g. "en_US_f_Allison"); `code` is a link to it made by
  /// the package asterisk-core-sounds-LANG (only recommended), so it is looked up when `code` is absent.
  std::string folder;
};

/// The five languages in a fixed order (en, fr, es, it, ru). en and es are the SAME speaker
/// (Allison), so a split must never test on one of them while training on the other.
const std::vector<AsteriskLanguage>& asterisk_languages();

/// The default test language: ru. Its speaker is in no other folder, and the four training
/// languages then hold every other voice (three speakers, both genders: Allison in en + es,
/// June in fr, Carlo in it), so the model is tested on an unseen speaker AND an unseen
/// language (a Slavic one after English and three Romance languages) without a gender shift
/// that every training voice lacks. docs/audio.md gives the numbers.
inline constexpr const char* kAsteriskTestLanguage = "ru";

/// Folder of the prompts: $VARLEARN_ASTERISK_DIR if set, else /usr/share/asterisk/sounds
/// (its language entries are symbolic links into /etc/alternatives; they are followed).
std::filesystem::path asterisk_dir();

/// Prompts left out: (language or "*", path relative to the language folder, trailing "/" for
/// a whole folder) -> reason (digital silence, tones, a recording of monkeys, an empty file).
struct AsteriskExclusion {
  std::string language, path, reason;
};
const std::vector<AsteriskExclusion>& excluded_asterisk_files();

/// The prompts of one language: every *.wav below asterisk_dir()/code, or asterisk_dir()/folder
/// when that link is absent (subfolders included, symbolic links followed), sorted by path relative to the language folder, exclusions
/// removed. `quick`: a spread subset of about 8 s (every 29th prompt of at most 4 s until the
/// duration, estimated from the file sizes, reaches 8 s). Throws Error naming the Debian package when the folder is missing or
/// holds no prompt, and for an unknown code.
std::vector<std::filesystem::path> asterisk_files(const std::string& code, bool quick = false);

/// The asterisk split BY LANGUAGE: train on every language but `test_language`, test on it;
/// with `codec2_test`, codec2's default test files (default_corpus(quick).test) are
/// extra_tests[0] = {"codec2", ...}. Refuses a test language whose speaker is also in a
/// training language (en <-> es: the same speaker). name = "asterisk", rate = 8000. Errors
/// name the missing package (asterisk-core-sounds-LANG-wav, or codec2-examples).
CorpusSpec asterisk_corpus(bool quick = false, const std::string& test_language = kAsteriskTestLanguage,
                           bool codec2_test = true);

/// The built-in corpora.
enum class CorpusKind {
  Codec2,   ///< default_corpus(): about 70 s, split by file
  Asterisk  ///< asterisk_corpus(): about two hours, split by language, codec2 as a second test set
};
/// "codec2" | "asterisk" -> kind; Error listing the choices otherwise.
CorpusKind parse_corpus_kind(const std::string& name);
/// kind -> "codec2" | "asterisk".
std::string corpus_kind_name(CorpusKind kind);
/// default_corpus(quick) or asterisk_corpus(quick, kAsteriskTestLanguage, extra_tests):
/// `extra_tests` false for a study that uses no second test set (then codec2 need not be installed).
CorpusSpec corpus_spec(CorpusKind kind, bool quick = false, bool extra_tests = true);

/// Deterministic split of a file list BY FILE: every `test_every`-th file (1-based:
/// files test_every, 2*test_every, ...) goes to test, the rest to train. Error if either
/// side would be empty.
CorpusSpec split_by_file(const std::vector<std::filesystem::path>& files, int test_every = 4);

/// The loaded corpus: signals at one rate.
struct LoadedCorpus {
  std::vector<Signal> train, test;
  int rate = 0;
};

/// Reads both lists with `options` (rate 0: all files must share one rate). Errors: empty
/// list, a file in both lists, or any read_audio()/read_many() error.
LoadedCorpus load_corpus(const CorpusSpec& spec, const ReadOptions& options = {});

}  // namespace varlearn::audio
