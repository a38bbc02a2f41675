#include "varlearn/study/dequant_study.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "figure.hpp"
#include "varlearn/audio/audio_file.hpp"
#include "varlearn/audio/corpus.hpp"
#include "varlearn/audio/metrics.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/dequant/chambolle_pock.hpp"
#include "varlearn/dequant/dct.hpp"
#include "varlearn/dequant/signal.hpp"
#include "varlearn/dequant/unrolled.hpp"

namespace varlearn::study {
namespace fs = std::filesystem;
using dequant::DequantFrames;

void DequantOptions::validate() const {
  const char* w = "study dequant";
  require(!bits.empty(), w, "no bit depth given (--bits)");
  for (int b : bits) require(b >= 1 && b <= 24, w, "bit depth b = " + std::to_string(b) + " must be in [1, 24]");
  require(frame_length >= 2, w, "frame length n = " + std::to_string(frame_length) + " must be >= 2");
  for (int d : depths) require(d >= 1 && d <= 1000, w, "depth N = " + std::to_string(d) + " must be in [1, 1000]");
  require(std::set<int>(depths.begin(), depths.end()).size() == depths.size(), w, "repeated depth in --depths");
  require(std::set<int>(bits.begin(), bits.end()).size() == bits.size(), w, "repeated bit depth in --bits");
  require(!methods.empty(), w, "no method given (--methods)");
  for (const auto& m : methods)
    require(m == "quantized" || m == "classic" || m == "learned", w,
            "unknown method '" + m + "' (quantized, classic, learned)");
  const bool needs_depth = std::find(methods.begin(), methods.end(), "learned") != methods.end();
  require(!needs_depth || !depths.empty(), w, "the learned method needs at least one depth N (--depths)");
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
    if (o.bits == def.bits) o.bits = {4};
    if (o.depths == def.depths) o.depths = {1, 5};
    if (o.train_steps == def.train_steps) o.train_steps = 1500;
    if (o.max_train_frames == def.max_train_frames) o.max_train_frames = 3000;
  }
  if (std::find(o.bits.begin(), o.bits.end(), o.example_bits) == o.bits.end()) o.example_bits = o.bits.front();
  return o;
}

std::optional<double> DequantResults::best_classic_snr(int bits) const {
  std::optional<double> best;
  for (const auto& e : entries)
    if (e.method == "classic" && e.bits == bits && (!best || e.snr_db > *best)) best = e.snr_db;
  return best;
}

std::optional<double> DequantResults::snr(const std::string& method, int bits, std::optional<int> depth) const {
  for (const auto& e : entries)
    if (e.method == method && e.bits == bits && e.depth == depth) return e.snr_db;
  return std::nullopt;
}

namespace {

bool has(const std::vector<std::string>& v, const char* s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// Pooled SNR of frame estimates against clean frames.
double frames_snr(const Matrix& clean, const Matrix& est) {
  return 10.0 * std::log10(clean.squaredNorm() / std::max((est - clean).squaredNorm(), 1e-300));
}

struct Evaluation {
  double snr = 0, segsnr = 0, violation = 0;
  std::vector<Vector> outputs;
};

Evaluation evaluate(const std::vector<Vector>& clean, const std::vector<dequant::QuantizedSignal>& qs,
                    const dequant::FramingOptions& framing, int rate, const dequant::FrameMethod& method) {
  audio::SnrAccumulator acc(rate);
  Evaluation ev;
  for (size_t i = 0; i < clean.size(); ++i) {
    Vector out = dequant::dequantize_signal(qs[i], framing, method);
    acc.add(clean[i], out);
    ev.violation = std::max(ev.violation, std::max((qs[i].lower - out).maxCoeff(), (out - qs[i].upper).maxCoeff()));
    ev.outputs.push_back(std::move(out));
  }
  ev.violation = std::max(ev.violation, 0.0);
  ev.snr = acc.snr_db();
  ev.segsnr = acc.segsnr_db();
  return ev;
}

// Classic CP with fixed budget: for each tau in the grid, run up to max N once on the tuning
// frames, score K x^N (with and without projection) at each N; best (tau, projection) per N.
struct ClassicChoice {
  double tau = 1, train_snr = -1e300;
  bool project = false;
};
std::map<int, ClassicChoice> tune_classic(const DequantFrames& f, const std::vector<int>& depths,
                                          const std::vector<double>& taus) {
  const Index n = f.clean.rows();
  const Matrix c = dequant::dct_matrix<double>(n);
  const Matrix k = c.transpose();
  const int nmax = *std::max_element(depths.begin(), depths.end());
  std::map<int, ClassicChoice> best;
  for (int d : depths) best[d] = {};
  for (double tau : taus) {
    dequant::CpState<double> st;
    st.x = c * f.quantized;
    st.xbar = st.x;
    st.y = Matrix::Zero(n, f.size());
    st.work.resize(n, f.size());
    for (int it = 1; it <= nmax; ++it) {
      dequant::cp_iteration<double>(k, f.lower, f.upper, tau, 1.0 / tau, st);
      if (!best.count(it)) continue;
      const Matrix out = k * st.x;
      const double s0 = frames_snr(f.clean, out);
      const double s1 = frames_snr(f.clean, out.cwiseMax(f.lower).cwiseMin(f.upper));
      auto& b = best[it];
      if (s0 > b.train_snr) b = {tau, s0, false};
      if (s1 > b.train_snr) b = {tau, s1, true};
    }
  }
  return best;
}

DequantFrames subsample(const DequantFrames& f, Index max_frames, std::uint64_t seed) {
  if (f.size() <= max_frames) return f;
  std::vector<Index> idx(f.size());
  std::iota(idx.begin(), idx.end(), Index{0});
  std::mt19937_64 rng(seed);
  std::shuffle(idx.begin(), idx.end(), rng);
  idx.resize(max_frames);
  std::sort(idx.begin(), idx.end());
  DequantFrames out;
  out.clean.resize(f.clean.rows(), max_frames);
  out.quantized.resizeLike(out.clean);
  out.lower.resizeLike(out.clean);
  out.upper.resizeLike(out.clean);
  for (Index j = 0; j < max_frames; ++j) {
    out.clean.col(j) = f.clean.col(idx[j]);
    out.quantized.col(j) = f.quantized.col(idx[j]);
    out.lower.col(j) = f.lower.col(idx[j]);
    out.upper.col(j) = f.upper.col(idx[j]);
  }
  return out;
}

}  // namespace

DequantResults run_dequant_study(const DequantOptions& options_in, const Progress& progress) {
  const Stopwatch t0;
  const DequantOptions opt = options_in.resolved();
  opt.validate();
  const ScopedThreads threads(1);  // small GEMMs: one thread (see CpOptions::threads)
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  DequantResults res;
  res.options = opt;

  // Corpus: every input read and checked before any work.
  audio::CorpusSpec spec;
  audio::ReadOptions ro;
  if (opt.train_files.empty() && opt.test_files.empty()) {
    spec = audio::default_corpus(opt.quick);
    ro.rate = 8000;
  } else {
    require(!opt.train_files.empty() && !opt.test_files.empty(), "study dequant",
            "give both --train and --test files (or neither for the codec2 corpus)");
    spec.train = opt.train_files;
    spec.test = opt.test_files;
  }
  say("dequant: reading " + std::to_string(spec.train.size()) + " training and " + std::to_string(spec.test.size()) +
      " test files");
  audio::LoadedCorpus corpus = audio::load_corpus(spec, ro);
  res.rate = corpus.rate;
  std::vector<Vector> train, test;
  auto prepare = [&](std::vector<audio::Signal>& sigs, std::vector<Vector>& out, std::vector<std::string>& names) {
    for (auto& s : sigs) {
      Vector x = std::move(s.samples);
      if (opt.peak > 0) {
        const double m = x.cwiseAbs().maxCoeff();
        if (m > 0) x *= opt.peak / m;
      }
      res.clipped_samples += audio::clip_to_unit(x);
      names.push_back(s.source);
      out.push_back(std::move(x));
    }
  };
  prepare(corpus.train, train, res.train_files);
  prepare(corpus.test, test, res.test_files);
  for (size_t i = 0; i < test.size(); ++i)
    require(test[i].size() >= opt.frame_length, "study dequant",
            "test file '" + res.test_files[i] + "' (" + std::to_string(test[i].size()) +
                " samples) is shorter than one frame (n = " + std::to_string(opt.frame_length) + ")");
  for (const auto& x : test) res.test_samples += x.size();
  res.example_file = res.test_files.front();

  const dequant::FramingOptions framing{opt.frame_length, opt.half_overlap};
  const bool run_q = has(opt.methods, "quantized"), run_c = has(opt.methods, "classic"),
             run_l = has(opt.methods, "learned");
  for (int bits : opt.bits) {
    const audio::Quantizer q(bits, opt.quantizer);
    const Stopwatch tb;
    std::vector<dequant::QuantizedSignal> qs;
    for (const auto& x : test) qs.push_back(dequant::quantize_signal(x, q));
    const DequantFrames all_train = dequant::make_frames(train, q, framing);
    const DequantFrames tr = subsample(all_train, opt.max_train_frames, opt.seed + bits);
    res.train_frames = tr.size();
    const bool example = bits == opt.example_bits && opt.write_audio;
    if (example) {
      res.examples.push_back({"example_clean.wav", test.front()});
      res.examples.push_back({"example_quantized.wav", qs.front().quantized});
    }

    if (run_q) {
      const Stopwatch t;
      auto ev = evaluate(test, qs, framing, res.rate, [](const Matrix& s, const Matrix&, const Matrix&) { return s; });
      DequantEntry e{"quantized", bits, std::nullopt, ev.snr, ev.segsnr, frames_snr(tr.clean, tr.quantized)};
      e.projected = true;
      e.max_cell_violation = ev.violation;
      e.seconds = t.seconds();
      res.entries.push_back(e);
      say("dequant: b = " + std::to_string(bits) + " quantized: SNR " + format_fixed(e.snr_db, 2) + " dB, segSNR " +
          format_fixed(e.segsnr_db, 2) + " dB");
    }

    std::map<int, dequant::CpOptions> classic_choice;
    if (run_c || run_l) {
      const Stopwatch t;
      const DequantFrames tune = subsample(tr, std::min<Index>(tr.size(), 4000), opt.seed + 100 + bits);
      const auto best = opt.depths.empty() ? std::map<int, ClassicChoice>{} : tune_classic(tune, opt.depths, opt.tau_grid);
      const double tune_s = t.seconds();
      for (int d : opt.depths) {
        dequant::CpOptions co;
        co.tau = best.at(d).tau;
        co.sigma = 1.0 / co.tau;
        co.max_iterations = d;
        co.gap_tolerance = 0;
        co.project_output = best.at(d).project;
        classic_choice[d] = co;
        if (!run_c) continue;
        const Stopwatch te;
        auto ev = evaluate(test, qs, framing, res.rate, [&](const Matrix& s, const Matrix& l, const Matrix& u) {
          return dequant::solve_l1_dequant(s, l, u, co).signal;
        });
        DequantEntry e{"classic", bits, d, ev.snr, ev.segsnr, best.at(d).train_snr};
        e.tau = co.tau;
        e.sigma = co.sigma;
        e.projected = co.project_output;
        e.iterations = d;
        e.max_cell_violation = ev.violation;
        e.seconds = te.seconds() + tune_s / opt.depths.size();
        res.entries.push_back(e);
        say("dequant: b = " + std::to_string(bits) + " classic N = " + std::to_string(d) + " (tau " + format_fixed(co.tau, 3) +
            (co.project_output ? ", projected" : "") + "): SNR " + format_fixed(e.snr_db, 2) + " dB");
      }
    }

    if (run_c) {
      const Stopwatch t;
      dequant::CpOptions co;
      co.tau = 0.3;  // any tau*sigma = 1 converges; this one was fastest on speech at 4 bits
      co.sigma = 1.0 / 0.3;
      co.gap_tolerance = opt.converged_rel_gap;
      co.max_iterations = opt.converged_max_iter;
      co.check_every = 20;
      co.project_output = true;
      int iters = 0;
      double gap = 0;
      auto ev = evaluate(test, qs, framing, res.rate, [&](const Matrix& s, const Matrix& l, const Matrix& u) {
        auto r = dequant::solve_l1_dequant(s, l, u, co);
        iters = std::max(iters, r.iterations());
        gap = std::max(gap, r.max_rel_gap);
        return r.signal;
      });
      DequantEntry e{"classic", bits, std::nullopt, ev.snr, ev.segsnr, 0.0};
      e.tau = co.tau;
      e.sigma = co.sigma;
      e.projected = true;
      e.iterations = iters;
      e.max_rel_gap = gap;
      e.max_cell_violation = ev.violation;
      e.seconds = t.seconds();
      res.entries.push_back(e);
      if (example) res.examples.push_back({"example_classic.wav", ev.outputs.front()});
      say("dequant: b = " + std::to_string(bits) + " classic converged (" + std::to_string(iters) +
          " iterations, rel gap " + format_fixed(gap * 1e6, 1) + "e-6): SNR " + format_fixed(e.snr_db, 2) + " dB, segSNR " +
          format_fixed(e.segsnr_db, 2) + " dB");
    }

    if (run_l) {
      const int example_depth =
          std::find(opt.depths.begin(), opt.depths.end(), 5) != opt.depths.end() ? 5 : opt.depths.back();
      for (int d : opt.depths) {
        const Stopwatch t;
        dequant::UnrolledSpec us;
        us.n = opt.frame_length;
        us.depth = d;
        us.sharing = opt.per_iteration_stepsizes ? dequant::StepsizeSharing::PerIteration
                                                 : dequant::StepsizeSharing::Shared;
        us.project_output = opt.project_learned;
        const auto& cc = classic_choice.at(d);
        const Vector theta0 = dequant::initial_parameters<double>(us, cc.tau, cc.sigma);
        dequant::UnrolledTrainOptions to;
        // Deeper networks amplify a change of K over N iterations: eta_N = eta * min(1, 5/N).
        to.adam.learning_rate = opt.learning_rate * std::min(1.0, 5.0 / d);
        to.adam.max_iterations = opt.train_steps;
        to.adam.decay = 0.5;
        to.adam.decay_every = std::max(1, opt.train_steps / 4);
        to.batch_size = opt.batch_size;
        to.seed = opt.seed + 1000 * bits + d;
        const int report_every = std::max(1, opt.train_steps / 4);
        auto tr_res = dequant::train_unrolled(us, theta0, tr, to, [&](const optim::Progress& p) {
          const int step = p.iteration;
          const double loss = p.loss;
          if (step % report_every == 0)
            say("dequant: b = " + std::to_string(bits) + " learned N = " + std::to_string(d) + ": step " +
                std::to_string(step) + "/" + std::to_string(opt.train_steps) + ", batch MSE " + format_fixed(loss * 1e4, 3) +
                "e-4");
          return true;
        });
        auto ev = evaluate(test, qs, framing, res.rate, [&](const Matrix& s, const Matrix& l, const Matrix& u) {
          return dequant::unrolled_forward<double>(us, tr_res.theta, s, l, u);
        });
        const double train_energy = tr.clean.squaredNorm() / static_cast<double>(tr.clean.size());
        DequantEntry e{"learned", bits, d, ev.snr, ev.segsnr,
                       10.0 * std::log10(train_energy / std::max(tr_res.final_loss, 1e-300))};
        const auto p = dequant::unpack(us, tr_res.theta);
        e.tau = std::accumulate(p.tau.begin(), p.tau.end(), 0.0) / p.tau.size();
        e.sigma = std::accumulate(p.sigma.begin(), p.sigma.end(), 0.0) / p.sigma.size();
        e.projected = us.project_output;
        e.iterations = tr_res.optim.iterations;
        e.max_cell_violation = ev.violation;
        e.seconds = t.seconds();
        res.entries.push_back(e);
        if (example && d == example_depth) res.examples.push_back({"example_learned.wav", ev.outputs.front()});
        say("dequant: b = " + std::to_string(bits) + " learned N = " + std::to_string(d) + ": SNR " + format_fixed(e.snr_db, 2) +
            " dB (train " + format_fixed(e.train_snr_db, 2) + " dB), " + format_fixed(e.seconds, 1) + " s");
      }
    }
    say("dequant: b = " + std::to_string(bits) + " done in " + format_fixed(tb.seconds(), 1) + " s");
  }
  res.seconds = t0.seconds();
  return res;
}

// ---------------------------------------------------------------- outputs

namespace {

nlohmann::json to_json(const DequantResults& r) {
  nlohmann::json j;
  j["study"] = "dequant";
  j["rate"] = r.rate;
  j["frame_length"] = r.options.frame_length;
  j["half_overlap"] = r.options.half_overlap;
  j["quantizer"] = audio::to_string(r.options.quantizer);
  j["peak"] = r.options.peak;
  j["quick"] = r.options.quick;
  j["train_files"] = r.train_files;
  j["test_files"] = r.test_files;
  j["train_frames"] = r.train_frames;
  j["test_samples"] = r.test_samples;
  j["clipped_samples"] = r.clipped_samples;
  j["train_steps"] = r.options.train_steps;
  j["seconds"] = r.seconds;
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& e : r.entries) {
    nlohmann::json x;
    x["method"] = e.method;
    x["bits"] = e.bits;
    x["depth"] = e.depth ? nlohmann::json(*e.depth) : nlohmann::json(nullptr);
    x["snr_db"] = e.snr_db;
    x["segsnr_db"] = e.segsnr_db;
    x["train_snr_db"] = e.train_snr_db;
    x["tau"] = e.tau;
    x["sigma"] = e.sigma;
    x["projected"] = e.projected;
    x["iterations"] = e.iterations;
    x["max_rel_gap"] = e.max_rel_gap;
    x["max_cell_violation"] = e.max_cell_violation;
    x["seconds"] = e.seconds;
    entries.push_back(x);
  }
  j["entries"] = entries;
  nlohmann::json head = nlohmann::json::object();
  for (int b : r.options.bits) {
    auto l5 = r.snr("learned", b, 5);
    auto bc = r.best_classic_snr(b);
    if (l5 && bc) head[std::to_string(b)] = {{"learned_n5_snr_db", *l5}, {"best_classic_snr_db", *bc}, {"margin_db", *l5 - *bc}};
  }
  j["learned_n5_vs_best_classic"] = head;
  return j;
}

std::string depth_str(const std::optional<int>& d) { return d ? std::to_string(*d) : std::string("conv"); }

}  // namespace

std::string dequant_summary_markdown(const DequantResults& r) {
  std::ostringstream md;
  md << "Test SNR / segmental SNR in dB (" << r.test_files.size() << " test files, " << r.test_samples
     << " samples at " << r.rate << " Hz; n = " << r.options.frame_length
     << (r.options.half_overlap ? ", half-overlapping frames" : ", non-overlapping frames") << ", "
     << audio::to_string(r.options.quantizer) << " quantizer). `conv`: classic l1 solved to a certified relative "
     << "duality gap of " << r.options.converged_rel_gap << "; classic N: N Chambolle–Pock iterations, tau (sigma = 1/tau) "
     << "and projection tuned on training frames; learned N: unrolled network trained with Adam ("
     << r.options.train_steps << " steps).\n\n";
  md << "| bits | method | N | SNR | segSNR | tau | projected |\n|---:|---|---:|---:|---:|---:|:-:|\n";
  for (const auto& e : r.entries)
    md << "| " << e.bits << " | " << e.method << " | " << (e.method == "quantized" ? "-" : depth_str(e.depth)) << " | "
       << format_fixed(e.snr_db, 2) << " | " << format_fixed(e.segsnr_db, 2) << " | " << (e.method == "quantized" ? "-" : format_fixed(e.tau, 3)) << " | "
       << (e.projected ? "yes" : "no") << " |\n";
  md << "\n";
  for (int b : r.options.bits) {
    auto l5 = r.snr("learned", b, 5);
    auto bc = r.best_classic_snr(b);
    if (l5 && bc)
      md << "- " << b << " bits: learned N = 5 " << format_fixed(*l5, 2) << " dB vs best classic " << format_fixed(*bc, 2) << " dB: margin **"
         << format_fixed(*l5 - *bc, 2) << " dB**.\n";
    auto qz = r.snr("quantized", b, std::nullopt);
    auto cv = r.snr("classic", b, std::nullopt);
    if (qz && cv)
      md << "- " << b << " bits: converged l1 " << format_fixed(*cv, 2) << " dB vs quantized " << format_fixed(*qz, 2) << " dB ("
         << (*cv < *qz ? "the l1 solution loses to the quantized signal" : "l1 improves") << ").\n";
  }
  return md.str();
}

std::vector<fs::path> write_dequant_outputs(const DequantResults& r, const fs::path& dir) {
  io::ensure_writable_dir(dir);
  std::vector<fs::path> written;
  io::write_atomic(dir / "results.json", to_json(r).dump(2) + "\n");
  written.push_back(dir / "results.json");
  std::ostringstream csv;
  csv << std::setprecision(10)
      << "method,bits,depth,snr_db,segsnr_db,train_snr_db,tau,sigma,projected,iterations,max_rel_gap,max_cell_violation,"
         "seconds\n";
  for (const auto& e : r.entries)
    csv << e.method << ',' << e.bits << ',' << (e.depth ? std::to_string(*e.depth) : "") << ',' << e.snr_db << ','
        << e.segsnr_db << ',' << e.train_snr_db << ',' << e.tau << ',' << e.sigma << ',' << (e.projected ? 1 : 0) << ','
        << e.iterations << ',' << e.max_rel_gap << ',' << e.max_cell_violation << ',' << e.seconds << '\n';
  io::write_atomic(dir / "results.csv", csv.str());
  written.push_back(dir / "results.csv");
  io::write_atomic(dir / "summary.md", "# Speech dequantization\n\n" + dequant_summary_markdown(r));
  written.push_back(dir / "summary.md");

  // Figures: SNR vs N per bit depth; SNR vs bits.
  for (int b : r.options.bits) {
    std::ostringstream cl, le, hl;
    bool any = false;
    for (const auto& e : r.entries) {
      if (e.bits != b) continue;
      if (e.depth && e.method == "classic") cl << *e.depth << ' ' << e.snr_db << '\n', any = true;
      if (e.depth && e.method == "learned") le << *e.depth << ' ' << e.snr_db << '\n', any = true;
    }
    if (!any) continue;
    auto qz = r.snr("quantized", b, std::nullopt);
    auto cv = r.snr("classic", b, std::nullopt);
    std::ostringstream gp;
    gp << "$classic << EOD\n" << cl.str() << "EOD\n$learned << EOD\n" << le.str() << "EOD\n";
    gp << "set title 'Speech dequantization, " << b << " bits, n = " << r.options.frame_length << "'\n"
       << "set xlabel 'depth N (Chambolle-Pock iterations)'\nset ylabel 'test SNR (dB)'\nset logscale x\n"
       << "set xrange [0.8:30]\nset key outside below\nset grid\n";
    gp << "plot $classic using 1:2 with linespoints lw 2 pt 7 title 'classic (tuned tau, N iterations)', "
       << "$learned using 1:2 with linespoints lw 2 pt 5 title 'learned (unrolled)'";
    if (qz) gp << ", " << *qz << " with lines dt 2 lw 2 title 'quantized'";
    if (cv) gp << ", " << *cv << " with lines dt 3 lw 2 title 'classic converged'";
    gp << "\n";
    const fs::path prefix = dir / ("snr_vs_depth_" + std::to_string(b) + "bit");
    write_figure(prefix, gp.str());
    written.push_back(prefix.string() + ".png");
    written.push_back(prefix.string() + ".svg");
  }
  {
    std::ostringstream gp;
    std::vector<std::pair<std::string, std::string>> series = {
        {"quantized", "quantized"}, {"classic_conv", "classic converged"}, {"classic_best", "classic best fixed N"},
        {"learned_best", "learned best N"}};
    std::map<std::string, std::ostringstream> data;
    for (int b : r.options.bits) {
      std::optional<double> qz = r.snr("quantized", b, std::nullopt), cv = r.snr("classic", b, std::nullopt), cb, lb;
      for (const auto& e : r.entries) {
        if (e.bits != b || !e.depth) continue;
        if (e.method == "classic" && (!cb || e.snr_db > *cb)) cb = e.snr_db;
        if (e.method == "learned" && (!lb || e.snr_db > *lb)) lb = e.snr_db;
      }
      if (qz) data["quantized"] << b << ' ' << *qz << '\n';
      if (cv) data["classic_conv"] << b << ' ' << *cv << '\n';
      if (cb) data["classic_best"] << b << ' ' << *cb << '\n';
      if (lb) data["learned_best"] << b << ' ' << *lb << '\n';
    }
    std::string plot;
    for (const auto& [key, title] : series) {
      if (data[key].str().empty()) continue;
      gp << "$" << key << " << EOD\n" << data[key].str() << "EOD\n";
      plot += (plot.empty() ? "plot " : ", ") + ("$" + key) + " using 1:2 with linespoints lw 2 title " + gp_quote(title);
    }
    if (!plot.empty()) {
      gp << "set title 'Speech dequantization: test SNR vs bit depth (n = " << r.options.frame_length << ")'\n"
         << "set xlabel 'bits b'\nset ylabel 'test SNR (dB)'\nset key top left\nset grid\nset xtics 1\n"
         << plot << "\n";
      write_figure(dir / "snr_vs_bits", gp.str());
      written.push_back(dir / "snr_vs_bits.png");
      written.push_back(dir / "snr_vs_bits.svg");
    }
  }
  for (const auto& [name, sig] : r.examples) {
    audio::write_wav(dir / name, sig, r.rate);
    written.push_back(dir / name);
  }
  return written;
}

}  // namespace varlearn::study
