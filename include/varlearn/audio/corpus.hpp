#pragma once
/// \file corpus.hpp
/// Speech corpora. The default is the clean speech shipped by Debian's codec2-examples
/// (/usr/share/codec2/raw, 8 kHz s16le mono), with a fixed split BY FILE into train and
/// test so test speakers/sentences are unseen; the list and why each other file is left
/// out are in docs/audio.md. Users give their own files instead (CorpusSpec).
#include <filesystem>
#include <string>
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

/// Train and test file lists.
struct CorpusSpec {
  std::vector<std::filesystem::path> train, test;
};

/// The default corpus' paths under codec2_dir(). `quick`: a smaller subset (a few seconds
/// of train and test). Throws Error naming the first missing file (install codec2-examples
/// or give --train/--test).
CorpusSpec default_corpus(bool quick = false);

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
