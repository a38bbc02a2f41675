// Outputs of the denoising study (JSON, CSV, figures, WAVs, findings) and its section of
// `varlearn reproduce`.
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "figure.hpp"
#include "varlearn/audio/audio_file.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/study/denoise_study.hpp"
#include "varlearn/study/report.hpp"

namespace varlearn::study {
namespace fs = std::filesystem;

namespace {

nlohmann::json config_json(const DenoiseConfig& c) {
  nlohmann::json j;
  j["method"] = c.method;
  j["depth"] = c.method == "bilevel" ? nlohmann::json(nullptr) : nlohmann::json(c.depth);
  j["stepsize_mode"] = c.stepsize_mode;
  j["stepsize"] = c.stepsize;
  j["train_mse"] = c.train_mse;
  j["test_mse"] = c.test_mse;
  j["test_mse_sampled"] = c.test_mse_sampled;
  j["theory_mse"] = c.theory_mse;
  j["test_snr_db"] = c.test_snr_db;
  j["theory_attained"] = c.theory_attained;
  j["shortfall"] = c.shortfall;
  j["init"] = c.init;
  j["regularizer_norm"] = c.regularizer_norm;
  j["iterations"] = c.iterations;
  j["seconds"] = c.seconds;
  j["status"] = c.status;
  return j;
}

const DenoiseConfig* find(const std::vector<DenoiseConfig>& v, const std::string& mode, int depth,
                          const std::string& init = "") {
  for (const auto& c : v)
    if (c.method == "unrolled" && c.stepsize_mode == mode && c.depth == depth && (init.empty() || c.init == init))
      return &c;
  return nullptr;
}
const DenoiseConfig* bilevel_of(const DenoiseResults& r) {
  for (const auto& c : r.configs)
    if (c.method == "bilevel") return &c;
  return nullptr;
}

std::string csv_line(const DenoiseConfig& c, const std::string& group) {
  std::ostringstream s;
  s.precision(10);
  s << group << ',' << c.method << ',' << (c.method == "bilevel" ? std::string() : std::to_string(c.depth)) << ','
    << c.stepsize_mode << ',' << c.init << ',' << c.stepsize << ',' << c.train_mse << ',' << c.test_mse << ','
    << c.test_mse_sampled << ',' << c.theory_mse << ',' << c.test_snr_db << ',' << c.shortfall << ','
    << c.regularizer_norm << ',' << c.iterations << ',' << c.seconds << ',' << c.status << '\n';
  return s.str();
}

}  // namespace

std::string denoise_table(const DenoiseResults& r) {
  std::ostringstream md;
  md << "| method | N | stepsize | omega | train MSE | theory MSE | train/theory - 1 | test MSE | test MSE (draw) | test SNR dB |\n"
     << "|---|---|---|---|---|---|---|---|---|---|\n";
  auto row = [&](const DenoiseConfig& c, const std::string& extra) {
    md << "| " << c.method << extra << " | " << (c.method == "bilevel" ? "-" : std::to_string(c.depth)) << " | "
       << c.stepsize_mode << " | " << (c.method == "bilevel" ? "-" : format_general(c.stepsize, 3)) << " | "
       << format_general(c.train_mse, 4) << " | " << format_general(c.theory_mse, 4) << (c.theory_attained ? "" : " (inf)") << " | "
       << format_percent(c.shortfall, 2, true) << " | " << format_general(c.test_mse, 4) << " | " << format_general(c.test_mse_sampled, 4) << " | "
       << format_general(c.test_snr_db, 3) << " |\n";
  };
  for (const auto& c : r.configs) row(c, "");
  for (const auto& c : r.strategy) row(c, " (init: " + c.init + ")");
  md << "\nNo denoising: MSE " << format_general(r.noisy_mse, 4) << " (sigma^2; this draw " << format_general(r.noisy_mse_sampled, 4)
     << ", SNR " << format_general(r.noisy_snr_db, 3) << " dB). Wiener filter from the training S: train "
     << format_general(r.wiener_train_mse, 4) << ", test " << format_general(r.wiener_mse, 4) << " (SNR " << format_general(r.wiener_snr_db, 3)
     << " dB).\n";
  return md.str();
}

std::string denoise_findings(const DenoiseResults& r) {
  std::ostringstream md;
  const auto& o = r.options;
  md << "Setting: " << r.train_files.size() << " training files (" << format_general(r.train_seconds_audio, 3) << " s, "
     << r.train_frames << " frames), " << r.test_files.size() << " test files (" << format_general(r.test_seconds_audio, 3)
     << " s, " << r.test_frames << " frames) at " << r.rate << " Hz; n = " << o.n << ", hop = " << o.hop
     << ", k = " << o.rank << ", sigma = " << o.noise_std << ", fixed stepsize " << o.fixed_stepsize
     << ", objective " << (o.objective == DenoiseOptions::Objective::Exact ? "exact noise expectation (L-BFGS)" : "sampled noise (Adam)")
     << ", " << o.iterations << " iterations max; total " << format_general(r.seconds, 3) << " s.\n\n";
  md << "- Theory check: `theory_mse` (theory engine on the training S) agrees with an independent "
        "computation from the same frames to "
     << format_general(r.theory_check_rel, 2) << " relative (max over configurations).\n";
  // Fit of training to theory.
  {
    double worst_fit = 0;
    std::string worst_name;
    int n_fit = 0, n_ok = 0;
    for (const auto& c : r.configs) {
      const bool must = c.method == "bilevel" || c.stepsize_mode == "fixed" || c.depth % 2 == 0;
      if (!must) continue;
      ++n_fit;
      if (c.shortfall <= 0.01) ++n_ok;
      if (c.shortfall > worst_fit) {
        worst_fit = c.shortfall;
        worst_name = c.method == "bilevel" ? "bilevel" : "N=" + std::to_string(c.depth) + " " + c.stepsize_mode;
      }
    }
    md << "- Training reaches theory: " << n_ok << " of " << n_fit
       << " configurations that should (bilevel, every fixed-stepsize depth, even depths with learned stepsize) "
          "are within 1 % of their theory_mse on the training set; the largest gap is "
       << format_percent(worst_fit, 2, true) << (worst_name.empty() ? "" : " (" + worst_name + ")") << ".\n";
  }
  // Learned stepsize: independent of N?
  {
    std::vector<std::pair<int, double>> even, all;
    for (const auto& c : r.configs)
      if (c.stepsize_mode == "learned" && c.method == "unrolled") {
        all.push_back({c.depth, c.test_mse});
        if (c.depth % 2 == 0) even.push_back({c.depth, c.test_mse});
      }
    if (!all.empty()) {
      md << "- Learned stepsize, test MSE by N:";
      for (auto [d, v] : all) md << " N=" << d << ": " << format_general(v, 4);
      md << ".";
      if (even.size() >= 2) {
        double lo = 1e300, hi = 0;
        for (auto [d, v] : even) lo = std::min(lo, v), hi = std::max(hi, v);
        md << " Even depths lie within " << format_percent(hi / lo - 1, 2, true) << " of each other ("
           << (hi / lo - 1 <= 0.05 ? "within" : "NOT within") << " 5 %: the MSE is independent of N within a parity).";
      }
      const DenoiseConfig* n1 = find(r.configs, "learned", 1);
      if (n1 && !even.empty()) {
        double best = 1e300;
        for (auto [d, v] : even) best = std::min(best, v);
        md << " N = 1 (T = omega I, whatever R) is worse: " << format_general(n1->test_mse, 4) << ", " << format_percent(n1->test_mse / best - 1, 1, true)
           << " above the best even depth (theory on training: " << format_general(n1->theory_mse, 4) << " vs " << format_general(find(r.configs, "learned", even.front().first)->theory_mse, 4) << ").";
      }
      md << "\n";
    }
  }
  // Fixed stepsize vs N, parity.
  {
    std::vector<const DenoiseConfig*> fx;
    for (const auto& c : r.configs)
      if (c.stepsize_mode == "fixed" && c.method == "unrolled") fx.push_back(&c);
    if (!fx.empty()) {
      md << "- Fixed stepsize omega = " << o.fixed_stepsize << ", test MSE by N:";
      for (auto* c : fx) md << " " << c->depth << ": " << format_general(c->test_mse, 4);
      md << " (theory on training:";
      for (auto* c : fx) md << " " << format_general(c->theory_mse, 4);
      md << ").";
      if (fx.size() >= 2)
        md << " From N = " << fx.front()->depth << " to N = " << fx.back()->depth << " the test MSE changes by "
           << format_percent(fx.back()->test_mse / fx.front()->test_mse - 1, 1, true) << ".";
      // Parity: odd N against the mean of its even neighbours.
      std::vector<std::string> parts;
      double tsum = 0, psum = 0;
      int cnt = 0;
      for (size_t i = 1; i + 1 < fx.size(); ++i) {
        if (fx[i]->depth % 2 == 0 || fx[i - 1]->depth != fx[i]->depth - 1 || fx[i + 1]->depth != fx[i]->depth + 1)
          continue;
        const double nb_train = 0.5 * (fx[i - 1]->train_mse + fx[i + 1]->train_mse);
        const double nb_theory = 0.5 * (fx[i - 1]->theory_mse + fx[i + 1]->theory_mse);
        tsum += fx[i]->train_mse / nb_train - 1;
        psum += fx[i]->theory_mse / nb_theory - 1;
        ++cnt;
      }
      if (cnt > 0)
        md << " Parity effect at the fixed stepsize: odd depths sit on average " << format_percent(psum / cnt, 2, true)
           << " (theory) and " << format_percent(tsum / cnt, 2, true)
           << " (trained, training set) away from the mean of their even neighbours.";
      md << "\n";
    }
  }
  // Odd depths with learned stepsize.
  {
    std::vector<std::string> lines;
    for (const auto& c : r.configs)
      if (c.stepsize_mode == "learned" && c.depth >= 3 && c.depth % 2 == 1) {
        std::ostringstream s;
        s << "N=" << c.depth << ": default " << format_percent(c.shortfall, 1, true);
        if (auto* t = find(r.strategy, "learned", c.depth, "theory")) s << ", theory init " << format_percent(t->shortfall, 2, true);
        if (auto* t = find(r.strategy, "learned", c.depth, "continuation")) s << ", continuation " << format_percent(t->shortfall, 2, true);
        lines.push_back(s.str());
      }
    if (!lines.empty()) {
      md << "- Odd depths with learned stepsize, training MSE above the theory optimum (an infimum, omega -> 0): ";
      for (size_t i = 0; i < lines.size(); ++i) md << (i ? "; " : "") << lines[i];
      md << ". Default training starts from T = " << o.fixed_stepsize
         << " I and stops in a wide minimum; starting from the theory engine's realizing R at a small omega, or "
            "lowering omega step by step with R warm-started (continuation), reaches the sharp optimum.\n";
    }
  }
  if (!r.sharpness.empty()) {
    md << "- Sharpness (per-sample training MSE; largest Hessian eigenvalue w.r.t. (vec R, alpha); basin width = "
          "median radius, relative to ||theta||, at which the MSE rises by 1 %):";
    for (const auto& s : r.sharpness)
      md << " N=" << s.depth << " " << s.init << ": MSE " << format_general(s.mse, 4) << ", omega " << format_general(s.stepsize, 3)
         << ", ||R|| " << format_general(s.regularizer_norm, 3) << ", lambda_max " << format_general(s.hessian_max, 3) << ", d2/dalpha2 "
         << format_general(s.hessian_max_alpha, 3) << ", width " << format_general(s.basin_width, 3) << ";";
    md << "\n";
  }
  if (const DenoiseConfig* b = bilevel_of(r)) {
    double best_unrolled = 1e300;
    for (const auto& c : r.configs)
      if (c.method == "unrolled") best_unrolled = std::min(best_unrolled, c.test_mse);
    md << "- Bilevel: test MSE " << format_general(b->test_mse, 4) << " (train " << format_general(b->train_mse, 4) << ", theory infimum "
       << format_general(b->theory_mse, 4) << "); best unrolled test MSE " << format_general(best_unrolled, 4) << "; Wiener filter "
       << format_general(r.wiener_mse, 4) << "; no denoising " << format_general(r.noisy_mse, 4) << ".\n";
  }
  return md.str();
}

std::vector<fs::path> write_denoise_outputs(const DenoiseResults& r, const fs::path& dir) {
  io::ensure_writable_dir(dir);
  std::vector<fs::path> written;
  const auto& o = r.options;
  // results.json
  nlohmann::json j;
  j["configs"] = nlohmann::json::array();
  for (const auto& c : r.configs) j["configs"].push_back(config_json(c));
  j["odd_depth_strategy"] = nlohmann::json::array();
  for (const auto& c : r.strategy) j["odd_depth_strategy"].push_back(config_json(c));
  j["sharpness"] = nlohmann::json::array();
  for (const auto& s : r.sharpness)
    j["sharpness"].push_back({{"depth", s.depth}, {"init", s.init}, {"train_mse", s.mse}, {"stepsize", s.stepsize},
                              {"regularizer_norm", s.regularizer_norm}, {"hessian_max", s.hessian_max},
                              {"hessian_alpha", s.hessian_max_alpha}, {"basin_width", s.basin_width}});
  j["noisy_mse"] = r.noisy_mse;
  j["noisy_mse_sampled"] = r.noisy_mse_sampled;
  j["noisy_snr_db"] = r.noisy_snr_db;
  j["wiener_mse"] = r.wiener_mse;
  j["wiener_train_mse"] = r.wiener_train_mse;
  j["wiener_snr_db"] = r.wiener_snr_db;
  j["train_files"] = r.train_files;
  j["test_files"] = r.test_files;
  j["theory_check_max_rel"] = r.theory_check_rel;
  j["settings"] = {{"n", o.n}, {"hop", o.hop}, {"sigma", o.noise_std}, {"k", o.rank}, {"depths", o.depths},
                   {"fixed_stepsize", o.fixed_stepsize},
                   {"objective", o.objective == DenoiseOptions::Objective::Exact ? "exact" : "sampled"},
                   {"rate", r.rate}, {"quick", o.quick}, {"iterations", o.iterations}, {"seed", o.seed},
                   {"train_frames", r.train_frames}, {"test_frames", r.test_frames},
                   {"init", "R0 = sqrt(max(1/omega - 1, 0)) [I_k 0], omega0 = fixed stepsize: T = omega I at start"}};
  j["seconds"] = r.seconds;
  io::write_atomic(dir / "results.json", j.dump(2) + "\n");
  written.push_back(dir / "results.json");
  // results.csv
  std::string csv =
      "group,method,depth,stepsize_mode,init,stepsize,train_mse,test_mse,test_mse_sampled,theory_mse,test_snr_db,"
      "shortfall,regularizer_norm,iterations,seconds,status\n";
  for (const auto& c : r.configs) csv += csv_line(c, "main");
  for (const auto& c : r.strategy) csv += csv_line(c, "odd_depth_strategy");
  io::write_atomic(dir / "results.csv", csv);
  written.push_back(dir / "results.csv");
  io::write_atomic(dir / "findings.md", "# Speech denoising study\n\n" + denoise_findings(r) + "\n" + denoise_table(r));
  written.push_back(dir / "findings.md");
  // Figures.
  {
    std::ostringstream data, body;
    data.precision(10);
    auto block = [&](const std::string& mode, bool theory) {
      for (const auto& c : r.configs)
        if (c.method == "unrolled" && c.stepsize_mode == mode)
          data << c.depth << ' ' << (theory ? c.theory_mse : c.test_mse) << '\n';
      data << "e\n";
    };
    const DenoiseConfig* b = bilevel_of(r);
    body << "set title 'Speech denoising, n=" << o.n << ", {/Symbol s}=" << o.noise_std << ", k=" << o.rank
         << ": test MSE (solid), theory on training S (dashed)' font ',13'\n"
         << "set xlabel 'depth N'\nset ylabel 'MSE per sample'\nset key top right font ',12'\nset grid\n"
         << "set xrange [" << o.depths.front() - 0.5 << ":" << o.depths.back() + 0.5 << "]\n"
         << "set xtics 1\n";
    body << "plot '-' w lp lw 2 pt 7 lc rgb '#1f77b4' t 'learned stepsize, test', "
         << "'-' w lp lw 2 dt 2 pt 6 lc rgb '#1f77b4' t 'learned stepsize, theory', "
         << "'-' w lp lw 2 pt 5 lc rgb '#d62728' t 'fixed stepsize, test', "
         << "'-' w lp lw 2 dt 2 pt 4 lc rgb '#d62728' t 'fixed stepsize, theory', "
         << (b ? format_general(b->test_mse, 10) : "NaN") << " w l lw 2 lc rgb '#2ca02c' t 'bilevel, test', "
         << (b ? format_general(b->theory_mse, 10) : "NaN") << " w l lw 2 dt 2 lc rgb '#2ca02c' t 'bilevel, theory', "
         << format_general(r.wiener_mse, 10) << " w l lw 1 lc rgb '#000000' t 'Wiener (train S), test'\n";
    block("learned", false);
    block("learned", true);
    block("fixed", false);
    block("fixed", true);
    write_figure(dir / "mse_vs_depth", body.str() + data.str());
    written.push_back(dir / "mse_vs_depth.png");
    written.push_back(dir / "mse_vs_depth.svg");
    // Training vs theory, in percent.
    std::ostringstream d2, b2;
    b2 << "set title 'Training MSE above theory optimum (train/theory - 1)'\nset xlabel 'depth N'\n"
       << "set ylabel 'percent'\nset grid\nset key top right\nset xtics 1\n"
       << "set xrange [" << o.depths.front() - 0.5 << ":" << o.depths.back() + 0.5 << "]\n"
       << "plot '-' w lp lw 2 pt 7 t 'learned, default init', '-' w lp lw 2 pt 5 t 'fixed', "
       << "'-' w p pt 9 ps 2 t 'learned, theory init', '-' w p pt 11 ps 2 t 'learned, continuation', "
       << (b ? format_general(100 * b->shortfall, 6) : "NaN") << " w l t 'bilevel'\n";
    for (const char* mode : {"learned", "fixed"}) {
      for (const auto& c : r.configs)
        if (c.method == "unrolled" && c.stepsize_mode == mode) d2 << c.depth << ' ' << 100 * c.shortfall << '\n';
      d2 << "e\n";
    }
    for (const char* init : {"theory", "continuation"}) {
      bool any = false;
      for (const auto& c : r.strategy)
        if (c.init == init) d2 << c.depth << ' ' << 100 * c.shortfall << '\n', any = true;
      if (!any) d2 << "1 NaN\n";
      d2 << "e\n";
    }
    write_figure(dir / "train_vs_theory", b2.str() + d2.str());
    written.push_back(dir / "train_vs_theory.png");
    written.push_back(dir / "train_vs_theory.svg");
  }
  // WAVs of one test file.
  if (r.demo_clean.size() > 0) {
    audio::write_wav(dir / "clean.wav", r.demo_clean, r.rate);
    audio::write_wav(dir / "noisy.wav", r.demo_noisy, r.rate);
    written.push_back(dir / "clean.wav");
    written.push_back(dir / "noisy.wav");
    for (const auto& [name, sig] : r.demo_denoised) {
      audio::write_wav(dir / name, sig, r.rate);
      written.push_back(dir / name);
    }
  }
  return written;
}

std::string denoise_section(const ReportContext& ctx) {
  DenoiseOptions o;
  o.quick = ctx.quick;
  const DenoiseResults r = run_denoise_study(o, ctx.progress);
  const fs::path sub = ctx.dir / "denoise";
  write_denoise_outputs(r, sub);
  std::ostringstream md;
  md << "## Speech denoising: bilevel vs unrolling on real speech (issue 5)\n\n"
     << "The talk's reality check on Debian's codec2 speech (`varlearn study denoise"
     << (ctx.quick ? " --quick" : "") << "`; files in `denoise/`, WAVs of test file `"
     << fs::path(r.demo_file).filename().string() << "`).\n\n"
     << denoise_findings(r) << "\n![MSE vs depth](denoise/mse_vs_depth.png)\n\n"
     << "![training vs theory](denoise/train_vs_theory.png)\n\n"
     << denoise_table(r);
  return md.str();
}

}  // namespace varlearn::study
