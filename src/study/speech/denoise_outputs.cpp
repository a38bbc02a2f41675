// Speech denoising study, writers: results.json, results.csv, findings.md (sentences
// generated from the numbers), the results table, figures and WAVs.
#include <algorithm>
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/study/denoise_study.hpp"
#include "../report/figure.hpp"

namespace varlearn::study {
namespace fs = std::filesystem;

namespace {

using learn::Method;
using learn::StepsizeMode;

/// A configuration "reaches theory" when its training MSE is within this of theory_mse.
constexpr double kReachesTheory = 0.01;
/// Even depths with a learned stepsize "agree" within this relative spread.
constexpr double kEvenDepthSpread = 0.05;
/// Rank analysis: bilevel and unrolled "coincide" at k when their theory MSEs differ by at
/// most this (relative); unrolling "beats" bilevel when it is lower by more.
constexpr double kRankCoincide = 1e-3;

bool is_bilevel(const DenoiseConfig& c) { return c.method == Method::Bilevel; }
bool is_unrolled(const DenoiseConfig& c, StepsizeMode mode) {
  return c.method == Method::Unrolled && c.stepsize_mode == mode;
}

nlohmann::json config_json(const DenoiseConfig& c) {
  nlohmann::json j;
  j["method"] = learn::to_string(c.method);
  j["depth"] = is_bilevel(c) ? nlohmann::json(nullptr) : nlohmann::json(c.depth);
  j["stepsize_mode"] = learn::to_string(c.stepsize_mode);
  j["stepsize"] = c.stepsize;
  j["train_mse"] = c.train_mse;
  j["test_mse"] = c.test_mse;
  j["test_mse_sampled"] = c.test_mse_sampled;
  j["theory_mse"] = c.theory_mse;
  j["test_snr_db"] = c.test_snr_db;
  j["theory_attained"] = c.theory_attained;
  j["shortfall"] = c.shortfall;
  j["init"] = to_string(c.init);
  j["regularizer_norm"] = c.regularizer_norm;
  j["iterations"] = c.iterations;
  j["seconds"] = c.seconds;
  j["status"] = c.status;
  return j;
}

const DenoiseConfig* find(const std::vector<DenoiseConfig>& v, StepsizeMode mode, int depth,
                          std::optional<DenoiseInit> init = std::nullopt) {
  for (const auto& c : v)
    if (is_unrolled(c, mode) && c.depth == depth && (!init || c.init == *init)) return &c;
  return nullptr;
}
const DenoiseConfig* bilevel_of(const DenoiseResults& r) {
  for (const auto& c : r.configs)
    if (is_bilevel(c)) return &c;
  return nullptr;
}

std::string csv_line(const DenoiseConfig& c, const std::string& group) {
  std::ostringstream s;
  s.precision(10);
  s << group << ',' << learn::to_string(c.method) << ',' << (is_bilevel(c) ? std::string() : std::to_string(c.depth))
    << ',' << learn::to_string(c.stepsize_mode) << ',' << to_string(c.init) << ',' << c.stepsize << ',' << c.train_mse
    << ',' << c.test_mse << ',' << c.test_mse_sampled << ',' << c.theory_mse << ',' << c.test_snr_db << ','
    << c.shortfall << ',' << c.regularizer_norm << ',' << c.iterations << ',' << c.seconds << ',' << c.status << '\n';
  return s.str();
}

// ---- findings, one sentence (bullet) each

std::string setting_sentence(const DenoiseResults& r) {
  const auto& o = r.options;
  std::ostringstream md;
  md << "Setting: " << r.train_files.size() << " training files (" << format_general(r.train_seconds_audio, 3) << " s, "
     << r.train_frames << " frames), " << r.test_files.size() << " test files (" << format_general(r.test_seconds_audio, 3)
     << " s, " << r.test_frames << " frames) at " << r.rate << " Hz; n = " << o.n << ", hop = " << o.hop
     << ", k = " << o.rank << ", sigma = " << o.noise_std << ", fixed stepsize " << o.fixed_stepsize << ", objective "
     << (o.objective == DenoiseOptions::Objective::Exact ? "exact noise expectation (L-BFGS)" : "sampled noise (Adam)")
     << ", " << o.iterations << " iterations max; total " << format_general(r.seconds, 3) << " s.\n\n";
  return md.str();
}

// Bilevel, every fixed-stepsize depth and even learned depths must reach theory.
std::string fit_sentence(const DenoiseResults& r) {
  double worst_fit = 0;
  std::string worst_name;
  int n_fit = 0, n_ok = 0;
  for (const auto& c : r.configs) {
    const bool must = is_bilevel(c) || c.stepsize_mode == StepsizeMode::Fixed || c.depth % 2 == 0;
    if (!must) continue;
    ++n_fit;
    if (c.shortfall <= kReachesTheory) ++n_ok;
    if (c.shortfall > worst_fit) {
      worst_fit = c.shortfall;
      worst_name = is_bilevel(c) ? "bilevel" : "N=" + std::to_string(c.depth) + " " + learn::to_string(c.stepsize_mode);
    }
  }
  std::ostringstream md;
  md << "- Training reaches theory: " << n_ok << " of " << n_fit
     << " configurations that should (bilevel, every fixed-stepsize depth, even depths with learned stepsize) "
        "are within 1 % of their theory_mse on the training set; the largest gap is "
     << format_percent(worst_fit, 2, true) << (worst_name.empty() ? "" : " (" + worst_name + ")") << ".\n";
  return md.str();
}

// Learned stepsize: the test MSE does not depend on N within a parity; N = 1 is worse.
std::string learned_sentence(const DenoiseResults& r) {
  std::vector<std::pair<int, double>> even, all;
  for (const auto& c : r.configs)
    if (is_unrolled(c, StepsizeMode::Learned)) {
      all.push_back({c.depth, c.test_mse});
      if (c.depth % 2 == 0) even.push_back({c.depth, c.test_mse});
    }
  if (all.empty()) return "";
  std::ostringstream md;
  md << "- Learned stepsize, test MSE by N:";
  for (auto [d, v] : all) md << " N=" << d << ": " << format_general(v, 4);
  md << ".";
  if (even.size() >= 2) {
    double lo = 1e300, hi = 0;
    for (auto [d, v] : even) lo = std::min(lo, v), hi = std::max(hi, v);
    md << " Even depths lie within " << format_percent(hi / lo - 1, 2, true) << " of each other ("
       << (hi / lo - 1 <= kEvenDepthSpread ? "within" : "NOT within")
       << " 5 %: the MSE is independent of N within a parity).";
  }
  const DenoiseConfig* n1 = find(r.configs, StepsizeMode::Learned, 1);
  if (n1 && !even.empty()) {
    double best = 1e300;
    for (auto [d, v] : even) best = std::min(best, v);
    md << " N = 1 (T = omega I, whatever R) is worse: " << format_general(n1->test_mse, 4) << ", "
       << format_percent(n1->test_mse / best - 1, 1, true) << " above the best even depth (theory on training: "
       << format_general(n1->theory_mse, 4) << " vs "
       << format_general(find(r.configs, StepsizeMode::Learned, even.front().first)->theory_mse, 4) << ").";
  }
  md << "\n";
  return md.str();
}

// Fixed stepsize: change over N and the parity effect (odd N against its even neighbours).
std::string fixed_sentence(const DenoiseResults& r) {
  std::vector<const DenoiseConfig*> fx;
  for (const auto& c : r.configs)
    if (is_unrolled(c, StepsizeMode::Fixed)) fx.push_back(&c);
  if (fx.empty()) return "";
  std::ostringstream md;
  md << "- Fixed stepsize omega = " << r.options.fixed_stepsize << ", test MSE by N:";
  for (auto* c : fx) md << " " << c->depth << ": " << format_general(c->test_mse, 4);
  md << " (theory on training:";
  for (auto* c : fx) md << " " << format_general(c->theory_mse, 4);
  md << ").";
  if (fx.size() >= 2)
    md << " From N = " << fx.front()->depth << " to N = " << fx.back()->depth << " the test MSE changes by "
       << format_percent(fx.back()->test_mse / fx.front()->test_mse - 1, 1, true) << ".";
  double tsum = 0, psum = 0;
  int cnt = 0;
  for (size_t i = 1; i + 1 < fx.size(); ++i) {
    if (fx[i]->depth % 2 == 0 || fx[i - 1]->depth != fx[i]->depth - 1 || fx[i + 1]->depth != fx[i]->depth + 1)
      continue;
    tsum += fx[i]->train_mse / (0.5 * (fx[i - 1]->train_mse + fx[i + 1]->train_mse)) - 1;
    psum += fx[i]->theory_mse / (0.5 * (fx[i - 1]->theory_mse + fx[i + 1]->theory_mse)) - 1;
    ++cnt;
  }
  if (cnt > 0)
    md << " Parity effect at the fixed stepsize: odd depths sit on average " << format_percent(psum / cnt, 2, true)
       << " (theory) and " << format_percent(tsum / cnt, 2, true)
       << " (trained, training set) away from the mean of their even neighbours.";
  md << "\n";
  return md.str();
}

// Odd depths with learned stepsize: default start against the strategy's starts.
std::string odd_sentence(const DenoiseResults& r) {
  std::vector<std::string> lines;
  for (const auto& c : r.configs)
    if (c.stepsize_mode == StepsizeMode::Learned && c.depth >= 3 && c.depth % 2 == 1) {
      std::ostringstream s;
      s << "N=" << c.depth << ": default " << format_percent(c.shortfall, 1, true);
      if (auto* t = find(r.strategy, StepsizeMode::Learned, c.depth, DenoiseInit::Theory))
        s << ", theory init " << format_percent(t->shortfall, 2, true);
      if (auto* t = find(r.strategy, StepsizeMode::Learned, c.depth, DenoiseInit::Continuation))
        s << ", continuation " << format_percent(t->shortfall, 2, true);
      lines.push_back(s.str());
    }
  if (lines.empty()) return "";
  std::ostringstream md;
  md << "- Odd depths with learned stepsize, training MSE above the theory optimum (an infimum, omega -> 0): ";
  for (size_t i = 0; i < lines.size(); ++i) md << (i ? "; " : "") << lines[i];
  md << ". Default training starts from T = " << r.options.fixed_stepsize
     << " I and stops in a wide minimum; starting from the theory engine's realizing R at a small omega, or "
        "lowering omega step by step with R warm-started (continuation), reaches the sharp optimum.\n";
  return md.str();
}

std::string sharpness_sentence(const DenoiseResults& r) {
  if (r.sharpness.empty()) return "";
  std::ostringstream md;
  md << "- Sharpness (per-sample training MSE; largest Hessian eigenvalue w.r.t. (vec R, alpha); basin width = "
        "median radius, relative to ||theta||, at which the MSE rises by 1 %):";
  for (const auto& s : r.sharpness)
    md << " N=" << s.depth << " " << to_string(s.init) << ": MSE " << format_general(s.mse, 4) << ", omega "
       << format_general(s.stepsize, 3) << ", ||R|| " << format_general(s.regularizer_norm, 3) << ", lambda_max "
       << format_general(s.hessian_max, 3) << ", d2/dalpha2 " << format_general(s.hessian_max_alpha, 3) << ", width "
       << format_general(s.basin_width, 3) << ";";
  md << "\n";
  return md.str();
}

std::string bilevel_sentence(const DenoiseResults& r) {
  const DenoiseConfig* b = bilevel_of(r);
  if (!b) return "";
  double best_unrolled = 1e300;
  for (const auto& c : r.configs)
    if (c.method == Method::Unrolled) best_unrolled = std::min(best_unrolled, c.test_mse);
  std::ostringstream md;
  md << "- Bilevel: test MSE " << format_general(b->test_mse, 4) << " (train " << format_general(b->train_mse, 4)
     << ", theory infimum " << format_general(b->theory_mse, 4) << "); best unrolled test MSE "
     << format_general(best_unrolled, 4) << "; Wiener filter " << format_general(r.wiener_mse, 4)
     << "; no denoising " << format_general(r.noisy_mse, 4) << ".\n";
  return md.str();
}

// ---- files

nlohmann::json results_json(const DenoiseResults& r) {
  const auto& o = r.options;
  nlohmann::json j;
  j["configs"] = nlohmann::json::array();
  for (const auto& c : r.configs) j["configs"].push_back(config_json(c));
  j["odd_depth_strategy"] = nlohmann::json::array();
  for (const auto& c : r.strategy) j["odd_depth_strategy"].push_back(config_json(c));
  j["sharpness"] = nlohmann::json::array();
  for (const auto& s : r.sharpness)
    j["sharpness"].push_back({{"depth", s.depth}, {"init", to_string(s.init)}, {"train_mse", s.mse},
                              {"stepsize", s.stepsize}, {"regularizer_norm", s.regularizer_norm},
                              {"hessian_max", s.hessian_max}, {"hessian_alpha", s.hessian_max_alpha},
                              {"basin_width", s.basin_width}});
  j["noisy_mse"] = r.noisy_mse;
  j["noisy_mse_sampled"] = r.noisy_mse_sampled;
  j["noisy_snr_db"] = r.noisy_snr_db;
  j["wiener_mse"] = r.wiener_mse;
  j["wiener_train_mse"] = r.wiener_train_mse;
  j["wiener_snr_db"] = r.wiener_snr_db;
  j["train_files"] = r.train_files;
  j["test_files"] = r.test_files;
  j["settings"] = {{"n", o.n}, {"hop", o.hop}, {"sigma", o.noise_std}, {"k", o.rank}, {"depths", o.depths},
                   {"fixed_stepsize", o.fixed_stepsize},
                   {"objective", o.objective == DenoiseOptions::Objective::Exact ? "exact" : "sampled"},
                   {"rate", r.rate}, {"quick", o.quick}, {"iterations", o.iterations}, {"seed", o.seed},
                   {"train_frames", r.train_frames}, {"test_frames", r.test_frames},
                   {"init", "R0 = sqrt(max(1/omega - 1, 0)) [I_k 0], omega0 = fixed stepsize: T = omega I at start"}};
  if (!r.ranks.empty()) {  // rank analysis (a single --k: none of these keys)
    j["settings"]["ranks"] = o.ranks;
    j["settings"]["rank_depths"] = o.rank_depths;
    j["ranks"] = nlohmann::json::array();
    for (const auto& rc : r.ranks) {
      nlohmann::json row = config_json(rc.config);
      row["k"] = rc.rank;
      j["ranks"].push_back(row);
    }
    j["rank_theory"] = nlohmann::json::array();
    for (const auto& t : r.rank_theory) {
      nlohmann::json un = nlohmann::json::array();
      for (auto [d, v] : t.unrolled) un.push_back({{"depth", d}, {"theory_mse", v}});
      j["rank_theory"].push_back({{"k", t.rank}, {"bilevel_theory_mse", t.bilevel}, {"unrolled_learned", un}});
    }
    j["rank_seconds"] = r.rank_seconds;
  }
  j["seconds"] = r.seconds;
  return j;
}

std::string ranks_csv(const DenoiseResults& r) {
  std::ostringstream s;
  s.precision(10);
  s << "k,method,depth,stepsize_mode,init,stepsize,train_mse,theory_mse,theory_attained,shortfall,test_mse,"
       "test_mse_sampled,test_snr_db,iterations,seconds,status\n";
  for (const auto& rc : r.ranks) {
    const DenoiseConfig& c = rc.config;
    s << rc.rank << ',' << learn::to_string(c.method) << ',' << (is_bilevel(c) ? std::string() : std::to_string(c.depth))
      << ',' << learn::to_string(c.stepsize_mode) << ',' << to_string(c.init) << ',' << c.stepsize << ',' << c.train_mse
      << ',' << c.theory_mse << ',' << (c.theory_attained ? 1 : 0) << ',' << c.shortfall << ',' << c.test_mse << ',' << c.test_mse_sampled
      << ',' << c.test_snr_db << ',' << c.iterations << ',' << c.seconds << ',' << c.status << '\n';
  }
  return s.str();
}

std::string results_csv(const DenoiseResults& r) {
  std::string csv =
      "group,method,depth,stepsize_mode,init,stepsize,train_mse,test_mse,test_mse_sampled,theory_mse,test_snr_db,"
      "shortfall,regularizer_norm,iterations,seconds,status\n";
  for (const auto& c : r.configs) csv += csv_line(c, "main");
  for (const auto& c : r.strategy) csv += csv_line(c, "odd_depth_strategy");
  for (const auto& rc : r.ranks) csv += csv_line(rc.config, std::string("rank_k") + std::to_string(rc.rank));
  return csv;
}

std::string xrange(const DenoiseOptions& o) {
  std::ostringstream s;
  s << "set xrange [" << o.depths.front() - 0.5 << ":" << o.depths.back() + 0.5 << "]\n";
  return s.str();
}

// Test MSE (solid) and theory on the training S (dashed) against depth N.
std::string mse_vs_depth_plot(const DenoiseResults& r) {
  const auto& o = r.options;
  const DenoiseConfig* b = bilevel_of(r);
  std::ostringstream data, body;
  data.precision(10);
  auto block = [&](StepsizeMode mode, bool theory) {
    for (const auto& c : r.configs)
      if (is_unrolled(c, mode)) data << c.depth << ' ' << (theory ? c.theory_mse : c.test_mse) << '\n';
    data << "e\n";
  };
  body << "set title 'Speech denoising, n=" << o.n << ", {/Symbol s}=" << o.noise_std << ", k=" << o.rank
       << ": test MSE (solid), theory on training S (dashed)' font ',13'\n"
       << "set xlabel 'depth N'\nset ylabel 'MSE per sample'\nset key top right font ',12'\nset grid\n"
       << xrange(o) << "set xtics 1\n";
  body << "plot '-' w lp lw 2 pt 7 lc rgb '#1f77b4' t 'learned stepsize, test', "
       << "'-' w lp lw 2 dt 2 pt 6 lc rgb '#1f77b4' t 'learned stepsize, theory', "
       << "'-' w lp lw 2 pt 5 lc rgb '#d62728' t 'fixed stepsize, test', "
       << "'-' w lp lw 2 dt 2 pt 4 lc rgb '#d62728' t 'fixed stepsize, theory', "
       << (b ? format_general(b->test_mse, 10) : "NaN") << " w l lw 2 lc rgb '#2ca02c' t 'bilevel, test', "
       << (b ? format_general(b->theory_mse, 10) : "NaN") << " w l lw 2 dt 2 lc rgb '#2ca02c' t 'bilevel, theory', "
       << format_general(r.wiener_mse, 10) << " w l lw 1 lc rgb '#000000' t 'Wiener (train S), test'\n";
  block(StepsizeMode::Learned, false);
  block(StepsizeMode::Learned, true);
  block(StepsizeMode::Fixed, false);
  block(StepsizeMode::Fixed, true);
  return body.str() + data.str();
}

// Training MSE above the theory optimum, in percent, by depth (and the strategy's runs).
std::string train_vs_theory_plot(const DenoiseResults& r) {
  const DenoiseConfig* b = bilevel_of(r);
  std::ostringstream d2, b2;
  b2 << "set title 'Training MSE above theory optimum (train/theory - 1)'\nset xlabel 'depth N'\n"
     << "set ylabel 'percent'\nset grid\nset key top right\nset xtics 1\n"
     << xrange(r.options) << "plot '-' w lp lw 2 pt 7 t 'learned, default init', '-' w lp lw 2 pt 5 t 'fixed', "
     << "'-' w p pt 9 ps 2 t 'learned, theory init', '-' w p pt 11 ps 2 t 'learned, continuation', "
     << (b ? format_general(100 * b->shortfall, 6) : "NaN") << " w l t 'bilevel'\n";
  for (StepsizeMode mode : {StepsizeMode::Learned, StepsizeMode::Fixed}) {
    for (const auto& c : r.configs)
      if (is_unrolled(c, mode)) d2 << c.depth << ' ' << 100 * c.shortfall << '\n';
    d2 << "e\n";
  }
  for (DenoiseInit init : {DenoiseInit::Theory, DenoiseInit::Continuation}) {
    bool any = false;
    for (const auto& c : r.strategy)
      if (c.init == init) d2 << c.depth << ' ' << 100 * c.shortfall << '\n', any = true;
    if (!any) d2 << "1 NaN\n";
    d2 << "e\n";
  }
  return b2.str() + d2.str();
}

// Rank analysis: training MSE (points) and the theory engine's optimum (lines) against k.
std::string mse_vs_rank_plot(const DenoiseResults& r) {
  const auto& o = r.options;
  std::ostringstream data, body;
  data.precision(10);
  body << "set title 'Speech denoising, n=" << o.n << ", {/Symbol s}=" << o.noise_std
       << ": training MSE vs rank k (points: trained, lines: theory optimum)' font ',13'\n"
       << "set xlabel 'rank k (rows of R)'\nset ylabel 'MSE per sample (training S)'\nset logscale x\n"
       << "set logscale y\nset grid\nset key outside right top font ',11'\nset xrange [0.8:" << 1.25 * double(o.n)
       << "]\n";
  std::vector<std::string> items;
  items.push_back("'-' w l lw 3 lc rgb '#000000' t 'bilevel, theory'");
  items.push_back("'-' w p pt 7 ps 2 lc rgb '#000000' t 'bilevel, trained'");
  for (const auto& t : r.rank_theory) data << t.rank << ' ' << t.bilevel << '\n';
  data << "e\n";
  for (const auto& rc : r.ranks)
    if (is_bilevel(rc.config)) data << rc.rank << ' ' << rc.config.train_mse << '\n';
  data << "e\n";
  int color = 1;
  for (int d : o.rank_depths) {
    const std::string dash = d % 2 == 0 ? "1" : "2";
    items.push_back(std::string("'-' w l lw 2 dt ") + dash + " lc " + std::to_string(color) + " t 'unrolled N=" +
                    std::to_string(d) + ", theory'");
    items.push_back(std::string("'-' w p pt ") + std::string(d % 2 == 0 ? "5" : "4") + " ps 1.5 lc " + std::to_string(color) +
                    " t 'N=" + std::to_string(d) + ", trained'");
    for (const auto& t : r.rank_theory)
      for (auto [dd, v] : t.unrolled)
        if (dd == d) data << t.rank << ' ' << v << '\n';
    data << "e\n";
    for (const auto& rc : r.ranks)
      if (!is_bilevel(rc.config) && rc.config.depth == d && rc.config.init == DenoiseInit::Shrink)
        data << rc.rank << ' ' << rc.config.train_mse << '\n';
    data << "e\n";
    ++color;
  }
  bool theory_init = false;
  for (const auto& rc : r.ranks)
    if (rc.config.init == DenoiseInit::Theory) data << rc.rank << ' ' << rc.config.train_mse << '\n', theory_init = true;
  if (!theory_init) data << "1 NaN\n";
  data << "e\n";
  items.push_back("'-' w p pt 9 ps 2 lc rgb '#555555' t 'odd N, theory init, trained'");
  items.push_back(format_general(r.wiener_train_mse, 10) + " w l lw 1 dt 3 lc rgb '#555555' t 'Wiener (train)'");
  body << "plot ";
  for (size_t i = 0; i < items.size(); ++i) body << (i ? ", " : "") << items[i];
  body << "\n";
  return body.str() + data.str();
}

void write_text(const fs::path& path, const std::string& text, std::vector<fs::path>& written) {
  io::write_atomic(path, text);
  written.push_back(path);
}
void write_plot(const fs::path& prefix, const std::string& body, std::vector<fs::path>& written,
                const std::string& size = "1000,700") {
  write_figure(prefix, body, size);
  written.push_back(prefix.string() + ".png");
  written.push_back(prefix.string() + ".svg");
}
void write_audio(const fs::path& path, const Vector& signal, int rate, std::vector<fs::path>& written) {
  audio::write_wav(path, signal, rate);
  written.push_back(path);
}

}  // namespace

std::string denoise_table(const DenoiseResults& r) {
  std::ostringstream md;
  md << "| method | N | stepsize | omega | train MSE | theory MSE | train/theory - 1 | test MSE | test MSE (draw) | test SNR dB |\n"
     << "|---|---|---|---|---|---|---|---|---|---|\n";
  auto row = [&](const DenoiseConfig& c, const std::string& extra) {
    md << "| " << learn::to_string(c.method) << extra << " | " << (is_bilevel(c) ? "-" : std::to_string(c.depth))
       << " | " << learn::to_string(c.stepsize_mode) << " | " << (is_bilevel(c) ? "-" : format_general(c.stepsize, 3))
       << " | " << format_general(c.train_mse, 4) << " | " << format_general(c.theory_mse, 4)
       << (c.theory_attained ? "" : " (inf)") << " | " << format_percent(c.shortfall, 2, true) << " | "
       << format_general(c.test_mse, 4) << " | " << format_general(c.test_mse_sampled, 4) << " | "
       << format_general(c.test_snr_db, 3) << " |\n";
  };
  for (const auto& c : r.configs) row(c, "");
  for (const auto& c : r.strategy) row(c, std::string(" (init: ") + to_string(c.init) + ")");
  md << "\nNo denoising: MSE " << format_general(r.noisy_mse, 4) << " (sigma^2; this draw "
     << format_general(r.noisy_mse_sampled, 4) << ", SNR " << format_general(r.noisy_snr_db, 3)
     << " dB). Wiener filter from the training S: train " << format_general(r.wiener_train_mse, 4) << ", test "
     << format_general(r.wiener_mse, 4) << " (SNR " << format_general(r.wiener_snr_db, 3) << " dB).\n";
  return md.str();
}

std::string denoise_findings(const DenoiseResults& r) {
  return setting_sentence(r) + fit_sentence(r) + learned_sentence(r) + fixed_sentence(r) + odd_sentence(r) +
         sharpness_sentence(r) + bilevel_sentence(r) + denoise_rank_findings(r);
}

std::string denoise_rank_table(const DenoiseResults& r) {
  if (r.ranks.empty()) return "";
  std::ostringstream md;
  md << "Rank analysis (learned stepsize; train and theory MSE on the training S):\n\n"
     << "| k | method | N | omega | train MSE | theory MSE | train/theory - 1 | test MSE | test SNR dB |\n"
     << "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& rc : r.ranks) {
    const DenoiseConfig& c = rc.config;
    md << "| " << rc.rank << " | " << learn::to_string(c.method)
       << (c.init == DenoiseInit::Shrink ? std::string() : std::string(" (init: ") + to_string(c.init) + ")") << " | "
       << (is_bilevel(c) ? "-" : std::to_string(c.depth)) << " | "
       << (is_bilevel(c) ? "-" : format_general(c.stepsize, 3)) << " | " << format_general(c.train_mse, 4) << " | "
       << format_general(c.theory_mse, 4) << (c.theory_attained ? "" : " (inf)") << " | "
       << format_percent(c.shortfall, 2, true) << " | " << format_general(c.test_mse, 4) << " | "
       << format_general(c.test_snr_db, 3) << " |\n";
  }
  return md.str();
}

std::string denoise_rank_findings(const DenoiseResults& r) {
  if (r.ranks.empty()) return "";
  struct AtRank {
    Index k = 0;
    const DenoiseConfig* bilevel = nullptr;
    const DenoiseConfig* theory_best = nullptr;  ///< unrolled with the lowest theory MSE
    const DenoiseConfig* trained_best = nullptr; ///< unrolled with the lowest training MSE
    const DenoiseConfig* best_even = nullptr;    ///< lowest theory MSE among even N
    const DenoiseConfig* best_odd = nullptr;     ///< ... among odd N
  };
  std::vector<AtRank> ks;
  double worst_must = 0, worst_odd = 0, worst_odd_theory = 0, most_below = 0;
  bool any_theory_init = false;
  for (const auto& rc : r.ranks) {
    if (ks.empty() || ks.back().k != rc.rank) ks.push_back({rc.rank});
    AtRank& a = ks.back();
    const DenoiseConfig& c = rc.config;
    most_below = std::min(most_below, c.shortfall);
    if (is_bilevel(c)) {
      a.bilevel = &c;
      worst_must = std::max(worst_must, c.shortfall);
      continue;
    }
    if (c.depth % 2 == 0 || c.depth == 1) worst_must = std::max(worst_must, c.shortfall);
    else if (c.init == DenoiseInit::Shrink) worst_odd = std::max(worst_odd, c.shortfall);
    else worst_odd_theory = std::max(worst_odd_theory, c.shortfall), any_theory_init = true;
    if (!a.theory_best || c.theory_mse < a.theory_best->theory_mse) a.theory_best = &c;
    if (!a.trained_best || c.train_mse < a.trained_best->train_mse) a.trained_best = &c;
    const DenoiseConfig*& par = c.depth % 2 == 0 ? a.best_even : a.best_odd;
    if (!par || c.theory_mse < par->theory_mse) par = &c;
  }
  auto lower = [](double unrolled, double bilevel) { return 1.0 - unrolled / bilevel; };
  std::ostringstream md;
  md << "- Rank analysis (bilevel vs unrolled with learned stepsize, N in {";
  for (size_t i = 0; i < r.options.rank_depths.size(); ++i) md << (i ? ", " : "") << r.options.rank_depths[i];
  md << "}; MSE per sample; theory = the theory engine's optimum at k for the training S; \"lower by\" = 1 - "
        "unrolled/bilevel):";
  std::vector<Index> beats_theory, beats_trained, beats_test, coincide;
  double best_gain = 0, best_gain_trained = 0, best_gain_test = 0;
  Index best_gain_k = 0, best_gain_trained_k = 0, best_gain_test_k = 0;
  for (const AtRank& a : ks) {
    if (!a.bilevel || !a.theory_best) continue;
    const double gth = lower(a.theory_best->theory_mse, a.bilevel->theory_mse);
    const double gtr = lower(a.trained_best->train_mse, a.bilevel->train_mse);
    const double gte = lower(a.trained_best->test_mse, a.bilevel->test_mse);
    md << (&a == &ks.front() ? " " : "; ") << "**k = " << a.k << "**: theory bilevel "
       << format_general(a.bilevel->theory_mse, 4) << ", unrolled " << format_general(a.theory_best->theory_mse, 4)
       << " (N = " << a.theory_best->depth;
    if (a.best_even && a.best_odd)
      md << "; best even N = " << a.best_even->depth << ": " << format_general(a.best_even->theory_mse, 4)
         << ", best odd N = " << a.best_odd->depth << ": " << format_general(a.best_odd->theory_mse, 4);
    md << "), lower by " << format_percent(gth, 2, false) << "; trained bilevel "
       << format_general(a.bilevel->train_mse, 4) << ", unrolled " << format_general(a.trained_best->train_mse, 4)
       << " (N = " << a.trained_best->depth
       << (a.trained_best->init == DenoiseInit::Shrink ? std::string() : std::string(", ") + to_string(a.trained_best->init) + " init")
       << "), lower by " << format_percent(gtr, 2, false) << "; test "
       << format_general(a.bilevel->test_mse, 4) << " vs " << format_general(a.trained_best->test_mse, 4) << " ("
       << format_general(a.bilevel->test_snr_db, 4) << " vs " << format_general(a.trained_best->test_snr_db, 4)
       << " dB)";
    if (gth > kRankCoincide) beats_theory.push_back(a.k);
    else if (std::abs(gth) <= kRankCoincide) coincide.push_back(a.k);
    if (gtr > kRankCoincide) beats_trained.push_back(a.k);
    if (gte > kRankCoincide) beats_test.push_back(a.k);
    if (gth > best_gain) best_gain = gth, best_gain_k = a.k;
    if (gtr > best_gain_trained) best_gain_trained = gtr, best_gain_trained_k = a.k;
    if (gte > best_gain_test) best_gain_test = gte, best_gain_test_k = a.k;
  }
  auto list = [](const std::vector<Index>& v) {
    if (v.empty()) return std::string("no k");
    std::string s = "k = ";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) s += ", ";
      s += std::to_string(v[i]);
    }
    return s;
  };
  md << ".\n  In theory unrolling beats bilevel at " << list(beats_theory);
  if (!beats_theory.empty())
    md << " (by up to " << format_percent(best_gain, 2, false) << ", at k = " << best_gain_k << ")";
  md << "; trained, on the training set at " << list(beats_trained);
  if (!beats_trained.empty())
    md << " (up to " << format_percent(best_gain_trained, 2, false) << ", k = " << best_gain_trained_k << ")";
  md << "; on the test set at " << list(beats_test);
  if (!beats_test.empty())
    md << " (up to " << format_percent(best_gain_test, 2, false) << ", k = " << best_gain_test_k << ")";
  md << ". They coincide (theory within " << format_percent(kRankCoincide, 1, false) << ") at " << list(coincide);
  for (const AtRank& a : ks)
    if (a.k == r.options.n && a.bilevel)
      md << "; at k = n the bilevel optimum is the Wiener filter (theory " << format_general(a.bilevel->theory_mse, 6)
         << ", Wiener on training " << format_general(r.wiener_train_mse, 6) << ")";
  // The theory grid: where the best unrolled N stays below bilevel, and from which k bilevel
  // beats even N = 1 (T = omega I, which uses no regularizer at all).
  if (!r.rank_theory.empty()) {
    Index last_beats = 0, bilevel_beats_n1 = 0;
    double gain_last = 0;
    for (const auto& t : r.rank_theory) {
      double best = 1e300, n1 = -1;
      for (auto [d, v] : t.unrolled) {
        best = std::min(best, v);
        if (d == 1) n1 = v;
      }
      if (lower(best, t.bilevel) > kRankCoincide) last_beats = t.rank, gain_last = lower(best, t.bilevel);
      if (n1 >= 0 && bilevel_beats_n1 == 0 && t.bilevel < n1) bilevel_beats_n1 = t.rank;
    }
    md << ". On the theory grid (" << r.rank_theory.size() << " values of k from 1 to n) unrolling is lower than "
       << "bilevel ";
    if (last_beats == 0) md << "at no k";
    else
      md << "up to k = " << last_beats << " (there by " << format_percent(gain_last, 2, false) << ")";
    bool has_n1 = false;
    for (auto [d, v] : r.rank_theory.front().unrolled) has_n1 = has_n1 || d == 1;
    if (has_n1) {
      if (bilevel_beats_n1 > 0)
        md << "; bilevel beats even N = 1 (T = omega I, no regularizer) only from k = " << bilevel_beats_n1 << " on";
      else
        md << "; bilevel never beats N = 1 (T = omega I, no regularizer)";
    }
  }
  md << ". Trained vs theory: bilevel, N = 1 and even N at most " << format_percent(worst_must, 2, true)
     << " above the optimum, odd N >= 3 at most " << format_percent(worst_odd, 2, true)
     << " from the default start (the odd-depth optimum is sharp)";
  if (any_theory_init)
    md << " and at most " << format_percent(worst_odd_theory, 2, true) << " from the theory engine's realizing R";
  md << "; lowest train/theory - 1: " << format_percent(most_below, 2, true) << ".\n";
  return md.str();
}

std::vector<fs::path> write_denoise_outputs(const DenoiseResults& r, const fs::path& dir) {
  io::ensure_writable_dir(dir);
  std::vector<fs::path> written;
  write_text(dir / "results.json", results_json(r).dump(2) + "\n", written);
  write_text(dir / "results.csv", results_csv(r), written);
  write_text(dir / "findings.md",
             "# Speech denoising study\n\n" + denoise_findings(r) + "\n" + denoise_table(r) +
                 (r.ranks.empty() ? std::string() : std::string("\n") + denoise_rank_table(r)),
             written);
  write_plot(dir / "mse_vs_depth", mse_vs_depth_plot(r), written);
  write_plot(dir / "train_vs_theory", train_vs_theory_plot(r), written);
  if (!r.ranks.empty()) {
    write_text(dir / "ranks.csv", ranks_csv(r), written);
    write_plot(dir / "mse_vs_rank", mse_vs_rank_plot(r), written, "1200,700");
  }
  if (r.demo_clean.size() > 0) {  // WAVs of one test file
    write_audio(dir / "clean.wav", r.demo_clean, r.rate, written);
    write_audio(dir / "noisy.wav", r.demo_noisy, r.rate, written);
    for (const auto& [name, sig] : r.demo_denoised) write_audio(dir / name, sig, r.rate, written);
  }
  return written;
}

}  // namespace varlearn::study
