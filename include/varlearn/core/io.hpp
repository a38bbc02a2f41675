#pragma once
/// \file io.hpp
/// Files: atomic writes (temporary file + rename, so a failed run leaves no half file),
/// and dense matrices as text (whitespace- or comma-separated rows, '#' comments).
#include <filesystem>
#include <string>

#include "varlearn/core/types.hpp"

namespace varlearn::io {

/// Writes `content` to `path` through `path.tmp.<pid>` and a rename. Throws Error
/// (naming the path) when the folder does not exist or is not writable.
void write_atomic(const std::filesystem::path& path, const std::string& content);

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

}  // namespace varlearn::io
