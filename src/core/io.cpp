#include "varlearn/core/io.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/signals.hpp"

namespace varlearn::io {
namespace fs = std::filesystem;

namespace {

/// Why `path` cannot be created, in words (errno is not reliable after an ofstream failure:
/// "cannot write 'DIR': Success").
std::string why_not_writable(const fs::path& path, int err) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return "it is a folder";
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (!fs::exists(parent, ec)) return std::string("folder ") + quote_for_message(parent.string()) + " does not exist";
  if (!fs::is_directory(parent, ec)) return quote_for_message(parent.string()) + " is not a folder";
  if (::access(parent.c_str(), W_OK) != 0) return std::string("folder ") + quote_for_message(parent.string()) + " is not writable";
  return err != 0 ? std::string(std::strerror(err)) : std::string("write failed");
}

}  // namespace

void write_atomic(const fs::path& path, const std::string& content) {
  std::error_code dir_ec;
  if (fs::is_directory(path, dir_ec)) throw Error(std::string("cannot write ") + quote_for_message(path.string()) + ": it is a folder");
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  TempPath guard(tmp);  // removed on failure and on SIGINT/SIGTERM
  {
    errno = 0;
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(std::string("cannot write ") + quote_for_message(path.string()) + ": " + why_not_writable(path, errno));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ec;
      fs::remove(tmp, ec);
      throw Error(std::string("cannot write ") + quote_for_message(path.string()) + ": write failed");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw Error(std::string("cannot write ") + quote_for_message(path.string()) + ": " + ec.message());
  guard.release();
}

std::string read_text(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(std::string("file not found: ") + quote_for_message(path.string()));
  if (fs::is_directory(path, ec)) throw Error(quote_for_message(path.string()) + " is a folder, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(std::string("cannot read ") + quote_for_message(path.string()) + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Matrix read_matrix(const fs::path& path) {
  const std::string text = read_text(path);
  std::istringstream lines(text);
  std::string line;
  std::vector<std::vector<double>> rows;
  int lineno = 0;
  const std::string where = "matrix file " + quote_for_message(path.string());
  while (std::getline(lines, line)) {
    ++lineno;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    for (char& c : line)
      if (c == ',' || c == ';' || c == '\t' || c == '\r') c = ' ';
    std::istringstream fields(line);
    std::vector<double> row;
    std::string tok;
    while (fields >> tok) {
      char* end = nullptr;
      errno = 0;
      const double v = std::strtod(tok.c_str(), &end);
      if (end == tok.c_str() || *end != '\0' || errno == ERANGE)
        throw Error(where + ", line " + std::to_string(lineno) + ": " + quote_for_message(tok) + " is not a number");
      if (!std::isfinite(v))
        throw Error(where + ", line " + std::to_string(lineno) + ": entry " + quote_for_message(tok) + " is not finite");
      row.push_back(v);
    }
    if (row.empty()) continue;
    if (!rows.empty() && row.size() != rows.front().size())
      throw Error(where + ", line " + std::to_string(lineno) + ": row has " + std::to_string(row.size()) +
                  " entries, the first row has " + std::to_string(rows.front().size()));
    rows.push_back(std::move(row));
  }
  if (rows.empty()) throw Error(where + ": no numbers found");
  Matrix m(static_cast<Index>(rows.size()), static_cast<Index>(rows.front().size()));
  for (Index i = 0; i < m.rows(); ++i)
    for (Index j = 0; j < m.cols(); ++j) m(i, j) = rows[static_cast<size_t>(i)][static_cast<size_t>(j)];
  return m;
}

std::string format_matrix(const Matrix& m) {
  std::ostringstream out;
  out.precision(17);
  for (Index i = 0; i < m.rows(); ++i) {
    for (Index j = 0; j < m.cols(); ++j) out << (j ? " " : "") << m(i, j);
    out << '\n';
  }
  return out.str();
}

void ensure_writable_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw Error(std::string("cannot create output folder ") + quote_for_message(dir.string()) + ": " +
                (ec ? ec.message() : std::string("not a folder")));
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error(std::string("output folder ") + quote_for_message(dir.string()) + " is not writable");
}

void check_writable_dir(const fs::path& dir) {
  std::error_code ec;
  const fs::path p = dir.empty() ? fs::path(".") : dir;
  if (fs::exists(p, ec)) {
    if (!fs::is_directory(p, ec)) throw Error(std::string("output ") + quote_for_message(dir.string()) + " exists and is not a folder");
    if (::access(p.c_str(), W_OK) != 0) throw Error(std::string("output folder ") + quote_for_message(dir.string()) + " is not writable");
    return;
  }
  fs::path parent = fs::absolute(p, ec).parent_path();
  while (!parent.empty() && !fs::exists(parent, ec)) parent = parent.parent_path();
  if (parent.empty() || !fs::is_directory(parent, ec) || ::access(parent.c_str(), W_OK) != 0)
    throw Error(std::string("cannot create output folder ") + quote_for_message(dir.string()) + ": " + quote_for_message(parent.string()) +
                " is not a writable folder");
  const fs::path probe = parent / (".varlearn_probe." + std::to_string(::getpid()));
  if (!fs::create_directory(probe, ec) || ec)
    throw Error(std::string("cannot create output folder ") + quote_for_message(dir.string()) + ": " + quote_for_message(parent.string()) + " is not writable" +
                (ec ? " (" + ec.message() + ")" : std::string()));
  fs::remove(probe, ec);
}

void check_writable_prefix(const fs::path& prefix) {
  if (prefix.empty()) throw Error("output prefix is empty");
  if (!prefix.has_filename() || prefix.filename() == "." || prefix.filename() == "..")
    throw Error(std::string("output prefix ") + quote_for_message(prefix.string()) + " names a folder, not a file prefix");
  try {
    check_writable_dir(prefix.parent_path());
  } catch (const Error& e) {
    throw Error(std::string("cannot write ") + quote_for_message(prefix.string()) + ": " + e.what());
  }
}

void check_output_name(const fs::path& path) {
  if (path.empty()) throw Error("output path is empty");
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (!ec && fs::exists(st) && !fs::is_directory(st) && !fs::is_regular_file(st))
    throw Error(std::string("output ") + quote_for_message(path.string()) + " is a device, pipe or socket, not a folder or file");
}

struct StagedDir::Guard {
  TempPath temp;
  explicit Guard(const fs::path& p) : temp(p) {}
};

StagedDir::StagedDir(const fs::path& target, Existing existing) : target_(target), existing_(existing) {
  check_output_name(target);
  std::error_code ec;
  if (fs::exists(target_, ec)) {
    if (!fs::is_directory(target_, ec)) throw Error(std::string("output ") + quote_for_message(target_.string()) + " exists and is not a folder");
    if (existing_ == Existing::Refuse)
      throw Error(std::string("output folder ") + quote_for_message(target_.string()) + " already exists (use --force to replace it)");
  }
  const fs::path parent = fs::absolute(target_, ec).parent_path();
  check_writable_dir(parent);
  fs::create_directories(parent, ec);
  if (ec) throw Error(std::string("cannot create folder ") + quote_for_message(parent.string()) + ": " + ec.message());
  static std::atomic<int> counter{0};
  const std::string stem = fs::absolute(target_, ec).filename().string();
  for (int attempt = 0; attempt < 100; ++attempt) {
    staged_ = parent / (stem + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    if (fs::create_directory(staged_, ec) && !ec) break;
    staged_.clear();
  }
  if (staged_.empty()) throw Error(std::string("cannot create a temporary folder next to ") + quote_for_message(target_.string()));
  guard_ = new Guard(staged_);
}

StagedDir::~StagedDir() { delete guard_; }  // removes the temporary folder unless committed

void StagedDir::commit() {
  if (committed_) return;
  std::error_code ec;
  fs::path old;
  if (fs::exists(target_, ec)) {
    if (existing_ == Existing::Refuse)
      throw Error(std::string("output folder ") + quote_for_message(target_.string()) + " appeared during the run; not replaced");
    old = staged_.string() + ".old";
    fs::rename(target_, old, ec);
    if (ec) throw Error(std::string("cannot replace ") + quote_for_message(target_.string()) + ": " + ec.message());
  }
  fs::rename(staged_, target_, ec);
  if (ec) {
    std::error_code ec2;
    if (!old.empty()) fs::rename(old, target_, ec2);  // put the previous folder back
    throw Error(std::string("cannot move the results into ") + quote_for_message(target_.string()) + ": " + ec.message());
  }
  guard_->temp.release();
  committed_ = true;
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace varlearn::io
