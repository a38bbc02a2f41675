// varlearn study denoise: the talk's reality check on real speech.
#include <chrono>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "options.hpp"
#include "study_output.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/study/budget.hpp"
#include "varlearn/study/denoise_study.hpp"

namespace varlearn::cli {
namespace {

// "1..10", "1,2,4", "1..4,8" -> depths.
std::vector<int> parse_depths(const std::vector<std::string>& items, const std::string& flag = "--depths") {
  std::vector<int> out;
  for (const std::string& item0 : items) {
    std::stringstream ss(item0);
    if (item0.empty() || item0.back() == ',')
      throw Error(std::string(flag) + ": empty item in " + quote_for_message(item0) + " (use e.g. 1..10 or 1,2,4)");
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (item.empty()) throw Error(std::string(flag) + ": empty item in " + quote_for_message(item0) + " (use e.g. 1..10 or 1,2,4)");
      if (auto dots = item.find(".."); dots != std::string::npos) {
        const int a = parse_number<int>(item.substr(0, dots), flag);
        const int b = parse_number<int>(item.substr(dots + 2), flag);
        if (b < a || b - a > 1000)
          throw Error(std::string(flag) + ": cannot read " + quote_for_message(item) + " (use e.g. 1..10 or 1,2,4)");
        for (int d = a; d <= b; ++d) out.push_back(d);
      } else {
        out.push_back(parse_number<int>(item, flag));
      }
    }
  }
  return out;
}

}  // namespace

void add_study_denoise(CLI::App& study) {
  auto* sub = study.add_subcommand(
      "denoise",
      "Speech denoising study (talk's reality check): bilevel vs unrolled gradient descent at depths N with "
      "learned and fixed stepsize, trained on clean speech frames + Gaussian noise, next to the theory "
      "engine's prediction. Writes results.json, results.csv, findings.md, figures and WAVs into --out.");
  struct Args {
    study::DenoiseOptions o;
    StudyOutput output;
    std::vector<std::string> depths{"1..10"};
    CorpusOptions corpus;
    std::string objective = "exact";
    bool no_strategy = false, no_audio = false;
    long n = 0, hop = 0;
    std::string k;
    CLI::Option* k_option = nullptr;
    std::vector<std::string> rank_depths;
    NoiseOptions noise{study::DenoiseOptions{}.noise_std};
    BudgetOptions budget;
  };
  auto a = std::make_shared<Args>();
  a->output.add(sub, "output folder (created when complete; see --force, --resume)", "trained configuration");
  sub->add_flag("--quick", a->o.quick, "small corpus (3 files), n = 80 unless --n, 300 iterations: under a minute");
  add_number(sub, "--n", a->n, "frame length n in samples (default 320; 80 with --quick)")
      ->check(number_range(1, 1e18, "n >= 1; omit it for the default"));
  add_number(sub, "--hop", a->hop, "hop between frames in samples (default n/2)")
      ->check(number_range(1, 1e18, "hop >= 1; omit it for the default"));
  a->noise.add(sub, "(the signal lies in [-1, 1])");
  // A comma list read here (CLI11 would drop empty items of "1,,4" silently).
  a->k_option = sub->add_option("--k", a->k,
                  "rank k: rows of R, 1 <= k <= n (default n). A list (e.g. 1,32,160,320) adds the rank analysis: "
                  "bilevel and unrolled (learned stepsize, --rank-depths) trained at each k beside the theory "
                  "optimum at k; the main study runs at the largest k")
      ->type_name("INT[,INT...]");
  sub->add_option("--rank-depths", a->rank_depths,
                  "depths N of the rank analysis (with a list --k), e.g. 1..10 or 2,3; default: --depths");
  sub->add_option("--depths", a->depths, "unrolled depths N, e.g. 1..10 or 1,2,4")->default_str("1..10");
  add_number(sub, "--fixed-stepsize", a->o.fixed_stepsize,
                  "omega of the fixed-stepsize runs; also the start omega0 of learned runs. Every model starts "
                  "from R0 = sqrt(1/omega - 1) I, so that one gradient step solves the lower level and all "
                  "start as T = omega I")
      ->default_val(0.5);
  a->corpus.add(sub);
  add_number(sub, "--rate", a->o.rate, "resample every file to this rate in Hz, 1000..384000 (default: the files' common rate; 8000 for the codec2 corpus)")
      ->check(number_range(1000, 384000, "1000 <= rate <= 384000; omit it for the files' rate"));
  sub->add_flag("--mixdown", a->o.mixdown, "average the channels of multi-channel files (otherwise refused)");
  sub->add_option("--objective", a->objective,
                  "exact: exact expectation over the noise (L-BFGS, deterministic); sampled: fresh noise per "
                  "minibatch (Adam, as in the talk)")
      ->check(CLI::IsMember({"exact", "sampled"}))
      ->default_str("exact");
  add_number(sub, "--iterations", a->o.iterations, "L-BFGS iterations (Adam steps with sampled) per run (default 150; 300 with --quick; sampled: 2000 Adam steps)");
  add_number(sub, "--seed", a->o.seed, "seed of the noise draws")->default_val(1);
  sub->add_flag("--no-strategy", a->no_strategy, "skip the odd-depth strategy runs and the sharpness measurement");
  sub->add_flag("--no-audio", a->no_audio, "skip the WAVs");
  a->budget.add(sub);
  sub->callback([a] {
    auto& o = a->o;
    o.noise_std = a->noise.checked();
    o.n = a->n;
    o.hop = a->hop;
    o.depths = parse_depths(a->depths);
    const std::vector<int> ks = a->k_option->count() > 0 ? parse_int_list(a->k, "--k") : std::vector<int>{};
    for (int k : ks)
      if (k < 1) throw Error(std::string("--k must satisfy 1 <= k <= n (got ") + std::to_string(k) + "; omit --k for k = n)");
    if (ks.size() == 1) o.rank = ks.front();  // one rank: the study at k (as always)
    else o.ranks.assign(ks.begin(), ks.end());
    if (!a->rank_depths.empty()) {
      if (ks.size() < 2)
        throw Error("--rank-depths does not apply without a rank list --k K1,K2,... (the rank analysis)");
      o.rank_depths = parse_depths(a->rank_depths, "--rank-depths");
    }
    o.objective = a->objective == "sampled" ? study::DenoiseOptions::Objective::Sampled
                                            : study::DenoiseOptions::Objective::Exact;
    o.odd_strategy = !a->no_strategy;
    o.write_audio = !a->no_audio;
    const audio::CorpusSpec files = a->corpus.study_files(o.quick);  // codec2: as given (empty = its default)
    o.train_files = files.train;
    o.test_files = files.test;
    o.validate();
    a->budget.check(study::estimate_memory(o), "study denoise");  // from the files' sizes, before reading them
    a->corpus.check_given(o.mixdown);  // every given file readable, before any progress line
    a->output.check();  // before any work: no output on bad input
    const study::Journal journal = a->output.journal(study::denoise_fingerprint(o));
    const Stopwatch t0;
    const auto res =
        study::run_denoise_study(o, stderr_log("denoise"), journal);
    a->output.write([&](const std::filesystem::path& dir) { study::write_denoise_outputs(res, dir); }, journal);
    const double secs = t0.seconds();
    std::cout << study::denoise_findings(res) << "\n" << study::denoise_table(res) << "\nwritten to "
              << a->output.out << " in " << secs << " s\n";
  });
}

}  // namespace varlearn::cli
