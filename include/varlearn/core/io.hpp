#pragma once
/// \file io.hpp
/// Files: atomic writes (temporary file + rename, so a failed run leaves no half file),
/// and dense matrices as text (whitespace- or comma-separated rows, '#' comments).
#include <filesystem>
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"

namespace varlearn::io {

/// Writes `content` to `path` through `path.tmp.<pid>` and a rename, so that `path` is never
/// half-written. The content goes into an unnamed file first (O_TMPFILE, where the filesystem
/// has it) and is named only when complete, so a SIGKILL leaves at most a complete temporary,
/// which the next write of `path` removes (with any other of a process no longer running).
/// Throws Error (naming the path) when the folder does not exist or is not writable.
void write_atomic(const std::filesystem::path& path, const std::string& content);

namespace detail {
/// write_atomic's fallback where O_TMPFILE is not available: writes `tmp` by name; errors name `path`.
void write_named(const std::filesystem::path& tmp, const std::string& content, const std::filesystem::path& path);
}  // namespace detail

/// Reads the whole file; throws Error when it is missing or unreadable.
std::string read_text(const std::filesystem::path& path);

/// Parses a dense matrix: one row per line, entries separated by spaces, tabs or commas.
/// Rejects ragged rows, non-numbers, NaN/inf and empty files with a message naming the line.
Matrix read_matrix(const std::filesystem::path& path);

/// Formats a matrix as text readable by read_matrix (full double precision).
std::string format_matrix(const Matrix& m);

/// Creates `dir` (and parents) and checks it is writable; throws Error otherwise.
void ensure_writable_dir(const std::filesystem::path& dir);

/// Checks, creating nothing, that `dir` can be an output folder: an existing writable folder,
/// or a missing one whose nearest existing ancestor is a writable folder (probed by creating
/// and removing a folder there: access() says yes to root everywhere). An empty path means
/// ".". Throws Error otherwise. Call it before the work, so bad input leaves no output.
void check_writable_dir(const std::filesystem::path& dir);

/// Checks, creating nothing, that files named `prefix` + suffix can be written: the prefix
/// names a file stem (not empty, not ending in a folder) and its folder passes
/// check_writable_dir. Throws Error otherwise.
void check_writable_prefix(const std::filesystem::path& prefix);

/// Checks, creating nothing, that `path` can name an output (folder or file prefix) at all:
/// not empty and not a device, pipe or socket (`--out /dev/null` would otherwise create
/// `/dev/null.csv` or write into a device). Throws Error otherwise.
void check_output_name(const std::filesystem::path& path);

/// What a StagedDir or StagedFiles does when its target already exists.
enum class Existing {
  Refuse,   ///< throw Error (the default: a rerun never mixes with a previous run's files)
  Replace,  ///< replace the whole output at commit() (no stale files of the last run remain)
};

/// An output folder written all-or-nothing: the work writes into a fresh temporary folder
/// `<target>.tmp-<pid>-<k>` (path()) in the target's nearest existing ancestor folder (its
/// parent unless folders are missing: those are created at commit()), and commit() renames it
/// into place. Until then the target is untouched; a failure (destructor without commit) or
/// SIGINT/SIGTERM (with install_interrupt_cleanup(), core/signals.hpp) removes the temporary
/// folder, so a failed run creates nothing. SIGKILL cannot be handled: its temporary folder
/// stays until the next StagedDir (or StagedFiles) of the same target removes the temporary
/// folders of processes that no longer run.
class StagedDir {
public:
  /// Checks the target (check_output_name; an existing one must be a folder and is refused
  /// unless Existing::Replace; its nearest existing ancestor must be a writable folder), then
  /// creates the temporary folder.
  StagedDir(const std::filesystem::path& target, Existing existing = Existing::Refuse);
  ~StagedDir();
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;
  /// Where to write now (the temporary folder; the target after commit()).
  const std::filesystem::path& path() const { return committed_ ? target_ : staged_; }
  const std::filesystem::path& target() const { return target_; }
  /// Renames the temporary folder into place (an existing target, with Replace, is moved
  /// aside first and removed after). Throws Error when a rename fails; idempotent.
  void commit();
  bool committed() const { return committed_; }

  /// Checks everything the constructor checks, creating nothing (call it before the work).
  static void check(const std::filesystem::path& target, Existing existing = Existing::Refuse);

private:
  std::filesystem::path target_, staged_;
  Existing existing_;
  bool committed_ = false;
  struct Guard;
  Guard* guard_ = nullptr;
};

/// A set of output files `prefix + suffix` (e.g. PREFIX.csv, PREFIX.png, PREFIX.svg) written
/// all-or-nothing: the work writes them under prefix() — `<tmp folder>/<stem>`, in a
/// temporary folder of the prefix's nearest existing ancestor (removed on failure and on
/// SIGINT/SIGTERM) — and commit() renames each into place (creating missing parent folders).
/// An existing file of the set is refused unless Existing::Replace; with Replace, commit()
/// also removes the files of the set this run did not write (no stale PREFIX.png after a
/// rerun with --no-figures).
class StagedFiles {
public:
  /// Checks (check_output_files), then creates the temporary folder.
  StagedFiles(const std::filesystem::path& prefix, std::vector<std::string> suffixes,
              Existing existing = Existing::Refuse);
  ~StagedFiles();
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  /// The prefix to write under now (the target prefix after commit()).
  std::filesystem::path prefix() const;
  /// The final name of `suffix`'s file.
  std::filesystem::path target(const std::string& suffix) const;
  /// Moves every file written under prefix() into place; idempotent.
  void commit();

private:
  std::filesystem::path prefix_, dir_;
  std::vector<std::string> suffixes_;
  Existing existing_;
  bool committed_ = false;
  struct Guard;
  Guard* guard_ = nullptr;
};

/// Checks, creating nothing, that the files `prefix + suffix` can be written: check_output_name
/// and check_writable_prefix on the prefix, no file of the set is a folder or device, and none
/// exists unless `existing` is Replace ("... already exists (use --force to replace it)").
void check_output_files(const std::filesystem::path& prefix, const std::vector<std::string>& suffixes,
                        Existing existing = Existing::Refuse);

}  // namespace varlearn::io
