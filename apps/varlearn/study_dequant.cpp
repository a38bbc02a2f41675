// varlearn study dequant: speech dequantization, classic l1 (Chambolle-Pock) vs the learned
// unrolled primal-dual network. Parses, validates, calls the library, prints.
#include <algorithm>
#include <iostream>
#include <limits>
#include <memory>

#include "commands.hpp"
#include "options.hpp"
#include "study_output.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/study/budget.hpp"
#include "varlearn/study/dequant_study.hpp"

namespace varlearn::cli {
namespace {

struct DequantCli {
  study::DequantOptions o;
  StudyOutput output;
  std::string quantizer = "mid-rise";
  CorpusOptions corpus;
  std::vector<std::string> methods;
  bool shared = false, no_project = false;
  long n = 64;
  std::vector<CLI::Option*> learned_only, classic_only;  // options of one method
  BudgetOptions budget;
};

/// Fills the options, validates everything, runs the study, writes the folder, prints.
void run_dequant(DequantCli& a) {
  auto& o = a.o;
  o.frame_length = a.n;
  o.quantizer = audio::parse_quantizer_kind(a.quantizer);
  if (!a.methods.empty()) {
    o.methods.clear();
    for (const auto& m : a.methods) o.methods.push_back(study::parse_dequant_method(m));
  }
  o.per_iteration_stepsizes = !a.shared;
  o.project_learned = !a.no_project;
  const audio::CorpusSpec files = a.corpus.study_files(o.quick);  // codec2: as given (empty = its default)
  o.train_files = files.train;
  o.test_files = files.test;
  if (o.train_files.empty() != o.test_files.empty())
    throw Error("study dequant: give both --train and --test files (or neither for the codec2 corpus)");
  {
    const auto r = o.resolved();
    auto has = [&](study::DequantMethod m) { return std::find(r.methods.begin(), r.methods.end(), m) != r.methods.end(); };
    for (const CLI::Option* f : a.learned_only) refuse_if_given(f, !has(study::DequantMethod::Learned), "--methods without learned");
    for (const CLI::Option* f : a.classic_only) refuse_if_given(f, !has(study::DequantMethod::Classic), "--methods without classic");
    r.validate();  // bad input fails before any work
  }
  a.budget.check(study::estimate_memory(o), "study dequant");  // from the files' sizes, before reading them
  a.corpus.check_given(false);  // every given file readable, before any progress line
  a.output.check();  // a bad or existing --out, before the work
  const study::Journal journal = a.output.journal(study::dequant_fingerprint(o));
  const auto res = study::run_dequant_study(o, stderr_log("dequant"), journal);
  if (res.clipped_samples > 0)
    std::cerr << "warning: " << res.clipped_samples << " samples outside [-1, 1] were clipped before quantizing\n";
  size_t count = 0;
  a.output.write([&](const std::filesystem::path& dir) { count = study::write_dequant_outputs(res, dir).size(); },
                  journal);
  std::cout << study::dequant_summary_markdown(res) << "\nwrote " << count << " files to " << a.output.out << "\n";
}

}  // namespace

void add_study_dequant(CLI::App& study) {
  auto* sub = study.add_subcommand(
      "dequant",
      "Speech dequantization study: quantize speech at b bits, reconstruct it by the classic sparse-DCT l1 "
      "method (Chambolle-Pock: converged with a certified duality gap, and stopped after N iterations with tuned "
      "step size) and by the learned unrolled network of depth N (learned K and step sizes, Adam). Writes "
      "results.json, results.csv, summary.md, figures and example WAVs into --out.");
  auto a = std::make_shared<DequantCli>();
  a->output.add(sub, "output folder (created when complete; see --force, --resume)", "(bits, method, N) entry");
  sub->add_flag("--quick", a->o.quick, "small corpus, b = 4, N in {1, 5}, 1500 Adam steps: seconds");
  add_number(sub, "--bits", a->o.bits, "bit depths b (1..24), e.g. --bits 3 4 5 6")->default_str("3 4 5 6")->delimiter(',');
  add_number(sub, "--n", a->n, "frame length n in samples")->default_val(64);
  sub->add_flag("--half-overlap", a->o.half_overlap,
                "half-overlapping frames joined with normalized Hann weights (stays inside the cells); default: none");
  add_number(sub, "--depths", a->o.depths, "unrolled / fixed-budget depths N (1..1000), e.g. --depths 1,2,5,10,20,50")->default_str("1 2 5 10 20")->delimiter(',');
  sub->add_option("--methods", a->methods, "methods: quantized, classic, learned")
      ->default_str("quantized classic learned")
      ->delimiter(',');
  sub->add_option("--quantizer", a->quantizer, "mid-rise (no zero level) or mid-tread (zero level)")
      ->check(CLI::IsMember({"mid-rise", "midrise", "mid-tread", "midtread"}))
      ->default_str("mid-rise");
  a->corpus.add(sub);
  add_number(sub, "--peak", a->o.peak,
                  "scale each file to this peak amplitude before quantizing; 0 keeps the level and clips samples "
                  "outside [-1, 1] with a warning")
      ->default_val(0.99);
  a->classic_only.push_back(add_number(sub, "--gap", a->o.converged_rel_gap, "relative duality-gap tolerance of the converged classic solve")
      ->default_val(1e-4));
  a->classic_only.push_back(
      add_number(sub, "--max-iter", a->o.converged_max_iter, "iteration cap of the converged classic solve")->default_val(200000));
  a->learned_only.push_back(add_number(sub, "--steps", a->o.train_steps, "Adam steps per learned network")->default_val(2000));
  a->learned_only.push_back(add_number(sub, "--batch", a->o.batch_size, "frames per Adam step")->default_val(256));
  a->learned_only.push_back(add_number(sub, "--lr", a->o.learning_rate, "Adam learning rate at N <= 5 (times 5/N for deeper networks; halved every steps/4), 0 < lr <= 1e3")
      ->check(number_range(std::numeric_limits<double>::min(), 1e3, "0 < lr <= 1e3"))
      ->default_val(3e-3));
  a->learned_only.push_back(sub->add_flag("--shared-stepsizes", a->shared, "one learned (tau, sigma) for all iterations (default: one per iteration)"));
  a->learned_only.push_back(sub->add_flag("--no-project-learned", a->no_project,
                "do not project the learned output onto the quantization cells (default: projected, which can only "
                "reduce the error since the clean sample lies in its cell)"));
  a->learned_only.push_back(sub->add_flag(
      "--warm-start", a->o.warm_start,
      "depth analysis: also train each learned network of depth N (ascending) warm-started from the trained next "
      "shallower one, its added iterations at the identity (tau = 1e-13, or a larger tau when that lowers the "
      "training loss), so training can only improve on the shallower network; the report then says whether "
      "optimization, generalization or expressivity limits deeper networks"));
  a->learned_only.push_back(add_number(sub, "--budget", a->o.budget,
                                       "Adam steps of the warm-started networks as a multiple of --steps (needs "
                                       "--warm-start), 0 < budget <= 100")
                                ->default_val(1.0));
  add_number(sub, "--seed", a->o.seed, "seed (minibatches, frame subsampling)")->default_val(1);
  a->budget.add(sub);
  sub->callback([a] { run_dequant(*a); });
}

}  // namespace varlearn::cli
