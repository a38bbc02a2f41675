// Speech dequantization study: options, the method enum and the pipeline (corpus -> per bit
// depth: quantize -> quantized -> classic tuning -> classic -> learned). Stages in
// dequant_stages.cpp, writers in dequant_outputs.cpp.
#include "varlearn/study/dequant_study.hpp"

#include <algorithm>
#include <cmath>
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

bool has(const std::vector<DequantMethod>& v, DequantMethod m) { return std::find(v.begin(), v.end(), m) != v.end(); }

// One log line per result row.
std::string describe(const DequantEntry& e) {
  std::string s = "dequant: b = " + std::to_string(e.bits) + " " + to_string(e.method);
  if (e.method != DequantMethod::Quantized)
    s += e.depth ? " N = " + std::to_string(*e.depth) : std::string(" converged (") + std::to_string(e.iterations) + " iterations)";
  return s + ": SNR " + format_fixed(e.snr_db, 2) + " dB, segSNR " + format_fixed(e.segsnr_db, 2) + " dB, " +
         format_fixed(e.seconds, 1) + " s";
}

}  // namespace

const char* to_string(DequantMethod m) {
  switch (m) {
    case DequantMethod::Quantized: return "quantized";
    case DequantMethod::Classic: return "classic";
    case DequantMethod::Learned: return "learned";
  }
  return "?";
}

DequantMethod parse_dequant_method(const std::string& name) {
  for (DequantMethod m : {DequantMethod::Quantized, DequantMethod::Classic, DequantMethod::Learned})
    if (name == to_string(m)) return m;
  throw Error("study dequant: unknown method '" + name + "' (quantized, classic, learned)");
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

// One bit depth: every requested method, in the order of the results table.
void run_bit_depth(const dequantize::Corpus& corpus, const DequantOptions& opt, int bits, DequantResults& res,
                   const Log& log) {
  using namespace dequantize;
  const Stopwatch clock;
  const BitDepth b = quantize(corpus, opt, bits);
  res.train_frames = b.train.size();
  if (b.example) {
    res.examples.push_back({"example_clean.wav", corpus.test.front()});
    res.examples.push_back({"example_quantized.wav", b.test.front().quantized});
  }
  auto add = [&](const DequantEntry& e) {
    res.entries.push_back(e);
    if (log) log(describe(e));
  };
  const bool run_c = has(opt.methods, DequantMethod::Classic), run_l = has(opt.methods, DequantMethod::Learned);
  if (has(opt.methods, DequantMethod::Quantized)) add(quantized_entry(corpus, b, opt));
  const ClassicTuning tuning = run_c || run_l ? tune(b, opt) : ClassicTuning{};
  if (run_c) {
    for (int d : opt.depths) add(classic_entry(corpus, b, opt, d, tuning));
    Evaluation ev;
    add(converged_entry(corpus, b, opt, &ev));
    if (b.example) res.examples.push_back({"example_classic.wav", ev.outputs.front()});
  }
  if (run_l) {
    const int example_depth = std::find(opt.depths.begin(), opt.depths.end(), DequantOptions::kHeadlineDepth) !=
                                      opt.depths.end()
                                  ? DequantOptions::kHeadlineDepth
                                  : opt.depths.back();
    for (int d : opt.depths) {
      Evaluation ev;
      add(learned_entry(corpus, b, opt, d, fixed_budget(tuning.best.at(d), d), log, &ev));
      if (b.example && d == example_depth) res.examples.push_back({"example_learned.wav", ev.outputs.front()});
    }
  }
  if (log) log("dequant: b = " + std::to_string(bits) + " done in " + format_fixed(clock.seconds(), 1) + " s");
}

}  // namespace

DequantResults run_dequant_study(const DequantOptions& options_in, const Log& log) {
  const Stopwatch clock;
  const DequantOptions opt = options_in.resolved();
  opt.validate();
  const ScopedThreads threads(1);  // small GEMMs: one thread (see CpOptions::threads)
  DequantResults res;
  res.options = opt;
  const dequantize::Corpus corpus = dequantize::load_corpus(opt, log);
  res.rate = corpus.rate;
  res.train_files = corpus.train_files, res.test_files = corpus.test_files;
  res.clipped_samples = corpus.clipped_samples, res.test_samples = corpus.test_samples;
  res.example_file = res.test_files.front();
  for (int bits : opt.bits) run_bit_depth(corpus, opt, bits, res, log);
  res.seconds = clock.seconds();
  return res;
}

}  // namespace varlearn::study
