// Parsing a `study restore` results.json for the report (tolerant of missing optional keys and
// nulls) and the log-linear fits of the convergence findings.
#include "restore_results.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"

namespace varlearn::study::restore_report {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double number(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : kNaN;
}
std::string text(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int integer(const json& j, const char* key) {
  const double v = number(j, key);
  return std::isfinite(v) ? int(std::lround(v)) : 0;
}
std::size_t count(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_array() ? it->size() : 0;
}

std::vector<DepthValue> depth_values(const json& j, const char* key, const char* value_key) {
  std::vector<DepthValue> out;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const json& row : *it)
    if (row.is_object()) out.push_back({text(row, "regularizer"), integer(row, "depth"), number(row, value_key)});
  return out;
}

/// SNR from the MSE through the signal power the linear baseline implies, when a key is missing.
double snr_or_derived(double snr, double mse, double power) {
  if (std::isfinite(snr)) return snr;
  return std::isfinite(power) && mse > 0 ? 10 * std::log10(power / mse) : kNaN;
}

std::vector<Baseline> baselines(const json& j, const std::string& task) {
  const double lin_mse = number(j, "linear_mse"), lin_snr = number(j, "linear_snr_db");
  const double power = std::isfinite(lin_mse) && std::isfinite(lin_snr) ? lin_mse * std::pow(10.0, lin_snr / 10) : kNaN;
  std::vector<Baseline> out;
  auto add = [&](const std::string& key, const std::string& label) {
    const double mse = number(j, (key + "_mse").c_str());
    if (!std::isfinite(mse)) return;
    out.push_back({key, label, mse, snr_or_derived(number(j, (key + "_snr_db").c_str()), mse, power)});
  };
  const bool inpaint = task == "inpaint";
  const double zero_fill = number(j, "zero_fill_mse"), noisy = number(j, "noisy_mse");
  if (!inpaint || !(std::abs(zero_fill - noisy) <= 1e-12 * std::abs(noisy)))  // inpaint: often the same estimate
    add("noisy", inpaint ? "no restoration (zeros at missing samples)" : "no restoration");
  if (inpaint) add("zero_fill", "zero filling");
  add("linear", inpaint ? "linear MMSE" : "Wiener filter");
  for (auto it = j.begin(); it != j.end(); ++it) {  // further linear baselines: linear_<x>_mse
    const std::string& k = it.key();
    if (k.rfind("linear_", 0) == 0 && k.size() > 11 && k.ends_with("_mse") && k != "linear_mse") {
      const std::string key = k.substr(0, k.size() - 4);
      add(key, "linear (" + key.substr(7) + ")");
    }
  }
  return out;
}

std::optional<LogFit> fit(const std::vector<DepthValue>& v, bool log_x) {
  std::vector<std::pair<double, double>> pts;
  for (const auto& d : v)
    if (std::isfinite(d.value) && d.value > 0 && d.depth > 0)
      pts.push_back({log_x ? std::log(double(d.depth)) : double(d.depth), std::log(d.value)});
  if (pts.size() < 2) return std::nullopt;
  double mx = 0, my = 0;
  for (auto [x, y] : pts) mx += x, my += y;
  mx /= double(pts.size());
  my /= double(pts.size());
  double sxx = 0, sxy = 0;
  for (auto [x, y] : pts) sxx += (x - mx) * (x - mx), sxy += (x - mx) * (y - my);
  if (sxx <= 0) return std::nullopt;
  const double slope = sxy / sxx, icept = my - slope * mx;
  double rss = 0;
  for (auto [x, y] : pts) rss += std::pow(y - icept - slope * x, 2);
  LogFit f;
  f.rate = log_x ? -slope : std::exp(slope);
  f.log_c = icept;
  f.rms = std::sqrt(rss / double(pts.size()));
  f.points = pts.size();
  return f;
}

}  // namespace

bool failed_status(const std::string& status) {
  return status == "diverged" || status == "line_search_failed" || status == "failed" || status == "error";
}

bool Config::usable() const {
  return std::isfinite(test_mse) && std::isfinite(test_snr_db) && !failed_status(status);
}

std::string Config::name() const {
  return regularizer + "_" + method + (bilevel() ? "" : std::string("_N") + std::to_string(depth)) + (fixed() ? "_fixed" : "");
}

std::string Config::label() const {
  return regularizer + " " + method + (bilevel() ? "" : std::string(" N=") + std::to_string(depth)) +
         (fixed() ? " (fixed stepsize)" : "");
}

const Baseline* ExtraTest::baseline(const std::string& key) const {
  for (const auto& b : baselines)
    if (b.key == key) return &b;
  return nullptr;
}

const Baseline* Run::baseline(const std::string& key) const {
  for (const auto& b : baselines)
    if (b.key == key) return &b;
  return nullptr;
}

std::string Run::title() const {
  const std::string s = std::isfinite(sigma) ? std::string("sigma = ") + format_general(sigma, 4) : "sigma not given";
  if (task == "denoise") return "Denoising (" + s + ")";
  if (task == "inpaint") return "Inpainting (packet loss, " + s + ")";
  return "Task " + task + " (" + s + ")";
}

std::vector<std::string> Run::regularizers() const {
  std::vector<std::string> out;
  for (const auto& c : configs)
    if (std::find(out.begin(), out.end(), c.regularizer) == out.end()) out.push_back(c.regularizer);
  return out;
}

Run load_run(const fs::path& dir) {
  const fs::path file = dir / "results.json";
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) throw Error("restore report: no results.json in '" + dir.string() + "'");
  json j;
  try {
    j = json::parse(io::read_text(file));
  } catch (const json::exception& e) {
    throw Error("restore report: '" + file.string() + "' is not JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("task") || !j["task"].is_string() || !j.contains("configs") ||
      !j["configs"].is_array())
    throw Error("restore report: '" + file.string() + "' lacks 'task' or 'configs'");
  Run r;
  r.dir = dir;
  r.task = j["task"].get<std::string>();
  r.sigma = number(j, "sigma");
  r.n = integer(j, "n");
  r.hop = integer(j, "hop");
  r.train_files = count(j, "train_files");
  r.test_files = count(j, "test_files");
  r.quick = j.contains("quick") && j["quick"].is_boolean() && j["quick"].get<bool>();
  r.missing = number(j, "missing");
  r.burst = number(j, "burst");
  r.steps = number(j, "steps");
  r.baselines = baselines(j, r.task);
  r.corpus = text(j, "corpus");
  r.test_name = text(j, "test_name");
  if (j.contains("extra_tests") && j["extra_tests"].is_array())
    for (const json& e : j["extra_tests"])
      if (e.is_object()) r.extra_tests.push_back({text(e, "name"), count(e, "test_files"), baselines(e, r.task)});
  for (const json& c : j["configs"]) {
    if (!c.is_object()) continue;
    Config k;
    k.regularizer = text(c, "regularizer");
    k.method = text(c, "method");
    k.stepsize_mode = text(c, "stepsize_mode");
    k.status = text(c, "status");
    k.depth = k.bilevel() ? 0 : integer(c, "depth");
    k.train_loss = number(c, "train_loss");
    k.test_mse = number(c, "test_mse");
    k.test_snr_db = number(c, "test_snr_db");
    k.seconds = number(c, "seconds");
    for (const ExtraTest& e : r.extra_tests) {
      std::pair<double, double> v{kNaN, kNaN};
      if (c.contains("extra_tests") && c["extra_tests"].is_array())
        for (const json& x : c["extra_tests"])
          if (x.is_object() && text(x, "name") == e.name) v = {number(x, "test_mse"), number(x, "test_snr_db")};
      k.extra.push_back(v);
    }
    r.configs.push_back(k);
  }
  r.convergence = depth_values(j, "convergence", "distance");
  r.bilevel_of_unrolled = depth_values(j, "bilevel_of_unrolled", "test_mse");
  return r;
}

double gain_db(double snr_a, double mse_a, double snr_b, double mse_b) {
  if (std::isfinite(snr_a) && std::isfinite(snr_b)) return snr_a - snr_b;
  return mse_a > 0 && mse_b > 0 ? 10 * std::log10(mse_b / mse_a) : kNaN;
}

std::optional<LogFit> fit_geometric(const std::vector<DepthValue>& v) { return fit(v, false); }
std::optional<LogFit> fit_power(const std::vector<DepthValue>& v) { return fit(v, true); }

std::vector<DepthValue> series(const std::vector<DepthValue>& v, const std::string& regularizer) {
  std::vector<DepthValue> out;
  for (const auto& d : v)
    if (d.regularizer == regularizer) out.push_back(d);
  std::sort(out.begin(), out.end(), [](const DepthValue& a, const DepthValue& b) { return a.depth < b.depth; });
  return out;
}

}  // namespace varlearn::study::restore_report
