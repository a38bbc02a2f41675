#include "varlearn/core/io.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
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

/// Removes `path.tmp.<pid>` files of processes that no longer run: what a SIGKILL between
/// linking and renaming (or during a named write) leaves. A live process's file, or one whose
/// owner cannot be asked (EPERM), is left alone. Judged by process id, so on this machine (its
/// pid namespace): a folder shared with other machines may hold their live writers' files.
void remove_stale_temporaries(const fs::path& path) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const std::string prefix = path.filename().string() + ".tmp.";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.size() > prefix.size() + 9 || name.compare(0, prefix.size(), prefix) != 0)
      continue;
    const std::string digits = name.substr(prefix.size());
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    const long pid = std::stol(digits);
    if (pid <= 0 || pid == static_cast<long>(::getpid())) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code rm;
    fs::remove(it->path(), rm);
  }
}

/// Writes `content` into an unnamed file in `dir` (O_TMPFILE) and only then names it `tmp`, so
/// that a SIGKILL while writing leaves nothing behind. False where the filesystem or /proc does
/// not allow it (the caller then writes `tmp` by name); throws when the write itself fails.
bool write_unnamed_and_link(const fs::path& dir, const fs::path& tmp, const std::string& content, const fs::path& path) {
#ifdef O_TMPFILE
  const int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0) return false;
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      throw Error(std::string("cannot write ") + quote_for_message(path.string()) + ": " + std::strerror(err));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  const std::string self = "/proc/self/fd/" + std::to_string(fd);
  const int linked = ::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW);
  ::close(fd);
  return linked == 0;
#else
  (void)dir, (void)tmp, (void)content, (void)path;
  return false;
#endif
}

}  // namespace

void write_atomic(const fs::path& path, const std::string& content) {
  std::error_code dir_ec;
  if (fs::is_directory(path, dir_ec)) throw Error(std::string("cannot write ") + quote_for_message(path.string()) + ": it is a folder");
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  remove_stale_temporaries(path);
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  fs::remove(tmp, ec);  // a reused pid's leftover: linkat does not replace
  TempPath guard(tmp);  // removed on failure and on SIGINT/SIGTERM
  if (!write_unnamed_and_link(dir, tmp, content, path)) detail::write_named(tmp, content, path);
  fs::rename(tmp, path, ec);
  if (ec) throw Error(std::string("cannot write ") + quote_for_message(path.string()) + ": " + ec.message());
  guard.release();
}

namespace detail {

void write_named(const fs::path& tmp, const std::string& content, const fs::path& path) {
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

}  // namespace detail

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

namespace {

/// The nearest existing ancestor of `p` (absolute), `p` itself when it exists.
fs::path nearest_existing(const fs::path& p) {
  std::error_code ec;
  fs::path q = fs::absolute(p, ec);
  while (!q.empty() && !fs::exists(q, ec)) {
    if (q == q.parent_path()) break;
    q = q.parent_path();
  }
  return q;
}

/// Removes `<base>/<stem>.tmp-<pid>-<k>[.old]` folders left by a process that no longer runs
/// (SIGKILL cannot be cleaned up after): the next run with the same target sweeps them.
void sweep_stale_temporaries(const fs::path& base, const std::string& stem) {
  const std::string head = stem + ".tmp-";
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, head.size(), head) != 0) continue;
    char* rest = nullptr;
    const long pid = std::strtol(name.c_str() + head.size(), &rest, 10);
    if (pid <= 0 || rest == nullptr || *rest != '-') continue;
    if (pid == ::getpid() || ::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    std::error_code dir_ec;
    if (it->is_directory(dir_ec)) stale.push_back(it->path());
  }
  for (const fs::path& p : stale) fs::remove_all(p, ec);
}

/// A fresh folder `<base>/<stem>.tmp-<pid>-<k>` (created); throws Error naming `what` when none can be made.
fs::path fresh_temporary_folder(const fs::path& base, const std::string& stem, const fs::path& what) {
  static std::atomic<int> counter{0};
  std::error_code ec;
  sweep_stale_temporaries(base, stem);
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path p = base / (stem + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    if (fs::create_directory(p, ec) && !ec) return p;
  }
  throw Error(std::string("cannot create a temporary folder next to ") + quote_for_message(what.string()));
}

void create_parents(const fs::path& dir) {
  std::error_code ec;
  if (dir.empty() || fs::is_directory(dir, ec)) return;
  fs::create_directories(dir, ec);
  if (ec) throw Error(std::string("cannot create folder ") + quote_for_message(dir.string()) + ": " + ec.message());
}

}  // namespace

struct StagedDir::Guard {
  TempPath temp;
  explicit Guard(const fs::path& p) : temp(p) {}
};

void StagedDir::check(const fs::path& target, Existing existing) {
  check_output_name(target);
  std::error_code ec;
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec)) throw Error(std::string("output ") + quote_for_message(target.string()) + " exists and is not a folder");
    if (existing == Existing::Refuse)
      throw Error(std::string("output folder ") + quote_for_message(target.string()) + " already exists (use --force to replace it)");
  }
  check_writable_dir(fs::absolute(target, ec).parent_path());
}

StagedDir::StagedDir(const fs::path& target, Existing existing) : target_(target), existing_(existing) {
  check(target_, existing_);
  std::error_code ec;
  fs::path abs = fs::absolute(target_, ec);
  if (!abs.has_filename()) abs = abs.parent_path();
  staged_ = fresh_temporary_folder(nearest_existing(abs.parent_path()), abs.filename().string(), target_);
  guard_ = new Guard(staged_);
}

StagedDir::~StagedDir() { delete guard_; }  // removes a temporary folder unless committed

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
  create_parents(fs::absolute(target_, ec).parent_path());
  fs::rename(staged_, target_, ec);
  if (ec) {
    std::error_code ec2;
    if (!old.empty()) fs::rename(old, target_, ec2);  // put the previous folder back
    throw Error(std::string("cannot move the results into ") + quote_for_message(target_.string()) + ": " + ec.message());
  }
  if (guard_) guard_->temp.release();
  committed_ = true;
  if (!old.empty()) fs::remove_all(old, ec);
}

void check_output_files(const fs::path& prefix, const std::vector<std::string>& suffixes, Existing existing) {
  check_output_name(prefix);
  check_writable_prefix(prefix);
  for (const std::string& suffix : suffixes) {
    const fs::path f = prefix.string() + suffix;
    std::error_code ec;
    const auto st = fs::status(f, ec);
    if (ec || !fs::exists(st)) continue;
    if (!fs::is_regular_file(st)) throw Error(std::string("output ") + quote_for_message(f.string()) + " exists and is not a file");
    if (existing == Existing::Refuse)
      throw Error(std::string("output file ") + quote_for_message(f.string()) + " already exists (use --force to replace it)");
  }
}

struct StagedFiles::Guard {
  TempPath temp;
  explicit Guard(const fs::path& p) : temp(p) {}
};

StagedFiles::StagedFiles(const fs::path& prefix, std::vector<std::string> suffixes, Existing existing)
    : prefix_(prefix), suffixes_(std::move(suffixes)), existing_(existing) {
  check_output_files(prefix_, suffixes_, existing_);
  std::error_code ec;
  const fs::path abs = fs::absolute(prefix_, ec);
  dir_ = fresh_temporary_folder(nearest_existing(abs.parent_path()), std::string(".").append(abs.filename().string()), prefix_);
  guard_ = new Guard(dir_);
}

StagedFiles::~StagedFiles() { delete guard_; }

fs::path StagedFiles::prefix() const {
  return committed_ ? prefix_ : dir_ / fs::absolute(prefix_).filename();
}

fs::path StagedFiles::target(const std::string& suffix) const { return prefix_.string() + suffix; }

void StagedFiles::commit() {
  if (committed_) return;
  std::error_code ec;
  create_parents(fs::absolute(prefix_, ec).parent_path());
  const fs::path staged = dir_ / fs::absolute(prefix_).filename();
  for (const std::string& suffix : suffixes_) {
    const fs::path from = staged.string() + suffix, to = target(suffix);
    if (fs::exists(from, ec)) {
      if (existing_ == Existing::Refuse && fs::exists(to, ec))
        throw Error(std::string("output file ") + quote_for_message(to.string()) + " appeared during the run; not replaced");
      fs::rename(from, to, ec);
      if (ec) throw Error(std::string("cannot move the results into ") + quote_for_message(to.string()) + ": " + ec.message());
    } else if (existing_ == Existing::Replace && fs::is_regular_file(to, ec)) {
      fs::remove(to, ec);  // a stale file of the previous run's set
    }
  }
  committed_ = true;
  delete guard_;  // removes the (now empty) temporary folder
  guard_ = nullptr;
}

}  // namespace varlearn::io
