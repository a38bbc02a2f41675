// The speech restoration section of `varlearn reproduce`: from finished `study restore` folders
// (one per task run), the answers to "which is better?" and "does unrolling converge to
// bilevel?" as sentences computed from results.json, a table per run, and figures drawn from
// the run's files (restore_figures.cpp). Nothing here is a hand-written claim about results.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "restore_results.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/study/report.hpp"

namespace varlearn::study {
namespace fs = std::filesystem;

namespace {

using namespace restore_report;

/// The target: the best learned nonlinear model beats the Wiener filter by this much at kTargetSigma.
constexpr double kTargetGainDb = 2.0;
constexpr double kTargetSigma = 0.1;
/// "Reaches" a reference: within this relative test MSE of it.
constexpr double kClose = 0.05;

std::string db(double v) { return std::isfinite(v) ? format_fixed(v, 2) + " dB" : "n/a"; }
std::string signed_db(double v) { return std::isfinite(v) ? std::string(v >= 0 ? "+" : "") + format_fixed(v, 2) + " dB" : "n/a"; }
/// "+1.23 dB over X" or "0.45 dB below X".
std::string versus(double g, const std::string& what) {
  if (!std::isfinite(g)) return "n/a against " + what;
  return g >= 0 ? signed_db(g) + " over " + what : db(-g) + " below " + what;
}
std::string num(double v) { return std::isfinite(v) ? format_general(v, 4) : "n/a"; }
std::string pct(double share) { return std::isfinite(share) ? format_percent(share, 1, true) : "n/a"; }

double gain(const Config& a, const Config& b) { return gain_db(a.test_snr_db, a.test_mse, b.test_snr_db, b.test_mse); }
double gain(const Config& a, const Baseline& b) { return gain_db(a.test_snr_db, a.test_mse, b.snr_db, b.mse); }

std::string setting(const Run& r) {
  std::ostringstream md;
  auto size = [](int v) { return v > 0 ? std::to_string(v) : std::string("n/a"); };
  auto files = [](std::size_t k) { return std::to_string(k) + (k == 1 ? " file" : " files"); };
  md << "Setting: " << (r.corpus.empty() ? std::string() : "corpus " + r.corpus + ", ") << "training " << files(r.train_files)
     << ", test " << files(r.test_files) << (r.test_name.empty() ? std::string() : " (" + r.test_name + ")") << "; n = " << size(r.n)
     << ", hop = " << size(r.hop);
  if (std::isfinite(r.missing)) md << "; " << format_percent(r.missing, 0) << " of the samples missing";
  if (std::isfinite(r.burst)) md << " in bursts of " << format_general(r.burst, 4) << " samples";
  if (std::isfinite(r.steps)) md << "; " << format_general(r.steps, 6) << " training steps";
  md << "; " << r.configs.size() << " configurations. References on the test files:";
  for (std::size_t i = 0; i < r.baselines.size(); ++i)
    md << (i ? "; " : " ") << r.baselines[i].label << " MSE " << num(r.baselines[i].mse) << " (SNR "
       << db(r.baselines[i].snr_db) << ")";
  md << (r.baselines.empty() ? " none in the results" : "") << ".";
  for (const ExtraTest& e : r.extra_tests) {
    md << " Further test set **" << e.name << "** (" << files(e.files) << "):";
    for (std::size_t i = 0; i < e.baselines.size(); ++i)
      md << (i ? "; " : " ") << e.baselines[i].label << " SNR " << db(e.baselines[i].snr_db);
    md << ".";
  }
  md << "\n\n";
  return md.str();
}

std::string not_converged(const Run& r) {
  std::vector<std::string> failed, budget;
  std::size_t usable = 0;
  std::string only_status;  // the one status of every used, unconverged configuration, if there is one
  bool one_status = true;
  auto status = [](const Config& c) { return c.status.empty() ? std::string("no status") : c.status; };
  for (const auto& c : r.configs) {
    if (!c.usable()) {
      failed.push_back(c.label() + " (" + status(c) + ")");
      continue;
    }
    ++usable;
    if (c.status == "converged") continue;
    budget.push_back(c.label() + " (" + status(c) + ")");
    if (budget.size() == 1) only_status = status(c);
    one_status = one_status && status(c) == only_status;
  }
  std::ostringstream md;
  auto list = [&](const std::vector<std::string>& v) {
    for (std::size_t i = 0; i < v.size(); ++i) md << (i ? ", " : "") << v[i];
  };
  if (!failed.empty()) md << "- Failed, left out of every finding below: ", list(failed), md << ".\n";
  if (budget.size() > 1 && budget.size() == usable && one_status)
    md << "- All " << usable << " used configurations ended with status " << only_status
       << (only_status == "max_iterations" ? " (they ran their whole training budget)" : "") << ".\n";
  else if (!budget.empty())
    md << "- Used, but their training did not report convergence: ", list(budget), md << ".\n";
  return md.str();
}

/// What the numbers say about a missed target: a reduced run, a training budget that ran out,
/// a depth at the end of the grid.
std::string shortfall_reasons(const Run& r, const Config& best) {
  std::vector<std::string> why;
  if (r.quick) why.push_back("this is a --quick run (reduced corpus, frame length and steps)");
  if (best.status == "max_iterations")
    why.push_back("its training stopped at the step budget" + (std::isfinite(r.steps) ? " (" + format_general(r.steps, 6) + " steps)" : std::string()) + " without converging");
  int deepest = 0;
  for (const auto& c : r.configs)
    if (c.regularizer == best.regularizer && !c.bilevel()) deepest = std::max(deepest, c.depth);
  if (!best.bilevel() && best.depth == deepest && deepest > 0) why.push_back("it is the deepest N trained, so more depth may help");
  if (why.empty()) return "";
  std::string s = "; in these numbers: ";
  for (std::size_t i = 0; i < why.size(); ++i) s += (i ? "; " : "") + why[i];
  return s;
}

// Question 1: the best model against the references, and the target.
std::string best_model(const Run& r) {
  std::ostringstream md;
  const Config* best = best_config(r.configs);
  if (!best) return "- No configuration finished with a usable test result.\n";
  md << "- Best model on the test files: **" << best->label() << "**, test SNR " << db(best->test_snr_db) << " (MSE "
     << num(best->test_mse) << ")";
  for (const auto& b : r.baselines) md << "; " << versus(gain(*best, b), b.label);
  md << ".\n";
  std::vector<Config> nonlinear;
  for (const auto& c : r.configs)
    if (c.regularizer != "quadratic") nonlinear.push_back(c);
  const Config* nl = best_config(nonlinear);
  const Baseline* lin = r.baseline("linear");
  if (r.task == "denoise") {
    if (!nl || !lin) {
      md << "- Target (best learned nonlinear model >= " << format_general(kTargetGainDb, 3)
         << " dB over the Wiener filter): cannot be judged (" << (nl ? "no Wiener result" : "no usable nonlinear model") << ").\n";
    } else {
      const double g = gain(*nl, *lin);
      const bool at_target_sigma = std::abs(r.sigma - kTargetSigma) < 1e-9;
      md << "- Target (best learned nonlinear model >= " << format_general(kTargetGainDb, 3)
         << " dB SNR over the Wiener filter at sigma = " << kTargetSigma << "): ";
      if (at_target_sigma) {
        md << (g >= kTargetGainDb ? "**met**" : "**not met**") << ": " << nl->label() << " is " << signed_db(g)
           << " over Wiener" << (g >= kTargetGainDb ? "" : std::string(", short by ") + db(kTargetGainDb - g));
        if (g < kTargetGainDb) md << shortfall_reasons(r, *nl);
        md << ".\n";
      }
      else
        md << "set at sigma = " << kTargetSigma << "; this run has sigma = " << num(r.sigma) << ", where " << nl->label()
           << " is " << signed_db(g) << " over Wiener.\n";
    }
  }
  for (std::size_t k = 0; k < r.extra_tests.size(); ++k) {
    const ExtraTest& e = r.extra_tests[k];
    const Baseline* elin = e.baseline("linear");
    const auto& [mse, snr] = best->extra[k];
    md << "- On the further test set " << e.name << " (never used for any choice) the same model has SNR " << db(snr);
    for (const auto& b : e.baselines) md << "; " << versus(gain_db(snr, mse, b.snr_db, b.mse), b.label);
    if (elin && lin) {
      const double here = gain(*best, *lin), there = gain_db(snr, mse, elin->snr_db, elin->mse);
      if (std::isfinite(here) && std::isfinite(there))
        md << " (on the main test files: " << signed_db(here) << " against the " << lin->label << ")";
    }
    md << ".\n";
  }
  if (r.task == "inpaint") {
    const Baseline* zero = r.baseline("zero_fill") ? r.baseline("zero_fill") : r.baseline("noisy");
    if (lin && zero)
      md << "- The " << lin->label << " is " << versus(gain_db(lin->snr_db, lin->mse, zero->snr_db, zero->mse), zero->label) << (lin->mse > zero->mse ? ": the global linear estimator loses to zero filling here" : "") << ".\n";
    if (nl && lin && zero) {
      const double gz = gain(*nl, *zero), gl = gain(*nl, *lin);
      const bool met = gz > 0 && gl > 0;
      md << "- Target (best learned model beats zero filling and the " << lin->label << "): " << (met ? "**met**" : "**not met**")
         << ": " << nl->label() << " is " << versus(gz, zero->label) << " and " << versus(gl, "the " + lin->label) << ".\n";
    }
  }
  return md.str();
}

// Question 1 per regularizer: bilevel against its best unrolled depth, with the training loss.
std::string per_regularizer(const Run& r) {
  std::ostringstream md;
  int compared = 0, unrolled_wins = 0;
  for (const auto& reg : r.regularizers()) {
    const Config* b = best_config(r.configs, reg, false, true);
    const Config* u = best_config(r.configs, reg, true, false);
    if (!b || !u) continue;
    ++compared;
    const double g = gain(*u, *b);
    const bool u_wins = g > 0;
    unrolled_wins += u_wins;
    const Config& w = u_wins ? *u : *b;
    const Config& l = u_wins ? *b : *u;
    md << "- " << reg << ": best unrolled (N = " << u->depth << (u->fixed() ? ", fixed stepsize" : "") << ") "
       << db(u->test_snr_db) << " vs bilevel " << db(b->test_snr_db) << ": " << (u_wins ? "unrolled" : "bilevel")
       << " better by " << db(std::abs(g)) << "; training loss " << num(u->train_loss) << " (unrolled) vs "
       << num(b->train_loss) << " (bilevel)";
    if (std::isfinite(w.train_loss) && std::isfinite(l.train_loss))
      md << (w.train_loss <= l.train_loss
                 ? ": the better one also fits the training set better, so the difference is already there in training "
                   "(expressivity or optimization), not generalization"
                 : ": the better one has the higher training loss, so it generalizes better");
    md << ".\n";
  }
  if (compared > 1)
    md << "- Unrolled beats bilevel on the test files for " << unrolled_wins << " of " << compared << " regularizers.\n";
  return md.str();
}

std::string table(const Run& r) {
  const Baseline* lin = r.baseline("linear");
  std::ostringstream md;
  md << "| regularizer | method | N | stepsize | train loss | test MSE | test SNR | vs " << (lin ? lin->label : "linear")
     << " | seconds | status |";
  for (const ExtraTest& e : r.extra_tests) md << " " << e.name << " SNR | " << e.name << " vs linear |";
  md << "\n|---|---|---|---|---|---|---|---|---|---|";
  for (std::size_t k = 0; k < r.extra_tests.size(); ++k) md << "---|---|";
  md << "\n";
  std::vector<const Config*> rows;
  for (const auto& c : r.configs) rows.push_back(&c);
  const auto regs = r.regularizers();
  auto rank = [&](const Config* c) { return std::find(regs.begin(), regs.end(), c->regularizer) - regs.begin(); };
  std::stable_sort(rows.begin(), rows.end(), [&](const Config* a, const Config* b) {
    return std::make_tuple(rank(a), a->fixed(), a->depth) < std::make_tuple(rank(b), b->fixed(), b->depth);
  });
  for (const Config* c : rows) {
    md << "| " << c->regularizer << " | " << c->method << " | " << (c->bilevel() ? "-" : std::to_string(c->depth)) << " | "
       << (c->stepsize_mode.empty() ? "-" : c->stepsize_mode) << " | " << num(c->train_loss) << " | " << num(c->test_mse)
       << " | " << db(c->test_snr_db) << " | " << (lin && c->usable() ? signed_db(gain(*c, *lin)) : "-") << " | "
       << (std::isfinite(c->seconds) ? format_general(c->seconds, 3) : "n/a") << " | "
       << (c->status.empty() ? "-" : c->status) << " |";
    for (std::size_t k = 0; k < r.extra_tests.size(); ++k) {
      const Baseline* elin = r.extra_tests[k].baseline("linear");
      const auto& [mse, snr] = c->extra[k];
      md << " " << db(snr) << " | " << (elin ? signed_db(gain_db(snr, mse, elin->snr_db, elin->mse)) : "-") << " |";
    }
    md << "\n";
  }
  return md.str() + "\n";
}

/// "reaches / beats / approaches / does not approach" a reference from relative gaps at the
/// smallest and largest depth.
std::string verdict(double first, double last, int last_depth, bool one_depth, const std::string& what) {
  const std::string at = std::string(" at N = ") + std::to_string(last_depth);
  if (one_depth) return what + " was trained at one depth only: " + pct(last) + " against bilevel" + at;
  if (last < -kClose) return what + " is better than bilevel" + at + " (" + pct(last) + ")";
  if (std::abs(last) <= kClose) return what + " is within " + format_percent(kClose, 0) + " of bilevel" + at + " (" + pct(last) + ")";
  if (std::abs(last) < std::abs(first)) return what + " approaches bilevel but is still " + pct(last) + " away" + at;
  return what + " does not approach bilevel with N (" + pct(first) + " at the smallest N, " + pct(last) + at + ")";
}

// Question 2(a): trained unrolled test MSE vs N against the bilevel result.
std::string unrolled_vs_depth(const Run& r) {
  std::ostringstream md;
  for (const auto& reg : r.regularizers()) {
    std::vector<const Config*> s;
    for (const auto& c : r.configs)
      if (c.regularizer == reg && !c.bilevel() && !c.fixed() && c.usable()) s.push_back(&c);
    std::sort(s.begin(), s.end(), [](const Config* a, const Config* b) { return a->depth < b->depth; });
    if (s.empty()) continue;
    const Config* b = best_config(r.configs, reg, false, true);
    md << "- " << reg << ": unrolled test MSE";
    for (const Config* c : s) md << " N=" << c->depth << ": " << num(c->test_mse);
    if (!b) {
      md << "; no bilevel result to compare.\n";
      continue;
    }
    const double g0 = s.front()->test_mse / b->test_mse - 1, g1 = s.back()->test_mse / b->test_mse - 1;
    md << "; bilevel " << num(b->test_mse) << ". " << verdict(g0, g1, s.back()->depth, s.size() == 1, "The trained unrolled model") << ".\n";
  }
  return md.str();
}

// Question 2(b): distance of the N-step output to the lower-level minimizer for theta*, and its rate.
std::string convergence_rate(const Run& r) {
  std::ostringstream md;
  for (const auto& reg : r.regularizers()) {
    const auto s = series(r.convergence, reg);
    if (s.empty()) continue;
    md << "- " << reg << ": ||f^N - f*|| from " << num(s.front().value) << " at N = " << s.front().depth << " to "
       << num(s.back().value) << " at N = " << s.back().depth;
    const auto g = fit_geometric(s);
    const auto p = fit_power(s);
    if (!g) {
      md << "; too few positive distances for a rate.\n";
      continue;
    }
    if (g->rate < 1)
      md << "; fitted geometric rate rho = " << format_general(g->rate, 3) << " per iteration (distance ~ C rho^N, "
         << g->points << " points, rms residual of ln distance " << format_general(g->rms, 2) << "): a factor 10 every "
         << format_general(std::log(10.0) / -std::log(g->rate), 3) << " iterations";
    else
      md << "; it does not decrease with N (fitted rho = " << format_general(g->rate, 3) << ")";
    if (p)
      md << ". A power law C N^-p gives p = " << format_general(p->rate, 3) << " (rms " << format_general(p->rms, 2) << "): the "
         << (g->rms <= p->rms ? "geometric (linear) rate" : "power law (sublinear convergence)") << " fits better";
    md << ".\n";
  }
  if (md.str().empty()) return "- No convergence distances in the results.\n";
  return md.str();
}

// Question 2(c): test MSE of the exact lower-level solution for each unrolled-trained theta_N.
std::string exact_of_unrolled(const Run& r) {
  std::ostringstream md;
  for (const auto& reg : r.regularizers()) {
    std::vector<DepthValue> s;
    for (const auto& d : series(r.bilevel_of_unrolled, reg))
      if (std::isfinite(d.value)) s.push_back(d);
    if (s.empty()) continue;
    const Config* b = best_config(r.configs, reg, false, true);
    md << "- " << reg << ": theta_N used bilevel-style (exact minimizer), test MSE";
    for (const auto& d : s) md << " N=" << d.depth << ": " << num(d.value);
    if (!b) {
      md << "; no bilevel result to compare.\n";
      continue;
    }
    const double g0 = s.front().value / b->test_mse - 1, g1 = s.back().value / b->test_mse - 1;
    md << "; bilevel theta* " << num(b->test_mse) << ". ";
    if (s.size() == 1) md << "One depth only: the exact minimizer of theta_" << s.back().depth << " is " << pct(g1) << " against bilevel";
    else if (g1 < -kClose)
      md << "The exact minimizer of theta_" << s.back().depth << " is better than that of the bilevel-trained theta* (" << pct(g1)
         << "): the bilevel training has not reached its optimum, so the bilevel result is no lower bound here";
    else if (std::abs(g1) <= kClose) md << "The learned parameters approach a bilevel optimum (exact minimizer within " << format_percent(kClose, 0) << " of bilevel at N = " << s.back().depth << ", " << pct(g1) << ")";
    else if (std::abs(g1) < std::abs(g0)) md << "The learned parameters move toward a bilevel optimum but the exact minimizer is still " << pct(g1) << " from bilevel at N = " << s.back().depth << " (" << pct(g0) << " at N = " << s.front().depth << ")";
    else md << "The learned parameters do not approach a bilevel optimum (" << pct(g0) << " at N = " << s.front().depth << ", " << pct(g1) << " at N = " << s.back().depth << "): unrolling learns a different map, good as N steps, not as an exact minimizer";
    md << ".\n";
  }
  if (md.str().empty()) return "- No exact-minimizer results for the unrolled parameters in the results.\n";
  return md.str();
}

std::string link(const fs::path& png, const fs::path& base, const std::string& alt) {
  if (png.empty()) return "";
  return std::string("![") + alt + "](" + fs::absolute(png).lexically_proximate(fs::absolute(base)).generic_string() + ")\n\n";
}

}  // namespace

std::string restore_findings(const fs::path& run, const fs::path& base) {
  const Run r = load_run(run);
  const Figures f = write_figures(r);
  const std::string where = fs::absolute(run).lexically_proximate(fs::absolute(base)).generic_string();
  std::ostringstream md;
  md << "### " << r.title() << "\n\nFiles: `" << where << "/` (results.json, results.csv, wav/, filters/, figures/).\n\n"
     << setting(r) << "**Which is better, bilevel or unrolling?**\n\n" << best_model(r) << per_regularizer(r)
     << not_converged(r) << "\n" << table(r) << link(f.snr_vs_depth, base, "test SNR vs depth")
     << "**Does unrolling converge to bilevel as N grows?**\n\n(a) Trained unrolled models against the bilevel result:\n\n"
     << unrolled_vs_depth(r) << "\n" << link(f.mse_vs_depth, base, "test MSE vs depth")
     << "(b) For the bilevel-trained parameters, the N-step output against the exact lower-level minimizer:\n\n"
     << convergence_rate(r) << "\n" << link(f.convergence, base, "distance to the minimizer vs depth")
     << "(c) For each unrolled-trained theta_N, the test MSE of its exact lower-level solution:\n\n" << exact_of_unrolled(r) << "\n";
  if (!f.filters.empty()) {
    md << "Learned filters / rows of K (best model per regularizer):\n\n";
    for (const auto& [label, png] : f.filters) md << link(png, base, label);
  }
  if (!f.spectrograms.empty()) md << "Spectrograms of the test speech (clean, degraded, restored):\n\n" << link(f.spectrograms, base, "spectrograms");
  return md.str();
}

std::string restore_section(const ReportContext& ctx, const std::vector<fs::path>& runs) {
  std::ostringstream md;
  md << "## Speech restoration: learned nonlinear regularizers, bilevel vs unrolled\n\n"
     << "Each task below was run by `varlearn study restore" << (ctx.quick ? " --quick" : "")
     << "`; every number and sentence is computed from that run's results.json, the figures from its files. "
        "SNR in dB on the test files, MSE per sample.\n\n";
  if (runs.empty()) return md.str() + "No restore results were given.\n";
  for (const fs::path& run : runs) {
    ctx.say("restore section: " + run.string());
    md << restore_findings(run, ctx.dir) << "\n";
  }
  return md.str();
}

}  // namespace varlearn::study
