// Speech dequantization study: options, the method enum and the pipeline (corpus -> per bit
// depth: quantize -> quantized -> classic tuning -> classic -> learned). Stages in
// dequant_stages.cpp, writers in dequant_outputs.cpp.
#include "varlearn/core/names.hpp"
#include "varlearn/study/dequant_study.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/study/dequant_pipeline.hpp"

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

// One bit depth: every requested method, in the order of the results table. Each entry is
// taken from the journal when it was finished before (with its example signal), else
// computed and recorded; the classic tuning is computed only when some entry needs it.
void run_bit_depth(const dequantize::Corpus& corpus, const DequantOptions& opt, int bits, DequantResults& res,
                   const Log& log, const Journal& journal) {
  using namespace dequantize;
  const Stopwatch clock;
  const BitDepth b = quantize(corpus, opt, bits);
  res.train_frames = b.train.size();
  if (b.example) {
    res.examples.push_back({"example_clean.wav", corpus.test.front()});
    res.examples.push_back({"example_quantized.wav", b.test.front().quantized});
  }
  // Runs (or reloads) one configuration; `example` names the WAV its outputs feed ("" = none).
  auto entry = [&](DequantMethod m, std::optional<int> depth, const std::string& example,
                   const std::function<DequantEntry(Evaluation*)>& compute) {
    const std::string key = entry_key(bits, m, depth);
    const bool wants_example = b.example && !example.empty();
    if (auto done = journal.find(key)) {
      std::optional<Vector> signal = wants_example ? journal.find_signal(key, "example") : std::nullopt;
      if (!wants_example || signal) {
        res.entries.push_back(entry_from_json(*done));
        if (wants_example) res.examples.push_back({example, std::move(*signal)});
        if (log) log(describe(res.entries.back()) + " (resumed)");
        return;
      }
    }
    Evaluation ev;
    const DequantEntry e = compute(&ev);
    if (wants_example) journal.record_signal(key, "example", ev.outputs.front());
    journal.record(key, entry_json(e));
    res.entries.push_back(e);
    if (wants_example) res.examples.push_back({example, ev.outputs.front()});
    if (log) log(describe(e));
  };
  // A learned network (cold or warm), like `entry`, keeping its trained parameters in `thetas`
  // (journaled as the signal "theta") when the warm chain needs them.
  auto learned = [&](bool warm, int depth, const std::string& example, std::map<int, Vector>& thetas,
                     const std::function<DequantEntry(Evaluation*, Vector*)>& compute) {
    const std::string key = entry_key(bits, DequantMethod::Learned, depth) + (warm ? "-warm" : "");
    const bool wants_example = b.example && !example.empty();
    if (auto done = journal.find(key)) {
      std::optional<Vector> signal = wants_example ? journal.find_signal(key, "example") : std::nullopt;
      std::optional<Vector> theta = opt.warm_start ? journal.find_signal(key, "theta") : std::nullopt;
      if ((!wants_example || signal) && (!opt.warm_start || theta)) {
        res.entries.push_back(entry_from_json(*done));
        if (wants_example) res.examples.push_back({example, std::move(*signal)});
        if (theta) thetas[depth] = std::move(*theta);
        if (log) log(describe(res.entries.back()) + " (resumed)");
        return;
      }
    }
    Evaluation ev;
    Vector theta;
    const DequantEntry e = compute(&ev, &theta);
    if (wants_example) journal.record_signal(key, "example", ev.outputs.front());
    if (opt.warm_start) journal.record_signal(key, "theta", theta);
    journal.record(key, entry_json(e));
    res.entries.push_back(e);
    if (wants_example) res.examples.push_back({example, ev.outputs.front()});
    if (opt.warm_start) thetas[depth] = std::move(theta);
    if (log) log(describe(e));
  };
  const bool run_c = has(opt.methods, DequantMethod::Classic), run_l = has(opt.methods, DequantMethod::Learned);
  if (has(opt.methods, DequantMethod::Quantized))
    entry(DequantMethod::Quantized, std::nullopt, "", [&](Evaluation*) { return quantized_entry(corpus, b, opt); });
  std::optional<ClassicTuning> tuning;
  auto tuned = [&]() -> const ClassicTuning& {
    if (!tuning) tuning = tune(b, opt);
    return *tuning;
  };
  if (run_c) {
    for (int d : opt.depths)
      entry(DequantMethod::Classic, d, "", [&](Evaluation*) { return classic_entry(corpus, b, opt, d, tuned()); });
    entry(DequantMethod::Classic, std::nullopt, "example_classic.wav",
          [&](Evaluation* ev) { return converged_entry(corpus, b, opt, ev); });
  }
  if (run_l) {
    const int example_depth = std::find(opt.depths.begin(), opt.depths.end(), DequantOptions::kHeadlineDepth) !=
                                      opt.depths.end()
                                  ? DequantOptions::kHeadlineDepth
                                  : opt.depths.back();
    // The trained parameters by depth (cold, then warm): kept only for the warm chain.
    std::map<int, Vector> cold_theta, warm_theta;
    for (int d : opt.depths)
      learned(false, d, d == example_depth ? "example_learned.wav" : "", cold_theta, [&](Evaluation* ev, Vector* th) {
        return learned_entry(corpus, b, opt, d, fixed_budget(tuned().best.at(d), d), log, ev, th);
      });
    if (opt.warm_start) {
      std::vector<int> chain = opt.depths;
      std::sort(chain.begin(), chain.end());
      // Training SNR of the learned network of depth N (cold or warm) at this b.
      auto train_snr = [&](int depth, bool warm) {
        for (const auto& e : res.entries)
          if (e.method == DequantMethod::Learned && e.bits == bits && e.depth == depth && e.warm == warm)
            return e.train_snr_db;
        return -1e300;
      };
      for (size_t i = 1; i < chain.size(); ++i) {
        const int d = chain[i], s = chain[i - 1];
        // From the better-fitting (training SNR) of the cold and the warm network of depth s, so
        // that the warm chain's training SNR never falls below any shallower network's.
        const bool from_warm = i > 1 && train_snr(s, true) > train_snr(s, false);
        const Vector& from = from_warm ? warm_theta.at(s) : cold_theta.at(s);
        learned(true, d, "", warm_theta, [&](Evaluation* ev, Vector* th) {
          DequantEntry e = warm_entry(corpus, b, opt, d, s, from, log, ev, th);
          e.warm_from_warm = from_warm;
          return e;
        });
      }
    }
  }
  if (log) log("dequant: b = " + std::to_string(bits) + " done in " + format_fixed(clock.seconds(), 1) + " s");
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

DequantResults run_dequant_study(const DequantOptions& options_in, const Log& log, const Journal& journal) {
  const Stopwatch clock;
  const DequantOptions opt = options_in.resolved();
  opt.validate();
  const ScopedThreads threads(1);  // small GEMMs: one thread (see CpOptions::threads)
  DequantResults res;
  res.options = opt;
  const dequantize::Corpus corpus = dequantize::load_corpus(opt, log);
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
  for (int bits : opt.bits) run_bit_depth(corpus, opt, bits, res, log, journal);
  res.seconds = clock.seconds();
  return res;
}

}  // namespace varlearn::study
