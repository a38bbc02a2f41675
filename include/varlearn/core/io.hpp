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

}  // namespace varlearn::io
