// Resumable studies: the journal of finished configurations (see journal.hpp).
#include "varlearn/study/journal.hpp"

#include <cctype>
#include <cstring>
#include <mutex>

#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/dist/dist.hpp"
#include "varlearn/version.hpp"

namespace varlearn::study {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFingerprintFile = "fingerprint.json";

/// Records come from worker threads (the denoise study trains in parallel): one at a time
/// (io::write_atomic's temporary name is per process, and the folder is created once).
std::mutex& record_mutex() {
  static std::mutex m;
  return m;
}

/// Keys become file names: letters, digits, '-', '_', '.', '=' only.
void check_key(const std::string& key) {
  if (key.empty() || key.front() == '.') throw Error("journal: bad key '" + key + "'", Error::Kind::Internal);
  for (char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '='))
      throw Error("journal: bad key '" + key + "'", Error::Kind::Internal);
}

std::string short_dump(const nlohmann::json& j) {
  std::string s = j.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

}  // namespace

std::string fingerprint_difference(const nlohmann::json& a, const nlohmann::json& b) {
  if (a == b) return {};
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : a.items()) {
      if (!b.contains(k)) return k + ": " + short_dump(v) + " (journal) vs absent (now)";
      if (v != b.at(k)) {
        const std::string inner = fingerprint_difference(v, b.at(k));
        return v.is_object() && b.at(k).is_object() ? k + "." + inner : k + ": " + short_dump(v) + " (journal) vs " +
                                                                            short_dump(b.at(k)) + " (now)";
      }
    }
    for (const auto& [k, v] : b.items())
      if (!a.contains(k)) return k + ": absent (journal) vs " + short_dump(v) + " (now)";
  }
  return short_dump(a) + " (journal) vs " + short_dump(b) + " (now)";
}

nlohmann::json input_fingerprint(const std::vector<fs::path>& files) {
  nlohmann::json out = nlohmann::json::array();
  for (const fs::path& f : files) {
    std::error_code ec;
    nlohmann::json j{{"path", fs::absolute(f, ec).lexically_normal().string()}};
    const auto size = fs::file_size(f, ec);
    if (!ec) j["size"] = size;
    const auto time = fs::last_write_time(f, ec);
    if (!ec) j["mtime_ns"] = static_cast<long long>(time.time_since_epoch().count());
    out.push_back(j);
  }
  return out;
}

fs::path Journal::partial_path(const fs::path& target) {
  std::error_code ec;
  fs::path abs = fs::absolute(target, ec);
  if (!abs.has_filename()) abs = abs.parent_path();
  return abs.string() + ".partial";
}

Journal::Journal(fs::path dir, nlohmann::json fingerprint) : dir_(std::move(dir)), fingerprint_(std::move(fingerprint)) {
  fingerprint_["varlearn_version"] = std::string(varlearn::version);
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return;
  if (!fs::is_directory(dir_, ec))
    throw Error("--resume: '" + dir_.string() + "' (partial results) exists and is not a folder");
  const fs::path fp = dir_ / kFingerprintFile;
  if (!fs::exists(fp, ec)) return;  // killed before the first record: nothing to reuse
  nlohmann::json recorded;
  try {
    recorded = nlohmann::json::parse(io::read_text(fp));
  } catch (const nlohmann::json::exception&) {
    throw Error("--resume: '" + fp.string() + "' is not valid JSON (delete '" + dir_.string() + "' to start over)");
  }
  const std::string diff = fingerprint_difference(recorded, fingerprint_);
  if (!diff.empty())
    throw Error("--resume: the partial results in '" + dir_.string() + "' were computed with other settings: " + diff +
                " (rerun with the same options, or delete that folder to start over)");
  resumed_ = true;
}

void Journal::ensure_created() const {
  std::error_code ec;
  if (fs::exists(dir_ / kFingerprintFile, ec)) return;
  fs::create_directories(dir_, ec);
  if (ec) throw Error("cannot create '" + dir_.string() + "': " + ec.message());
  io::write_atomic(dir_ / kFingerprintFile, fingerprint_.dump(2) + "\n");
}

std::optional<nlohmann::json> Journal::find(const std::string& key) const {
  if (!enabled() || !resumed_) return std::nullopt;
  check_key(key);
  const fs::path p = dir_ / (key + ".json");
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  try {
    return nlohmann::json::parse(io::read_text(p));
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // cannot happen with atomic writes; recompute it
  }
}

void Journal::record(const std::string& key, const nlohmann::json& value) const {
  if (!enabled() || !dist::is_root()) return;  // under mpirun rank 0 writes (docs/scale-out.md)
  check_key(key);
  const std::lock_guard<std::mutex> lock(record_mutex());
  ensure_created();
  io::write_atomic(dir_ / (key + ".json"), value.dump() + "\n");
}

std::optional<Vector> Journal::find_signal(const std::string& key, const std::string& name) const {
  if (!enabled() || !resumed_) return std::nullopt;
  check_key(key + "." + name);
  const fs::path p = dir_ / (key + "." + name + ".f64");
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  const std::string bytes = io::read_text(p);
  if (bytes.size() % sizeof(double) != 0) return std::nullopt;
  Vector v(static_cast<Index>(bytes.size() / sizeof(double)));
  if (v.size() > 0) std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

void Journal::record_signal(const std::string& key, const std::string& name, const Vector& signal) const {
  if (!enabled() || !dist::is_root()) return;
  check_key(key + "." + name);
  const std::lock_guard<std::mutex> lock(record_mutex());
  ensure_created();
  std::string bytes(static_cast<size_t>(signal.size()) * sizeof(double), '\0');
  if (signal.size() > 0) std::memcpy(bytes.data(), signal.data(), bytes.size());
  io::write_atomic(dir_ / (key + "." + name + ".f64"), bytes);
}

Journal Journal::nested(const std::string& name, nlohmann::json fingerprint) const {
  if (!enabled()) return {};
  check_key(name);
  Journal j(dir_ / name, std::move(fingerprint));
  if (!resumed_) j.resumed_ = false;  // a leftover of an older run under a fresh parent is not reused
  return j;
}

void Journal::remove() const {
  if (!enabled() || !dist::is_root()) return;
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

}  // namespace varlearn::study
