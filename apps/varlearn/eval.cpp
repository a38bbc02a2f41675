// varlearn eval: evaluate a trained checkpoint: exact population risk on a data model (and the
// theory optimum of its class), and/or the loss on frames (learn::run_eval_experiment).
#include <memory>

#include "commands.hpp"
#include "options.hpp"
#include "varlearn/learn/experiment.hpp"

namespace varlearn::cli {
namespace {
struct EvalCli {
  learn::EvalExperiment e;
  DataOptions data{0};  // n from the checkpoint
  NoiseOptions noise{learn::EvalExperiment{}.noise_std};
  OutputOptions output;
  BudgetOptions budget;
  CLI::Option* seed = nullptr;
};
}  // namespace

void add_eval(CLI::App& app) {
  auto o = std::make_shared<EvalCli>();
  auto* sub = app.add_subcommand("eval", "Evaluate a trained model checkpoint (from varlearn train --save)");
  sub->add_option("--model", o->e.model_file, "Checkpoint file (JSON)")->required();
  o->data.add(sub, /*frames=*/true);
  o->noise.add(sub);
  o->seed = add_number(sub, "--seed", o->e.seed, "Seed of the noise draw on --clean (without --noisy)")
                ->capture_default_str();
  sub->add_option("--denoiser", o->e.denoiser_out, "Write the denoiser matrix T_R (n x n) to this text file");
  o->output.add(sub);
  o->budget.add(sub);
  sub->callback([o] {
    learn::EvalExperiment e = o->e;
    e.noise_std = o->noise.checked();
    e.data = o->data.resolved(0, /*frames_anywhere=*/true);
    e.noisy_file = o->data.noisy;
    refuse_if_given(o->seed, e.data.clean_file.empty(), "no --clean frames", "it seeds the noise drawn on them");
    refuse_if_given(o->seed, !e.noisy_file.empty(), "--noisy", "the noisy frames are given, none are drawn");
    e.validate();
    check_output_path("--denoiser", e.denoiser_out);
    o->budget.check(learn::estimate_memory(e), "eval");
    print_result(learn::to_json(learn::run_eval_experiment(e)), o->output.json);
  });
}
}  // namespace varlearn::cli
