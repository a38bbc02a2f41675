// varlearn study restore: learned nonlinear regularizers restoring speech (denoise, inpaint),
// bilevel vs unrolled at depths N, against the exact linear estimators.
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "options.hpp"
#include "study_output.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/study/budget.hpp"
#include "varlearn/study/restore_study.hpp"

namespace varlearn::cli {
namespace {

std::vector<std::string> split_list(const std::vector<std::string>& items, const std::string& flag) {
  std::vector<std::string> out;
  for (const std::string& item0 : items) {
    if (item0.empty() || item0.back() == ',') throw Error(flag + ": empty item in " + quote_for_message(item0));
    std::stringstream ss(item0);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (item.empty()) throw Error(flag + ": empty item in " + quote_for_message(item0));
      out.push_back(item);
    }
  }
  return out;
}

}  // namespace

void add_study_restore(CLI::App& study) {
  auto* sub = study.add_subcommand(
      "restore",
      "Speech restoration with learned nonlinear regularizers (quadratic, tv, dense analysis huber / student, "
      "fields of experts): bilevel vs unrolled at depths N against the exact linear estimators, for denoising "
      "or burst inpainting (packet loss). Writes results.json, results.csv, wav/ and filters/ into --out.");
  struct Args {
    study::RestoreOptions o;
    StudyOutput output;
    std::vector<std::string> regularizers, methods, depths;
    CorpusOptions corpus;
    BudgetOptions budget;
    long n = 0, hop = 0, burst = 40;
    double sigma = 0;
  };
  auto a = std::make_shared<Args>();
  a->output.add(sub, "output folder (created when complete; see --force, --resume)", "configuration");
  sub->add_option("--task", a->o.task, "denoise (g = f + sigma e) or inpaint (bursts missing, g = M f + sigma e)")
      ->required()
      ->check(CLI::IsMember({"denoise", "inpaint"}));
  add_number(sub, "--sigma", a->sigma, "noise sigma (default 0.1 denoise, 0.01 inpaint; the signal lies in [-1, 1])")
      ->check(number_range(1e-12, 10, "0 < sigma <= 10"));
  add_number(sub, "--missing", a->o.missing, "inpaint: fraction of missing samples, in (0, 1)")->default_val(0.2);
  add_number(sub, "--burst", a->burst, "inpaint: burst length L in samples")->default_val(40);
  sub->add_option("--regularizers", a->regularizers,
                  "comma list of quadratic, tv, analysis, analysis-student, foe (default all; --quick: tv,analysis)");
  sub->add_option("--methods", a->methods, "comma list of bilevel, unrolled")->default_str("bilevel,unrolled");
  sub->add_option("--depths", a->depths, "unrolled depths N, comma list (default 1,2,3,5,10,20,50; --quick: 1,3,10)");
  a->corpus.add(sub);
  add_number(sub, "--n", a->n, "frame length n (default 320; 64 with --quick)")
      ->check(number_range(4, 1e9, "n >= 4; omit it for the default"));
  add_number(sub, "--hop", a->hop, "hop between frames (default n/2)")
      ->check(number_range(1, 1e9, "hop >= 1; omit it for the default"));
  add_number(sub, "--steps", a->o.steps, "Adam steps per configuration (default 600; 100 with --quick)")
      ->check(number_range(1, 1e9, "steps >= 1; omit it for the default"));
  add_number(sub, "--lr", a->o.learning_rate, "Adam learning rate")->default_val(study::RestoreOptions::kLearningRate);
  add_number(sub, "--patience", a->o.patience, "early stopping: validations (every 25 steps) without improvement; 0 = off")
      ->default_val(study::RestoreOptions::kPatience);
  add_number(sub, "--test-seconds", a->o.test_seconds,
             "cap on each test set's length in seconds (evenly spaced files are kept; the asterisk test language has "
             "about 25 min); 0 = no cap")
      ->default_val(study::RestoreOptions::kMaxTestSeconds)
      ->check(number_range(0, 1e9, "0 <= seconds"));
  add_number(sub, "--seed", a->o.seed, "seed of noise, masks, minibatches and initializations")->default_val(1);
  a->budget.add(sub);
  sub->add_flag("--quick", a->o.quick, "3 corpus files, n = 64, tv and analysis, depths 1,3,10, 100 steps: about a minute");
  sub->callback([a] {
    auto& o = a->o;
    o.sigma = a->sigma;
    o.n = a->n;
    o.hop = a->hop;
    o.burst = a->burst;
    o.regularizers = split_list(a->regularizers, "--regularizers");
    if (!a->methods.empty()) o.methods = split_list(a->methods, "--methods");
    o.depths.clear();
    for (const std::string& d : split_list(a->depths, "--depths")) o.depths.push_back(parse_number<int>(d, "--depths"));
    const audio::CorpusSpec files = a->corpus.study_files(o.quick);  // codec2: as given (empty = its default)
    o.train_files.assign(files.train.begin(), files.train.end());
    o.test_files.assign(files.test.begin(), files.test.end());
    o.rate = files.rate;
    o.corpus = files.name.empty() && o.train_files.empty() ? "codec2" : files.name;
    o.test_name = files.test_name;
    if (a->corpus.kind() == audio::CorpusKind::Asterisk && a->corpus.test.empty())
      o.extra_tests = a->corpus.resolve(o.quick, true).extra_tests;  // codec2's test files as a second test set
    o.validate();
    a->budget.check(study::estimate_memory(o), "study restore");  // from the files' sizes, before reading them
    a->corpus.check_given(false);  // every given file readable, before any progress line
    a->output.check();
    const study::Journal journal = a->output.journal(study::restore_fingerprint(o));
    const Stopwatch t0;
    const auto res = study::run_restore_study(o, stderr_log("restore"), journal);
    a->output.write([&](const std::filesystem::path& dir) { study::write_restore_outputs(res, dir); }, journal);
    std::cout << study::restore_table(res) << "\nwritten to " << a->output.out << " in " << format_fixed(t0.seconds(), 1)
              << " s\n";
  });
}

}  // namespace varlearn::cli
