// Speech dequantization study: options, the method enum and the pipeline (corpus -> per bit
// depth: quantize -> quantized -> classic tuning -> classic -> learned). Stages in
// dequant_stages.cpp, writers in dequant_outputs.cpp.
#include "varlearn/core/names.hpp"
#include "varlearn/study/dequant_study.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/core/parallel.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/dist/dist.hpp"
#include "varlearn/study/dequant_pipeline.hpp"
#include "exchange.hpp"

namespace varlearn::study {

namespace {

// --quick: one bit depth, two depths, fewer steps and frames.
constexpr int kQuickBits = 4;
constexpr int kQuickDepths[] = {1, 5};
constexpr int kQuickTrainSteps = 1500;
constexpr Index kQuickMaxTrainFrames = 3000;
constexpr int kMaxBits = 24;
constexpr int kMaxDepth = 1000;
constexpr double kMaxBudget = 100;

bool has(const std::vector<DequantMethod>& v, DequantMethod m) { return std::find(v.begin(), v.end(), m) != v.end(); }

// One log line per result row.
std::string describe(const DequantEntry& e) {
  std::string s = "dequant: b = " + std::to_string(e.bits) + " " + to_string(e.method) + (e.warm ? " (warm)" : "");
  if (e.method != DequantMethod::Quantized)
    s += e.depth ? " N = " + std::to_string(*e.depth) : std::string(" converged (") + std::to_string(e.iterations) + " iterations)";
  if (e.method == DequantMethod::Learned) s += ": training SNR " + format_fixed(e.train_snr_db, 2) + " dB";
  return s + (e.method == DequantMethod::Learned ? ", test SNR " : ": SNR ") + format_fixed(e.snr_db, 2) + " dB, segSNR " + format_fixed(e.segsnr_db, 2) + " dB, " +
         format_fixed(e.seconds, 1) + " s";
}

}  // namespace

namespace {
constexpr NameTable<DequantMethod, 3> kDequantMethodNames{{{DequantMethod::Quantized, "quantized"}, {DequantMethod::Classic, "classic"},
                                                           {DequantMethod::Learned, "learned"}}};
}  // namespace

const char* to_string(DequantMethod m) { return name_of(kDequantMethodNames, m); }
DequantMethod parse_dequant_method(const std::string& name) {
  return parse_name(kDequantMethodNames, name, "study dequant method");
}


void DequantOptions::validate() const {
  const char* w = "study dequant";
  require(!bits.empty(), w, "no bit depth given (--bits)");
  for (int b : bits)
    require(b >= 1 && b <= kMaxBits, w, "bit depth b = " + std::to_string(b) + " must be in [1, 24]");
  require(frame_length >= 2, w, "frame length n = " + std::to_string(frame_length) + " must be >= 2");
  for (int d : depths)
    require(d >= 1 && d <= kMaxDepth, w, "depth N = " + std::to_string(d) + " must be in [1, 1000]");
  require(std::set<int>(depths.begin(), depths.end()).size() == depths.size(), w, "repeated depth in --depths");
  require(std::set<int>(bits.begin(), bits.end()).size() == bits.size(), w, "repeated bit depth in --bits");
  require(!methods.empty(), w, "no method given (--methods)");
  require(!has(methods, DequantMethod::Learned) || !depths.empty(), w,
          "the learned method needs at least one depth N (--depths)");
  require(std::isfinite(peak) && peak >= 0 && peak <= 1, w, "--peak must be in [0, 1] (0 = keep the level)");
  require(converged_rel_gap > 0 && converged_rel_gap < 1, w, "--gap must be in (0, 1)");
  require(converged_max_iter >= 1, w, "--max-iter must be >= 1");
  require(!tau_grid.empty(), w, "empty tau grid");
  for (double t : tau_grid) require(std::isfinite(t) && t > 0, w, "tau grid values must be > 0");
  require(train_steps >= 1, w, "--steps must be >= 1");
  require(batch_size >= 1, w, "--batch must be >= 1");
  require(std::isfinite(learning_rate) && learning_rate > 0, w, "--lr must be > 0");
  require(max_train_frames >= 1, w, "max_train_frames must be >= 1");
  require(std::isfinite(budget) && budget > 0 && budget <= kMaxBudget, w, "--budget must be in (0, 100]");
  require(warm_start || budget == 1.0, w, "--budget sets the warm-started networks' steps: give --warm-start");
  if (warm_start) {
    require(has(methods, DequantMethod::Learned), w, "--warm-start needs the learned method (--methods)");
    require(per_iteration_stepsizes, w,
            "--warm-start needs one step size per iteration (added iterations start near the identity); drop "
            "--shared-stepsizes");
    require(depths.size() >= 2, w, "--warm-start needs at least two depths N (--depths)");
    require(!added_tau_grid.empty(), w, "empty added-iteration tau grid");
    for (double c : added_tau_grid) require(std::isfinite(c) && c >= 0, w, "added-iteration tau multiples must be >= 0");
  }
}

DequantOptions DequantOptions::resolved() const {
  DequantOptions o = *this;
  if (quick) {
    const DequantOptions def;
    if (o.bits == def.bits) o.bits = {kQuickBits};
    if (o.depths == def.depths) o.depths.assign(std::begin(kQuickDepths), std::end(kQuickDepths));
    if (o.train_steps == def.train_steps) o.train_steps = kQuickTrainSteps;
    if (o.max_train_frames == def.max_train_frames) o.max_train_frames = kQuickMaxTrainFrames;
  }
  if (std::find(o.bits.begin(), o.bits.end(), o.example_bits) == o.bits.end()) o.example_bits = o.bits.front();
  return o;
}

std::optional<double> DequantResults::best_classic_snr(int bits) const {
  std::optional<double> best;
  for (const auto& e : entries)
    if (e.method == DequantMethod::Classic && e.bits == bits && (!best || e.snr_db > *best)) best = e.snr_db;
  return best;
}

std::optional<double> DequantResults::snr(DequantMethod method, int bits, std::optional<int> depth) const {
  for (const auto& e : entries)
    if (e.method == method && e.bits == bits && e.depth == depth) return e.snr_db;
  return std::nullopt;
}

namespace {

using dequantize::entry_from_json;
using dequantize::entry_json;

/// The journal key of one configuration, e.g. "b4-learned-N5", "b4-classic-converged".
std::string entry_key(int bits, DequantMethod m, std::optional<int> depth) {
  std::string k = std::string("b").append(std::to_string(bits)).append("-").append(to_string(m));
  if (m != DequantMethod::Quantized) k.append(depth ? std::string("-N").append(std::to_string(*depth)) : "-converged");
  return k;
}

// ---- the rows and who computes them ------------------------------------------------------
// Every row of the results table is a configuration (b, method, N), seeded by the study's seed
// and itself only. Two phases: (1) the quantized, classic and cold learned rows, independent of
// each other (a bit depth's classic tuning is computed once per process by the first row that
// needs it); (2) with --warm-start, each bit depth's warm chain, one task, since every link starts
// from the network before it. In each phase the rows run side by side, one thread each, largest
// first; under mpirun (docs/scale-out.md) they are spread over the ranks the same way
// (dist::my_share), and rank 0 gathers the results and alone writes the journal. Rank 0 reads
// the journal and tells the others what is finished, so --resume works with any P.

/// One row: which configuration, the WAV its test output feeds ("" = none) and its journal key.
struct Item {
  size_t b = 0;  ///< index into the bit depths
  DequantMethod method = DequantMethod::Quantized;
  std::optional<int> depth;
  bool warm = false;
  std::string example;
  std::string key;
};

/// A finished row: its numbers, its example output (rank 0, when it feeds a WAV) and its
/// trained parameters (learned rows, kept for the warm chain).
struct Row {
  bool done = false, computed = false;  ///< finished; finished by this run (not the journal)
  DequantEntry entry;
  Vector example, theta;
};

// Relative cost (about seconds on one core, measured on the quick study) for the largest-first
// order: a learned row grows with its Adam steps, batch and depth; the classic rows with the
// test signal.
double item_cost(const Item& it, const DequantOptions& o, Index test_samples) {
  const double test = double(test_samples);
  switch (it.method) {
    case DequantMethod::Quantized: return 1e-8 * test;
    case DequantMethod::Classic: return it.depth ? 3e-7 * test * *it.depth : 4e-6 * test;
    case DequantMethod::Learned: break;
  }
  const double steps = it.warm ? o.budget * o.train_steps : double(o.train_steps);
  return 7e-7 * steps * double(o.batch_size) * (*it.depth + 0.3);
}

// The journal key of each row and the rows in the order of the results table; `warm_chain[b]`
// lists the rows of b's warm chain (ascending N).
std::vector<Item> make_items(const DequantOptions& opt, const std::vector<dequantize::BitDepth>& bd,
                             std::vector<std::vector<size_t>>& warm_chain) {
  std::vector<Item> items;
  warm_chain.assign(bd.size(), {});
  const bool has_headline =
      std::find(opt.depths.begin(), opt.depths.end(), DequantOptions::kHeadlineDepth) != opt.depths.end();
  const int example_depth = has_headline ? DequantOptions::kHeadlineDepth : (opt.depths.empty() ? 0 : opt.depths.back());
  for (size_t bi = 0; bi < bd.size(); ++bi) {
    const int bits = bd[bi].bits;
    const bool ex = bd[bi].example;
    auto add = [&](DequantMethod m, std::optional<int> depth, bool warm, const char* example) {
      items.push_back({bi, m, depth, warm, ex ? example : "", entry_key(bits, m, depth) + (warm ? "-warm" : "")});
    };
    if (has(opt.methods, DequantMethod::Quantized)) add(DequantMethod::Quantized, std::nullopt, false, "");
    if (has(opt.methods, DequantMethod::Classic)) {
      for (int d : opt.depths) add(DequantMethod::Classic, d, false, "");
      add(DequantMethod::Classic, std::nullopt, false, "example_classic.wav");
    }
    if (!has(opt.methods, DequantMethod::Learned)) continue;
    for (int d : opt.depths) add(DequantMethod::Learned, d, false, d == example_depth ? "example_learned.wav" : "");
    if (!opt.warm_start) continue;
    std::vector<int> chain = opt.depths;
    std::sort(chain.begin(), chain.end());
    for (size_t k = 1; k < chain.size(); ++k) {
      add(DequantMethod::Learned, chain[k], true, "");
      warm_chain[bi].push_back(items.size() - 1);
    }
  }
  return items;
}

// Rank 0 reads the journal; every rank learns which rows are finished (their numbers and
// theta; the example signals stay on rank 0, the only rank that writes them).
void load_journal(const std::vector<Item>& items, std::vector<Row>& rows, const DequantOptions& opt,
                  const Journal& journal, const Log& log) {
  nlohmann::json found = nlohmann::json::array();
  if (dist::is_root())
    for (size_t i = 0; i < items.size(); ++i) {
      const Item& it = items[i];
      const auto done = journal.find(it.key);
      if (!done) continue;
      const bool learned = it.method == DequantMethod::Learned;
      std::optional<Vector> example = it.example.empty() ? std::nullopt : journal.find_signal(it.key, "example");
      std::optional<Vector> theta = learned && opt.warm_start ? journal.find_signal(it.key, "theta") : std::nullopt;
      if ((!it.example.empty() && !example) || (learned && opt.warm_start && !theta)) continue;  // recomputed
      Row& r = rows[i];
      r.done = true;
      r.entry = entry_from_json(*done);
      if (example) r.example = std::move(*example);
      if (theta) r.theta = std::move(*theta);
      if (log) log(describe(r.entry) + " (resumed)");
      if (dist::size() > 1) found.push_back({{"index", i}, {"entry", *done}, {"theta", exchange::vec_json(r.theta)}});
    }
  if (dist::size() == 1) return;
  std::string text = dist::is_root() ? exchange::to_text(found) : std::string();
  dist::idle_barrier();  // the other ranks may wait here while rank 0 writes a previous run's files
  dist::broadcast(text);
  if (dist::is_root()) return;
  for (const nlohmann::json& f : exchange::from_text(text)) {
    Row& r = rows.at(f.at("index").get<size_t>());
    r.done = true;
    r.entry = entry_from_json(f.at("entry"));
    r.theta = exchange::vec_from(f.at("theta"));
  }
}

// Records a row this process finished (rank 0 writes; elsewhere a no-op): signals first, so
// that a journaled row is always whole.
void record_row(const Journal& journal, const Item& it, const Row& r, const DequantOptions& opt) {
  if (!it.example.empty()) journal.record_signal(it.key, "example", r.example);
  if (it.method == DequantMethod::Learned && opt.warm_start) journal.record_signal(it.key, "theta", r.theta);
  journal.record(it.key, entry_json(r.entry));
}

// Under mpirun, after a phase: `to_all` ranks (every rank, or rank 0 alone) take the rows the
// others computed (numbers and theta); rank 0 also takes their example signals and journals
// the rows. `mine` are the rows this rank computed in the phase.
void exchange_rows(const std::vector<Item>& items, std::vector<Row>& rows, const std::vector<size_t>& mine,
                   bool to_all, const DequantOptions& opt, const Journal& journal) {
  if (dist::size() == 1) return;
  nlohmann::json sent = nlohmann::json::array(), examples = nlohmann::json::array();
  for (size_t i : mine) {
    sent.push_back({{"index", i}, {"entry", entry_json(rows[i].entry)}, {"theta", exchange::vec_json(rows[i].theta)}});
    if (!dist::is_root() && !items[i].example.empty())
      examples.push_back({{"index", i}, {"example", exchange::vec_json(rows[i].example)}});
  }
  const std::vector<std::string> all = to_all ? dist::all_gather(exchange::to_text(sent)) : dist::gather(exchange::to_text(sent));
  const std::vector<std::string> all_examples = dist::gather(exchange::to_text(examples));
  for (size_t q = 0; q < all.size(); ++q) {
    if (int(q) == dist::rank()) continue;
    for (const nlohmann::json& f : exchange::from_text(all[q])) {
      const size_t i = f.at("index").get<size_t>();
      if (i >= rows.size()) throw Error("study dequant: a row from another rank is not in the list", Error::Kind::Internal);
      Row& r = rows[i];
      r.done = r.computed = true;
      r.entry = entry_from_json(f.at("entry"));
      r.theta = exchange::vec_from(f.at("theta"));
    }
    if (dist::is_root())
      for (const nlohmann::json& f : exchange::from_text(all_examples[q]))
        rows.at(f.at("index").get<size_t>()).example = exchange::vec_from(f.at("example"));
  }
  if (dist::is_root())
    for (size_t q = 0; q < all.size(); ++q)
      if (int(q) != dist::rank())
        for (const nlohmann::json& f : exchange::from_text(all[q])) {
          const size_t i = f.at("index").get<size_t>();
          record_row(journal, items[i], rows[i], opt);
        }
}

// Spreads `tasks` (indices, with costs) over the ranks and runs this rank's share side by side,
// largest first, one thread each. Returns this rank's tasks. `what` names them in the log line.
template <class Body>
std::vector<size_t> run_share(std::vector<size_t> tasks, const std::vector<double>& task_cost, const std::string& what,
                              const Log& log, Body&& body) {
  std::stable_sort(tasks.begin(), tasks.end(), [&](size_t a, size_t b) { return task_cost[a] > task_cost[b]; });
  std::vector<double> costs;
  for (size_t t : tasks) costs.push_back(task_cost[t]);
  const std::vector<size_t> mine = dist::my_share(tasks, costs);
  if (dist::size() > 1 && log && !tasks.empty())
    log("dequant: " + std::to_string(tasks.size()) + " " + what + " over " + std::to_string(dist::size()) + " ranks, " +
        std::to_string(mine.size()) + " on rank 0");
  parallel_for(
      Index(mine.size()),
      [&](Index k) {
        const ScopedThreads one(1);  // small GEMMs: one thread per row (see CpOptions::threads)
        body(mine[size_t(k)]);
      },
      Schedule::Dynamic, 1);
  return mine;
}

}  // namespace

nlohmann::json dequant_fingerprint(const DequantOptions& options) {
  const DequantOptions o = options.resolved();
  std::vector<std::string> methods;
  for (DequantMethod m : o.methods) methods.push_back(to_string(m));
  return {{"study", "dequant"}, {"bits", o.bits}, {"frame_length", o.frame_length}, {"half_overlap", o.half_overlap},
          {"depths", o.depths}, {"methods", methods}, {"quantizer", audio::to_string(o.quantizer)},
          {"train_files", input_fingerprint(o.train_files)}, {"test_files", input_fingerprint(o.test_files)},
          {"peak", o.peak}, {"quick", o.quick}, {"gap", o.converged_rel_gap}, {"max_iter", o.converged_max_iter},
          {"tau_grid", o.tau_grid}, {"steps", o.train_steps}, {"batch", o.batch_size}, {"lr", o.learning_rate},
          {"per_iteration_stepsizes", o.per_iteration_stepsizes}, {"project_learned", o.project_learned},
          {"max_train_frames", o.max_train_frames}, {"seed", o.seed}, {"example_bits", o.example_bits},
          {"write_audio", o.write_audio}, {"warm_start", o.warm_start}, {"budget", o.budget},
          {"added_tau_grid", o.added_tau_grid}};
}

DequantResults run_dequant_study(const DequantOptions& options_in, const Log& log_in, const Journal& journal) {
  using namespace dequantize;
  const Stopwatch clock;
  const DequantOptions opt = options_in.resolved();
  opt.validate();
  const Log log = serialized_log(log_in);  // called from worker threads
  DequantResults res;
  res.options = opt;
  const Corpus corpus = load_corpus(opt, log);
  // Silent audio: nothing to learn from, and an undefined (infinite) test SNR. Refused before any work.
  auto silent = [](const std::vector<Vector>& signals) {
    for (const Vector& v : signals)
      if (v.size() > 0 && v.cwiseAbs().maxCoeff() > 0) return false;
    return true;
  };
  if (silent(corpus.train))
    throw Error("study dequant: the training audio is silent (every sample is zero): nothing to learn; give speech "
                "with --train");
  if (silent(corpus.test))
    throw Error("study dequant: the test audio is silent (every sample is zero): the SNR is undefined; give speech "
                "with --test");
  res.rate = corpus.rate;
  res.train_files = corpus.train_files, res.test_files = corpus.test_files;
  res.clipped_samples = corpus.clipped_samples, res.test_samples = corpus.test_samples;
  res.example_file = res.test_files.front();

  std::vector<BitDepth> bd(opt.bits.size());
  parallel_for(Index(bd.size()), [&](Index i) {
    const ScopedThreads one(1);
    bd[size_t(i)] = quantize(corpus, opt, opt.bits[size_t(i)]);
  });
  res.train_frames = bd.back().train.size();
  std::vector<std::vector<size_t>> warm_chain;
  const std::vector<Item> items = make_items(opt, bd, warm_chain);
  std::vector<Row> rows(items.size());
  load_journal(items, rows, opt, journal, log);

  // The classic tuning of each bit depth, computed by the first row that needs it.
  std::vector<ClassicTuning> tunings(bd.size());
  std::vector<std::once_flag> tuned(bd.size());
  auto tuning = [&](size_t bi) -> const ClassicTuning& {
    std::call_once(tuned[bi], [&] { tunings[bi] = tune(bd[bi], opt); });
    return tunings[bi];
  };
  auto finish = [&](size_t i, Row&& r, const Evaluation& ev) {
    const Item& it = items[i];
    if (!it.example.empty()) r.example = ev.outputs.front();
    r.done = r.computed = true;
    record_row(journal, it, r, opt);
    if (log) log(describe(r.entry));
    rows[i] = std::move(r);
  };

  // Phase 1: quantized, classic and cold learned rows.
  std::vector<size_t> first;
  std::vector<double> cost(items.size(), 0.0);
  for (size_t i = 0; i < items.size(); ++i) {
    cost[i] = item_cost(items[i], opt, corpus.test_samples);
    if (!items[i].warm && !rows[i].done) first.push_back(i);
  }
  const std::vector<size_t> mine_first = run_share(first, cost, "rows", log, [&](size_t i) {
    const Item& it = items[i];
    const BitDepth& b = bd[it.b];
    Evaluation ev;
    Row r;
    if (it.method == DequantMethod::Quantized) r.entry = quantized_entry(corpus, b, opt);
    else if (it.method == DequantMethod::Classic)
      r.entry = it.depth ? classic_entry(corpus, b, opt, *it.depth, tuning(it.b)) : converged_entry(corpus, b, opt, &ev);
    else
      r.entry = learned_entry(corpus, b, opt, *it.depth, fixed_budget(tuning(it.b).best.at(*it.depth), *it.depth), log,
                              &ev, &r.theta);
    finish(i, std::move(r), ev);
  });
  exchange_rows(items, rows, mine_first, true, opt, journal);

  // Phase 2 (--warm-start): each bit depth's warm chain, from the better-fitting (training SNR)
  // of the cold and the warm network of the next smaller N, so that the chain's training SNR
  // never falls below any shallower network's.
  if (opt.warm_start) {
    auto row_of = [&](size_t bi, int depth, bool warm) -> const Row& {
      for (size_t i = 0; i < items.size(); ++i)
        if (items[i].b == bi && items[i].method == DequantMethod::Learned && items[i].depth == depth && items[i].warm == warm)
          return rows[i];
      throw Error("study dequant: no learned row for the warm chain", Error::Kind::Internal);
    };
    std::vector<size_t> chains;
    std::vector<double> chain_cost(bd.size(), 0.0);
    for (size_t bi = 0; bi < bd.size(); ++bi) {
      for (size_t i : warm_chain[bi])
        if (!rows[i].done) chain_cost[bi] += cost[i];
      if (chain_cost[bi] > 0) chains.push_back(bi);
    }
    const std::vector<size_t> my_chains = run_share(chains, chain_cost, "warm chains", log, [&](size_t bi) {
      std::vector<int> chain = opt.depths;
      std::sort(chain.begin(), chain.end());
      for (size_t k = 1; k < chain.size(); ++k) {
        const size_t i = warm_chain[bi][k - 1];
        if (rows[i].done) continue;
        const int d = chain[k], s = chain[k - 1];
        const bool from_warm = k > 1 && row_of(bi, s, true).entry.train_snr_db > row_of(bi, s, false).entry.train_snr_db;
        const Vector& from = row_of(bi, s, from_warm).theta;
        Evaluation ev;
        Row r;
        r.entry = warm_entry(corpus, bd[bi], opt, d, s, from, log, &ev, &r.theta);
        r.entry.warm_from_warm = from_warm;
        finish(i, std::move(r), ev);
      }
    });
    std::vector<size_t> mine_warm;
    for (size_t bi : my_chains)
      for (size_t i : warm_chain[bi])
        if (rows[i].computed) mine_warm.push_back(i);
    exchange_rows(items, rows, mine_warm, false, opt, journal);
  }

  // The results in the table's order (on rank 0 every row; the others lack the warm rows).
  for (size_t bi = 0; bi < bd.size(); ++bi) {
    if (bd[bi].example) {
      res.examples.push_back({"example_clean.wav", corpus.test.front()});
      res.examples.push_back({"example_quantized.wav", bd[bi].test.front().quantized});
    }
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].b != bi || !rows[i].done) continue;
      res.entries.push_back(rows[i].entry);
      if (!items[i].example.empty() && dist::is_root()) res.examples.push_back({items[i].example, rows[i].example});
    }
  }
  if (log) log("dequant: done in " + format_fixed(clock.seconds(), 1) + " s");
  res.seconds = clock.seconds();
  return res;
}

}  // namespace varlearn::study
