// varlearn train: learn R (k x n) and the stepsize on a toy data model or on frames from files,
// then compare the trained model's exact population risk with the theory optimum
// (learn::run_train_experiment); with --operator/--regularizer the general model
// (general::run_general_train).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "options.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/dist/dist.hpp"
#include "varlearn/general/experiment.hpp"
#include "varlearn/learn/experiment.hpp"

namespace varlearn::cli {
namespace {

/// One-line progress on a terminal: iteration, loss, time left (at most every 0.2 s).
optim::Observer progress_line(bool enabled) {
  if (const Embedding* e = embedding()) return e->observer;  // the embedding watches, nothing printed
  if (!enabled) return {};
  struct State {
    Stopwatch since_print;
    bool printed = false;
  };
  auto s = std::make_shared<State>();
  return [s](const optim::Progress& p) {
    if (p.iteration == p.max_iterations || !s->printed || s->since_print.seconds() > 0.2) {
      s->printed = true;
      s->since_print.restart();
      const std::string rank = dist::rank_label();  // "rank 0/P" under mpirun
      std::cerr << "\r  " << (rank.empty() ? "" : rank + "  ") << "iter " << p.iteration << '/' << p.max_iterations << "  loss " << format_general(p.loss, 6)
                << "  |grad| " << format_general(p.grad_norm, 3) << "  " << format_fixed(p.eta_s(), 1)
                << "s left   " << std::flush;
    }
    return true;
  };
}

/// Under mpirun: one note on stderr with the ranks and the time spent in reductions.
void note_reductions() {
  if (dist::size() <= 1) return;
  const dist::ReduceStats s = dist::reduce_stats();
  std::cerr << "note: " << dist::size() << " ranks, " << s.calls << " reductions of "
            << format_general(s.calls > 0 ? s.values / double(s.calls) : 0.0, 6) << " values, "
            << format_general(s.seconds, 3) << " s in reductions (rank 0)\n";
}

FamilyOptions::Config train_family() {
  const learn::TrainExperiment e;
  FamilyOptions::Config c;
  c.methods = {"bilevel", "unrolled"};
  c.method = learn::to_string(e.method);
  c.default_depth = e.depth;
  c.max_depth = learn::kMaxDepth;
  c.stepsize = e.stepsize;
  c.learned = c.per_iteration = true;
  c.stepsize_note = "('learned': omega = softplus(alpha), trained)";
  return c;
}

struct TrainCli {
  learn::TrainExperiment e;
  DataOptions data{learn::TrainExperiment{}.data.n};
  NoiseOptions noise{learn::TrainExperiment{}.noise_std};
  RankOption rank;
  FamilyOptions family{train_family()};
  TrainingOptions training;
  GeneralModelOptions general;
  OutputOptions output;
  BudgetOptions budget;
  CLI::App* sub = nullptr;
};

/// --tolerance-table: the library's table, as JSON or as aligned columns.
void print_tolerance_table(const general::GeneralTrainExperiment& e, const std::vector<double>& tolerances,
                           const TrainCli& o) {
  for (const char* f : {"--save", "--resume", "--checkpoint-every", "--iterations", "--optimizer", "--lr", "--batch",
                        "--patience", "--objective"})
    if (const CLI::Option* opt = o.sub->get_option_no_throw(f); opt && opt->count() > 0)
      throw Error(std::string(f) + " does not apply with --tolerance-table (it tabulates, it does not train)");
  o.budget.check(general::estimate_memory(e), "train --tolerance-table");
  const general::ToleranceReport r = general::run_tolerance_table(e, tolerances);
  if (o.output.json || embedding()) return print_result(general::to_json(r), true);
  std::cout << "bilevel hypergradient vs lower-level tolerance: " << r.op << ", " << r.regularizer << ", n = " << r.n
            << ", " << r.frames << " frames, " << r.parameters << " parameters, lower solver " << r.lower_solver
            << "\nreference (tightest tolerance) vs central differences: " << format_general(r.reference_fd_error, 3)
            << "\n\n";
  std::printf("%10s %10s %10s %8s %12s %8s %12s %14s\n", "tolerance", "iterations", "gradients", "HVPs", "|grad E|",
              "CG its", "CG residual", "relative_error");
  for (const general::ToleranceRow& t : r.rows)
    std::printf("%10.1e %10d %10ld %8ld %12.2e %8d %12.2e %14.2e\n", t.tolerance, t.lower_iterations,
                t.gradient_evaluations, t.hessian_products, t.lower_gradient_norm, t.cg_iterations, t.cg_residual,
                t.relative_error);
}

/// `train` with the general model: every check before any work, then the library's run.
void run_general(const TrainCli& o) {
  learn::TrainExperiment q = o.e;
  q.noise_std = o.noise.checked();
  o.training.apply(q);
  const general::GeneralTrainExperiment e = o.general.experiment(q, o.data, o.family, o.training, o.rank);
  e.validate();  // every range before any work
  const std::vector<double> tolerances = o.general.tolerances();
  if (!tolerances.empty()) return print_tolerance_table(e, tolerances, o);
  check_output_path("--save", e.save);
  o.budget.check(general::estimate_memory(e), "train");
  const optim::Observer obs = progress_line(!o.output.json && ::isatty(::fileno(stderr)));
  const general::GeneralTrainReport r = general::run_general_train(e, obs);
  if (const Embedding* em = embedding(); em && em->trained_general) em->trained_general(r);
  else if (obs) std::cerr << '\n';
  note_reductions();
  if (r.diverged) std::cerr << "warning: " << r.message << '\n';
  print_result(general::to_json(r), o.output.json);
}

}  // namespace

void add_train(CLI::App& app) {
  auto o = std::make_shared<TrainCli>();
  auto* sub = o->sub = app.add_subcommand(
      "train",
      "Learn the regularizer R (k x n) and stepsize omega by bilevel optimization or unrolling;\n"
      "prints train_loss, population_risk (exact risk of the trained model) and optimal_risk (theory).\n"
      "With --operator and/or --regularizer: the general model (an operator A, a regularizer tv, analysis,\n"
      "foe or quadratic with a potential), learned on frames; prints train_loss, validation_loss, test_mse,\n"
      "stepsize, iterations, status (docs/general.md)");
  o->data.add(sub, /*frames=*/true);
  o->noise.add(sub);
  o->rank.add(sub);
  o->family.add(sub);
  o->training.add(sub, o->e);
  o->general.add(sub);
  o->output.add(sub);
  o->budget.add(sub);
  sub->callback([o] {
    if (o->general.active()) return run_general(*o);
    o->general.refuse_without_model();
    learn::TrainExperiment e = o->e;
    e.data = o->data.resolved();
    e.noisy_file = o->data.noisy;
    e.noise_std = o->noise.checked();
    if (e.data.kind != theory::DataKind::File) o->rank.resolve(e.data.n);
    e.rank = o->rank.value();
    e.method = learn::parse_method(o->family.method);
    e.depth = o->family.depth;
    e.stepsize = o->family.stepsize;
    o->training.apply(e);
    o->training.refuse_unused(e, o->family, o->data);
    e.validate();  // every range before any work
    check_output_path("--save", e.save);
    o->budget.check(learn::estimate_memory(e), "train");
    const optim::Observer obs = progress_line(!o->output.json && ::isatty(::fileno(stderr)));
    const learn::TrainReport r = learn::run_train_experiment(e, obs);
    if (const Embedding* em = embedding(); em && em->trained) em->trained(r);
    else if (obs) std::cerr << '\n';
    note_reductions();
    if (r.diverged) std::cerr << "warning: " << r.message << '\n';
    print_result(learn::to_json(r), o->output.json);
  });
}
}  // namespace varlearn::cli
