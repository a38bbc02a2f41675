#pragma once
/// \file journal.hpp
/// Resumable studies (`--resume`): each finished configuration is recorded as soon as it is
/// done, so a run killed at any point (even by SIGKILL) can be resumed, skipping finished work
/// and ending with the same results as a run that was never interrupted.
///
/// Layout: the folder `<target>.partial` next to the output folder `<target>`:
///   fingerprint.json          what determines the results (resolved options, input files,
///                             version); a resume with a different fingerprint is an Error
///                             naming the first field that differs
///   <key>.json                one finished configuration (exact doubles: JSON round-trips them)
///   <key>.<name>.f64          a signal belonging to it (raw little-endian float64)
///   <name>/                   a nested journal (reproduce: one per section)
/// Every file is written atomically (io::write_atomic), so a kill leaves whole entries only.
/// The folder is created at the first record (a run that fails on bad input creates nothing)
/// and removed by remove() once the results are in place.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "varlearn/core/types.hpp"

namespace varlearn::study {

class Journal {
public:
  /// A disabled journal: finds nothing, records nothing (an ordinary run without --resume).
  Journal() = default;
  /// The journal `dir` (usually partial_path(target)). When its fingerprint.json exists it
  /// must equal `fingerprint` (throws Error otherwise); the folder itself is created lazily.
  Journal(std::filesystem::path dir, nlohmann::json fingerprint);

  /// `<target>.partial` (a trailing '/' of the target ignored).
  static std::filesystem::path partial_path(const std::filesystem::path& target);

  bool enabled() const { return !dir_.empty(); }
  const std::filesystem::path& dir() const { return dir_; }
  /// True when the journal held finished work when it was opened.
  bool resumed() const { return resumed_; }

  /// The recorded value of `key`, if that configuration was finished.
  std::optional<nlohmann::json> find(const std::string& key) const;
  /// Records a finished configuration (atomically; creates the folder and the fingerprint).
  void record(const std::string& key, const nlohmann::json& value) const;
  /// A signal recorded with a configuration (exact float64).
  std::optional<Vector> find_signal(const std::string& key, const std::string& name) const;
  void record_signal(const std::string& key, const std::string& name, const Vector& signal) const;

  /// A nested journal `dir/name` with its own fingerprint (disabled when this one is).
  Journal nested(const std::string& name, nlohmann::json fingerprint) const;

  /// Removes the whole folder (call after the results were committed).
  void remove() const;

private:
  void ensure_created() const;
  std::filesystem::path dir_;
  nlohmann::json fingerprint_;
  bool resumed_ = false;
};

/// Input files in a fingerprint: absolute path, size and modification time of each (a file
/// changed since the interrupted run makes its partial results unusable).
nlohmann::json input_fingerprint(const std::vector<std::filesystem::path>& files);

/// The first difference between two fingerprints, as "FIELD: A (journal) vs B (now)"; empty
/// when equal.
std::string fingerprint_difference(const nlohmann::json& recorded, const nlohmann::json& now);

}  // namespace varlearn::study
