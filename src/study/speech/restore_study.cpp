// Speech restoration study: options, the regularizers, the run (with the journal), the
// outputs (results.json / results.csv / WAVs / filters) and the summary table.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <set>
#include <sstream>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/parallel.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/dist/dist.hpp"
#include "varlearn/study/restore_pipeline.hpp"
#include "varlearn/study/restore_study.hpp"
#include "exchange.hpp"

namespace varlearn::study {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
using exchange::from_text;
using exchange::to_text;
using exchange::vec_from;
using exchange::vec_json;

[[noreturn]] void bad(const std::string& flag, const std::string& why) { throw Error(flag + ": " + why); }

json opt(const std::optional<double>& v) { return v && std::isfinite(*v) ? json(*v) : json(nullptr); }
std::optional<double> opt_from(const json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<double>();
}

json extra_json(const RestoreConfig& c) {
  json a = json::array();
  for (const auto& x : c.extra_tests)
    a.push_back({{"name", x.name}, {"test_mse", opt(x.test_mse)}, {"test_snr_db", opt(x.test_snr_db)}});
  return a;
}

json config_entry(const RestoreConfig& c) {
  return {{"regularizer", c.regularizer},   {"method", c.method},
          {"depth", c.depth},               {"stepsize_mode", c.stepsize_mode},
          {"stepsize", c.stepsize},         {"train_loss", opt(c.train_loss)},
          {"validation_mse", opt(c.validation_mse)}, {"test_mse", opt(c.test_mse)},
          {"test_snr_db", opt(c.test_snr_db)}, {"exact_test_mse", opt(c.exact_test_mse)},
          {"iterations", c.iterations},     {"seconds", c.seconds},
          {"status", c.status},             {"message", c.message},
          {"alpha", vec_json(c.alpha)},             {"extra_tests", extra_json(c)}};
}
RestoreConfig config_from(const json& j) {
  RestoreConfig c;
  c.regularizer = j.at("regularizer");
  c.method = j.at("method");
  c.depth = j.at("depth");
  c.stepsize_mode = j.at("stepsize_mode");
  c.stepsize = j.at("stepsize");
  c.train_loss = opt_from(j.at("train_loss"));
  c.validation_mse = opt_from(j.at("validation_mse"));
  c.test_mse = opt_from(j.at("test_mse"));
  c.test_snr_db = opt_from(j.at("test_snr_db"));
  c.exact_test_mse = opt_from(j.at("exact_test_mse"));
  c.iterations = j.at("iterations");
  c.seconds = j.at("seconds");
  c.status = j.at("status");
  c.message = j.at("message");
  c.alpha = vec_from(j.at("alpha"));
  for (const json& x : j.value("extra_tests", json::array()))
    c.extra_tests.push_back({x.at("name"), opt_from(x.at("test_mse")), opt_from(x.at("test_snr_db"))});
  return c;
}

// Under mpirun: a configuration's numbers and theta as sent between ranks, exact (CBOR keeps
// every double's bits, NaN and infinities included); the demo signal stays where it is.
json record_json(size_t index, const RestoreConfig& c) {
  return {{"index", index}, {"entry", config_entry(c)}, {"theta", vec_json(c.theta)}};
}
void set_record(std::vector<RestoreConfig>& configs, size_t count, const json& r) {
  const size_t i = r.at("index").get<size_t>();
  if (i >= count) throw Error("study restore: a configuration from another rank is not in the list", Error::Kind::Internal);
  Vector demo = std::move(configs[i].demo);
  configs[i] = config_from(r.at("entry"));
  configs[i].theta = vec_from(r.at("theta"));
  configs[i].demo = std::move(demo);
}

// Relative cost for the largest-first order: a bilevel run (a lower-level solve per Adam step)
// costs about as much as unrolling 40 steps; an unrolled one grows with its depth.
double job_cost(const restore::Job& j) {
  return j.method == general::LearningMethod::Bilevel ? 40.0 : double(j.depth) + (j.fixed ? 0.0 : 2.0);
}

std::string fmt(const std::optional<double>& v, int decimals) {
  return v && std::isfinite(*v) ? format_fixed(*v, decimals) : std::string("-");
}
}  // namespace

const std::vector<std::string>& restore_regularizer_names() {
  static const std::vector<std::string> names{"quadratic", "tv", "analysis", "analysis-student", "foe"};
  return names;
}

general::RegularizerSpec restore_regularizer_spec(const std::string& name, double signal_rms) {
  general::RegularizerSpec s;
  if (name == "quadratic") {
    s.kind = "quadratic";
    s.init = "differences";
  } else if (name == "tv") {
    s.kind = "tv";
    s.potential = "charbonnier";
  } else if (name == "analysis" || name == "analysis-student") {
    s.kind = "analysis";
    s.init = "dct";
    s.potential = name == "analysis" ? "huber" : "student";
  } else if (name == "foe") {
    s.kind = "foe";
    s.potential = "charbonnier";
  } else {
    throw Error("--regularizers: unknown regularizer " + quote_for_message(name) +
                " (quadratic, tv, analysis, analysis-student, foe)");
  }
  if (s.kind != "quadratic") {
    s.weight = kRestoreWeight;
    // student's curvature at 0 is 2a/eps^2 (huber's: a/eps): a 4x wider eps keeps its safe
    // stepsize ~0.05 instead of ~0.004 (with eps = 0.25 RMS an unrolled run at huber's
    // stepsize diverged: test -9 dB).
    const double rel = s.potential == "student" ? kRestoreStudentRelativeEpsilon : kRestoreRelativeEpsilon;
    if (signal_rms > 0 && std::isfinite(signal_rms)) s.epsilon = rel * signal_rms;
  }
  return s;
}

std::string RestoreConfig::name() const {
  std::string s = regularizer + "_" + method;
  if (method == "unrolled") s += std::string("_N") + std::to_string(depth) + (stepsize_mode == "fixed" ? "_fixed" : "");
  return s;
}

void RestoreOptions::validate() const {
  if (task != "denoise" && task != "inpaint") bad("--task", "must be denoise or inpaint, not " + quote_for_message(task));
  if (!(sigma >= 0) || !std::isfinite(sigma) || sigma > 10) bad("--sigma", "must be > 0 and <= 10");
  if (!(missing > 0) || !(missing < 1)) bad("--missing", "must be in (0, 1)");
  if (burst < 1) bad("--burst", "must be >= 1");
  std::set<std::string> seen;
  for (const auto& r : regularizers) {
    restore_regularizer_spec(r);
    if (!seen.insert(r).second) bad("--regularizers", "repeated " + quote_for_message(r));
  }
  if (methods.empty()) bad("--methods", "give bilevel, unrolled or both");
  std::set<std::string> ms;
  for (const auto& m : methods) {
    if (m != "bilevel" && m != "unrolled") bad("--methods", "unknown method " + quote_for_message(m) + " (bilevel, unrolled)");
    if (!ms.insert(m).second) bad("--methods", "repeated " + quote_for_message(m));
  }
  std::set<int> ds;
  for (int d : depths) {
    if (d < 1 || d > kMaxDepth) bad("--depths", std::string("each depth must be in 1..") + std::to_string(kMaxDepth));
    if (!ds.insert(d).second) bad("--depths", std::string("repeated depth ") + std::to_string(d));
  }
  if (train_files.empty() != test_files.empty()) bad("--train", "give --train and --test together (or neither)");
  if (n != 0 && n < 4) bad("--n", "must be >= 4");
  const Index nn = n != 0 ? n : (quick ? kQuickFrameLength : kDefaultFrameLength);
  if (hop != 0 && (hop < 1 || hop > nn)) bad("--hop", "must be in 1..n");
  if (steps < 0) bad("--steps", "must be >= 0 (0 = default)");
  if (!(learning_rate > 0) || !(learning_rate <= 1)) bad("--lr", "must be in (0, 1]");
  if (patience < 0) bad("--patience", "must be >= 0");
  if (!(test_seconds >= 0) || !std::isfinite(test_seconds)) bad("--test-seconds", "must be >= 0 (0 = no cap)");
  if (rate < 0) bad("rate", "must be >= 0 (0 = the files' own rate)");
  for (const auto& t : extra_tests)
    if (t.name.empty() || t.files.empty()) bad("--corpus", "a further test set needs a name and files");
  if (!fixed_control.empty() && fixed_control != "none") restore_regularizer_spec(fixed_control);
  if (task == "inpaint") {
    ops::MaskOptions m;
    m.kind = ops::MaskKind::Burst;
    m.missing_probability = missing;
    m.burst_length = burst;
    try {
      m.validate(nn);
    } catch (const Error& e) {
      bad("--burst", std::string("bursts do not fit a frame of n = ") + std::to_string(nn) + ": " + e.what());
    }
  }
}

RestoreOptions RestoreOptions::resolved() const {
  RestoreOptions o = *this;
  if (o.sigma == 0) o.sigma = o.inpaint() ? kInpaintSigma : kDenoiseSigma;
  if (o.n == 0) o.n = o.quick ? kQuickFrameLength : kDefaultFrameLength;
  if (o.hop == 0) o.hop = std::max<Index>(1, o.n / 2);
  if (o.steps == 0) o.steps = o.quick ? kQuickSteps : kDefaultSteps;
  if (o.regularizers.empty())
    o.regularizers = o.quick ? std::vector<std::string>{"tv", "analysis"} : restore_regularizer_names();
  if (o.depths.empty()) o.depths = o.quick ? std::vector<int>{1, 3, 10} : std::vector<int>{1, 2, 3, 5, 10, 20, 50};
  std::sort(o.depths.begin(), o.depths.end());
  if (o.fixed_control.empty())
    o.fixed_control =
        std::find(o.regularizers.begin(), o.regularizers.end(), "analysis") != o.regularizers.end() ? "analysis" : "none";
  if (o.inpaint() && o.burst > o.n) o.burst = o.n;
  return o;
}

json restore_fingerprint(const RestoreOptions& options) {
  const RestoreOptions o = options.resolved();
  json extra = json::array();
  for (const auto& t : o.extra_tests) extra.push_back({{"name", t.name}, {"files", input_fingerprint(t.files)}});
  return {{"study", "restore"}, {"task", o.task}, {"sigma", o.sigma}, {"missing", o.missing},
          {"burst", o.burst}, {"regularizers", o.regularizers}, {"methods", o.methods},
          {"depths", o.depths}, {"train_files", input_fingerprint(o.train_files)},
          {"test_files", input_fingerprint(o.test_files)}, {"n", o.n}, {"hop", o.hop},
          {"steps", o.steps}, {"seed", o.seed}, {"lr", o.learning_rate}, {"patience", o.patience}, {"quick", o.quick}, {"fixed_control", o.fixed_control},
          {"rate", o.rate}, {"test_seconds", o.test_seconds}, {"extra_tests", extra}};
}

RestoreResults run_restore_study(const RestoreOptions& options_in, const Log& log, const Journal& journal) {
  using namespace restore;
  const Stopwatch clock;
  options_in.validate();
  const RestoreOptions o = options_in.resolved();
  RestoreResults res;
  res.options = o;
  const Data d = make_data(load_signals(o, log), o);  // (the whole signals are not kept)
  res.rate = d.rate;
  res.train_files = d.train_files, res.test_files = d.test_files;
  res.train_frames = d.fit.cols(), res.validation_frames = d.validation.cols(), res.test_frames = d.test_g.cols();
  res.signal_rms = d.signal_rms;
  if (log)
    log(o.task + ": n = " + std::to_string(o.n) + ", hop " + std::to_string(o.hop) + ", sigma " +
        format_general(o.sigma) + ", " + std::to_string(d.fit.cols()) + " training + " +
        std::to_string(d.validation.cols()) + " held-out frames, " + std::to_string(d.test_g.cols()) + " test frames");

  const Linear lin = linear_baselines(d, o.seed);
  res.noisy_mse = lin.noisy.mse, res.noisy_snr_db = lin.noisy.snr_db;
  res.linear_mse = lin.linear.mse, res.linear_snr_db = lin.linear.snr_db;
  res.demo_file = d.test_files.front();
  res.demo_clean = d.test_clean.front();
  res.demo_degraded = d.test_degraded.front();
  res.demo_linear.push_back({o.inpaint() ? "linear_lmmse.wav" : "linear_wiener.wav", lin.linear_signals.front()});
  if (o.inpaint()) {
    res.zero_fill_mse = lin.zero_fill.mse, res.zero_fill_snr_db = lin.zero_fill.snr_db;
    res.linear_local_mse = lin.local.mse, res.linear_local_snr_db = lin.local.snr_db;
    res.linear_local_width = lin.local_width;
    res.demo_linear.push_back({"linear_local.wav", lin.local_signals.front()});
  }
  for (const Data& e : d.extra_tests) {
    const Linear le = linear_baselines_at(e, lin.local_width);
    RestoreExtraTest x;
    x.name = e.name;
    x.files = e.test_files;
    x.frames = e.test_g.cols();
    x.noisy_mse = le.noisy.mse, x.noisy_snr_db = le.noisy.snr_db;
    x.linear_mse = le.linear.mse, x.linear_snr_db = le.linear.snr_db;
    if (o.inpaint()) {
      x.zero_fill_mse = le.zero_fill.mse, x.zero_fill_snr_db = le.zero_fill.snr_db;
      x.linear_local_mse = le.local.mse, x.linear_local_snr_db = le.local.snr_db;
    }
    if (log)
      log("test set " + e.name + ": " + std::to_string(x.frames) + " frames, no restoration " +
          format_fixed(x.noisy_snr_db, 2) + " dB, linear " + format_fixed(x.linear_snr_db, 2) + " dB");
    res.extra_tests.push_back(std::move(x));
  }
  if (log)
    log(std::string("baselines: no restoration ") + format_fixed(res.noisy_snr_db, 2) + " dB, linear " +
        format_fixed(res.linear_snr_db, 2) + " dB" +
        (o.inpaint() ? std::string(", local linear (w = ") + format_general(lin.local_width) + ") " +
                           format_fixed(lin.local.snr_db, 2) + " dB"
                     : std::string()));

  // Every configuration is independent and seeded by the study's seed and itself, never by
  // the thread or rank that runs it: they run side by side, one thread each (largest first),
  // which keeps the cores busy without GEMM barriers on the small minibatches; the results do
  // not depend on the thread count. Under mpirun (docs/scale-out.md) rank 0 reads the journal
  // and tells every rank what is left; those configurations go to the ranks largest first,
  // onto the least loaded; rank 0 gathers the results (and alone writes the journal and OUT).
  const std::vector<Job> jobs = make_jobs(o);
  const std::string total = std::to_string(jobs.size());
  std::vector<RestoreConfig> configs(jobs.size());
  std::vector<size_t> todo;
  {
    json journaled = json::array();  // rank 0: {index, entry, theta} of each journaled configuration
    if (dist::is_root())
      for (size_t i = 0; i < jobs.size(); ++i) {
        const std::string key = jobs[i].key();
        if (auto rec = journal.find(key)) {
          configs[i] = config_from(*rec);
          configs[i].theta = journal.find_signal(key, "theta").value_or(Vector());
          configs[i].demo = journal.find_signal(key, "demo").value_or(Vector());
          journaled.push_back(record_json(i, configs[i]));
          if (log) log(std::string("[") + std::to_string(i + 1) + "/" + total + "] " + configs[i].name() + ": from the journal");
        }
      }
    std::string text = dist::size() > 1 ? to_text(journaled) : std::string();
    dist::broadcast(text);
    if (!dist::is_root()) journaled = from_text(text);
    std::vector<bool> done(jobs.size(), false);
    for (const json& r : journaled) {
      const size_t i = r.at("index").get<size_t>();
      if (!dist::is_root()) set_record(configs, jobs.size(), r);
      done[i] = true;
    }
    for (size_t i = 0; i < jobs.size(); ++i)
      if (!done[i]) todo.push_back(i);
  }
  std::stable_sort(todo.begin(), todo.end(), [&](size_t a, size_t b) { return job_cost(jobs[a]) > job_cost(jobs[b]); });
  std::vector<double> costs;
  for (size_t i : todo) costs.push_back(job_cost(jobs[i]));
  const std::vector<size_t> mine = dist::my_share(todo, costs);
  if (dist::size() > 1) {
    if (log)
      log(std::to_string(todo.size()) + " configurations to train over " + std::to_string(dist::size()) + " ranks, " +
          std::to_string(mine.size()) + " on rank 0");
  }
  const Log wlog = serialized_log(log);
  std::atomic<int> done{int(jobs.size() - todo.size())};
  parallel_for(
      Index(mine.size()),
      [&](Index t) {
        const size_t i = mine[size_t(t)];
        const std::string key = jobs[i].key();
        if (wlog) wlog(std::string("[start] ") + key.substr(4));
        RestoreConfig c = run_job(jobs[i], o, d, wlog);
        journal.record_signal(key, "theta", c.theta);
        journal.record_signal(key, "demo", c.demo);
        journal.record(key, config_entry(c));
        const std::string count = std::to_string(++done);  // (named: GCC 12 -Wrestrict on "lit" + string&&)
        if (wlog)
          wlog(std::string("[") + count + "/" + total + "] " + c.name() + ": test " + fmt(c.test_snr_db, 2) +
               " dB (linear " + format_fixed(res.linear_snr_db, 2) + "), train mse " +
               fmt(c.train_loss ? std::optional<double>(*c.train_loss * 1e4) : std::nullopt, 3) + "e-4, " +
               std::to_string(c.iterations) + " steps, " + c.status + ", " + format_fixed(c.seconds, 1) + " s");
        configs[i] = std::move(c);
      },
      Schedule::Dynamic, 1);
  if (dist::size() > 1) {
    // Every rank takes the others' numbers and theta (the bilevel ones' convergence below);
    // rank 0 alone takes the demo signals (the WAVs), then journals what the others trained.
    json sent = json::array(), demos = json::array();
    for (size_t i : mine) {
      sent.push_back(record_json(i, configs[i]));
      if (!dist::is_root()) demos.push_back({{"index", i}, {"demo", vec_json(configs[i].demo)}});
    }
    const std::vector<std::string> all = dist::all_gather(to_text(sent));
    const std::vector<std::string> all_demos = dist::gather(to_text(demos));
    for (int q = 0; q < dist::size(); ++q) {
      if (q == dist::rank()) continue;
      for (const json& r : from_text(all[size_t(q)])) set_record(configs, jobs.size(), r);
      if (dist::is_root())
        for (const json& r : from_text(all_demos[size_t(q)]))
          configs.at(r.at("index").get<size_t>()).demo = vec_from(r.at("demo"));
    }
    if (dist::is_root())
      for (size_t i : todo)
        if (std::find(mine.begin(), mine.end(), i) == mine.end()) {
          const std::string key = jobs[i].key();
          journal.record_signal(key, "theta", configs[i].theta);
          journal.record_signal(key, "demo", configs[i].demo);
          journal.record(key, config_entry(configs[i]));
        }
  }

  // 2(b) for the bilevel models (journaled ones too), side by side (under mpirun: spread over
  // the ranks, gathered by rank 0).
  std::vector<size_t> bilevel;
  for (size_t i = 0; i < jobs.size(); ++i)
    if (jobs[i].method == general::LearningMethod::Bilevel) bilevel.push_back(i);
  const std::vector<size_t> my_bilevel = dist::my_share(bilevel, std::vector<double>(bilevel.size(), 1.0));
  std::vector<std::vector<ConvergencePoint>> conv(jobs.size());
  parallel_for(
      Index(my_bilevel.size()),
      [&](Index t) {
        const size_t i = my_bilevel[size_t(t)];
        try {
          conv[i] = convergence(configs[i], jobs[i], o, d);
        } catch (const Error& e) {
          if (wlog) wlog(std::string("    ") + configs[i].name() + ": no convergence measurement (" + std::string(e.what()) + ")");
        }
      },
      Schedule::Dynamic, 1);
  if (dist::size() > 1) {
    json sent = json::array();
    for (size_t i : my_bilevel) {
      json points = json::array();
      for (const ConvergencePoint& p : conv[i]) points.push_back({p.regularizer, p.depth, p.distance});
      sent.push_back({{"index", i}, {"points", points}});
    }
    const std::vector<std::string> all = dist::gather(to_text(sent));
    for (size_t q = 0; q < all.size(); ++q) {
      if (int(q) == dist::rank()) continue;
      for (const json& r : from_text(all[q])) {
        std::vector<ConvergencePoint>& points = conv.at(r.at("index").get<size_t>());
        for (const json& p : r.at("points"))
          points.push_back({p.at(0).get<std::string>(), p.at(1).get<int>(), p.at(2).get<double>()});
      }
    }
  }

  for (size_t i = 0; i < jobs.size(); ++i) {
    const Job& job = jobs[i];
    RestoreConfig& c = configs[i];
    if (c.theta.size() > 0) {
      const general::RegularizerSpec spec = restore_regularizer_spec(job.regularizer, d.signal_rms);
      auto r = general::make_regularizer(spec, d.n, o.seed, d.signal_rms);
      r->set_parameters(c.theta);
      res.filters.push_back({c.name(), filter_rows(*r)});
    }
    for (auto& p : conv[i]) res.convergence.push_back(p);
    if (job.method == general::LearningMethod::Unrolled && !job.fixed)
      res.bilevel_of_unrolled.push_back({c.regularizer, c.depth, c.exact_test_mse});
    res.configs.push_back(std::move(c));
  }
  res.seconds = clock.seconds();
  return res;
}

json restore_results_json(const RestoreResults& r) {
  const RestoreOptions& o = r.options;
  json j;
  j["task"] = o.task;
  j["sigma"] = o.sigma;
  j["n"] = o.n;
  j["hop"] = o.hop;
  if (o.inpaint()) j["missing"] = o.missing, j["burst"] = o.burst;
  j["rate"] = r.rate;
  j["corpus"] = o.corpus;
  j["test_name"] = o.test_name;
  j["train_files"] = r.train_files;
  j["test_files"] = r.test_files;
  j["test_seconds"] = o.test_seconds;
  j["train_frames"] = r.train_frames;
  j["validation_frames"] = r.validation_frames;
  j["test_frames"] = r.test_frames;
  j["signal_rms"] = r.signal_rms;
  j["steps"] = o.steps;
  j["learning_rate"] = o.learning_rate;
  j["patience"] = o.patience;
  j["seed"] = o.seed;
  j["quick"] = o.quick;
  j["noisy_mse"] = r.noisy_mse;
  j["noisy_snr_db"] = r.noisy_snr_db;
  j["linear_mse"] = r.linear_mse;
  j["linear_snr_db"] = r.linear_snr_db;
  if (o.inpaint()) {
    j["zero_fill_mse"] = opt(r.zero_fill_mse);
    j["zero_fill_snr_db"] = opt(r.zero_fill_snr_db);
    j["linear_local_mse"] = opt(r.linear_local_mse);
    j["linear_local_snr_db"] = opt(r.linear_local_snr_db);
    j["linear_local_width"] = r.linear_local_width && std::isinf(*r.linear_local_width) ? json("inf") : opt(r.linear_local_width);
  }
  json configs = json::array();
  for (const RestoreConfig& c : r.configs) {
    json e = {{"regularizer", c.regularizer},
              {"method", c.method},
              {"depth", c.method == "unrolled" ? json(c.depth) : json(nullptr)},
              {"stepsize_mode", c.stepsize_mode.empty() ? json(nullptr) : json(c.stepsize_mode)},
              {"stepsize", c.method == "unrolled" ? json(c.stepsize) : json(nullptr)},
              {"train_loss", opt(c.train_loss)},
              {"validation_mse", opt(c.validation_mse)},
              {"test_mse", opt(c.test_mse)},
              {"test_snr_db", opt(c.test_snr_db)},
              {"iterations", c.iterations},
              {"seconds", c.seconds},
              {"status", c.status},
              {"message", c.message},
              {"extra_tests", extra_json(c)}};
    configs.push_back(e);
  }
  json extra = json::array();
  for (const RestoreExtraTest& x : r.extra_tests) {
    json e = {{"name", x.name},           {"test_files", x.files},         {"test_frames", x.frames},
              {"noisy_mse", x.noisy_mse}, {"noisy_snr_db", x.noisy_snr_db}, {"linear_mse", x.linear_mse},
              {"linear_snr_db", x.linear_snr_db}};
    if (o.inpaint()) {
      e["zero_fill_mse"] = opt(x.zero_fill_mse);
      e["zero_fill_snr_db"] = opt(x.zero_fill_snr_db);
      e["linear_local_mse"] = opt(x.linear_local_mse);
      e["linear_local_snr_db"] = opt(x.linear_local_snr_db);
    }
    extra.push_back(e);
  }
  j["extra_tests"] = extra;
  j["configs"] = configs;
  json conv = json::array();
  for (const auto& p : r.convergence) conv.push_back({{"regularizer", p.regularizer}, {"depth", p.depth}, {"distance", p.distance}});
  j["convergence"] = conv;
  json bou = json::array();
  for (const auto& p : r.bilevel_of_unrolled)
    bou.push_back({{"regularizer", p.regularizer}, {"depth", p.depth}, {"test_mse", opt(p.test_mse)}});
  j["bilevel_of_unrolled"] = bou;
  j["seconds"] = r.seconds;
  return j;
}

std::string restore_results_csv(const RestoreResults& r) {
  std::ostringstream s;
  s << "regularizer,method,depth,stepsize_mode,stepsize,train_loss,validation_mse,test_mse,test_snr_db,"
       "exact_test_mse,iterations,seconds,status";
  for (const RestoreExtraTest& x : r.extra_tests) s << "," << x.name << "_test_mse," << x.name << "_test_snr_db";
  s << "\n";
  auto num = [](const std::optional<double>& v) { return v && std::isfinite(*v) ? format_exact(*v) : std::string(); };
  for (const RestoreConfig& c : r.configs) {
    s << c.regularizer << "," << c.method << "," << (c.method == "unrolled" ? std::to_string(c.depth) : "") << ","
      << c.stepsize_mode << "," << (c.method == "unrolled" ? format_exact(c.stepsize) : "") << "," << num(c.train_loss)
      << "," << num(c.validation_mse) << "," << num(c.test_mse) << "," << num(c.test_snr_db) << ","
      << num(c.exact_test_mse) << "," << c.iterations << "," << format_exact(c.seconds) << "," << c.status;
    for (size_t k = 0; k < r.extra_tests.size(); ++k) {
      const bool has = k < c.extra_tests.size();
      s << "," << (has ? num(c.extra_tests[k].test_mse) : "") << "," << (has ? num(c.extra_tests[k].test_snr_db) : "");
    }
    s << "\n";
  }
  return s.str();
}

std::vector<fs::path> write_restore_outputs(const RestoreResults& r, const fs::path& dir) {
  std::vector<fs::path> written;
  fs::create_directories(dir / "wav");
  fs::create_directories(dir / "filters");
  auto text = [&](const fs::path& p, const std::string& t) {
    io::write_atomic(p, t);
    written.push_back(p);
  };
  text(dir / "results.json", restore_results_json(r).dump(2) + "\n");
  text(dir / "results.csv", restore_results_csv(r));
  auto wav = [&](const std::string& name, const Vector& x) {
    if (x.size() == 0) return;
    const fs::path p = dir / "wav" / name;
    audio::write_wav(p, x.cwiseMax(-1.0).cwiseMin(1.0), r.rate);
    written.push_back(p);
  };
  wav("clean.wav", r.demo_clean);
  wav("degraded.wav", r.demo_degraded);
  for (const auto& [name, x] : r.demo_linear) wav(name, x);
  for (const RestoreConfig& c : r.configs) wav(c.name() + ".wav", c.demo);
  for (const auto& [name, m] : r.filters) {
    std::ostringstream s;
    for (Index i = 0; i < m.rows(); ++i) {
      for (Index j = 0; j < m.cols(); ++j) s << (j ? "," : "") << format_exact(m(i, j));
      s << "\n";
    }
    text(dir / "filters" / (name + ".csv"), s.str());
  }
  return written;
}

std::string restore_table(const RestoreResults& r) {
  std::ostringstream s;
  s << "| model | train MSE | test MSE | test SNR (dB) | vs linear (dB) | steps | status | s |";
  for (const RestoreExtraTest& x : r.extra_tests) s << " " << x.name << " SNR (dB) |";
  s << "\n|---|---|---|---|---|---|---|---|";
  for (size_t k = 0; k < r.extra_tests.size(); ++k) s << "---|";
  s << "\n";
  // extra: the SNR on each further test set (nullopt: "-").
  auto row = [&](const std::string& name, std::optional<double> train, std::optional<double> mse,
                 std::optional<double> snr, const std::string& steps, const std::string& status, const std::string& secs,
                 const std::vector<std::optional<double>>& extra) {
    s << "| " << name << " | " << fmt(train ? std::optional<double>(*train) : std::nullopt, 6) << " | " << fmt(mse, 6)
      << " | " << fmt(snr, 2) << " | " << (snr ? format_fixed(*snr - r.linear_snr_db, 2) : std::string("-")) << " | "
      << steps << " | " << status << " | " << secs << " |";
    for (size_t k = 0; k < r.extra_tests.size(); ++k) s << " " << fmt(k < extra.size() ? extra[k] : std::nullopt, 2) << " |";
    s << "\n";
  };
  auto baseline = [&](auto field) {
    std::vector<std::optional<double>> v;
    for (const RestoreExtraTest& x : r.extra_tests) v.push_back(field(x));
    return v;
  };
  row("no restoration", std::nullopt, r.noisy_mse, r.noisy_snr_db, "", "", "",
      baseline([](const RestoreExtraTest& x) { return std::optional<double>(x.noisy_snr_db); }));
  row(r.options.inpaint() ? "linear MMSE (exact)" : "Wiener (exact)", std::nullopt, r.linear_mse, r.linear_snr_db, "", "",
      "", baseline([](const RestoreExtraTest& x) { return std::optional<double>(x.linear_snr_db); }));
  if (r.options.inpaint())
    row(std::string("linear MMSE, tapered w = ") + format_general(r.linear_local_width.value_or(0)), std::nullopt,
        r.linear_local_mse, r.linear_local_snr_db, "", "", "",
        baseline([](const RestoreExtraTest& x) { return x.linear_local_snr_db; }));
  for (const RestoreConfig& c : r.configs) {
    std::vector<std::optional<double>> extra;
    for (const auto& x : c.extra_tests) extra.push_back(x.test_snr_db);
    row(c.name(), c.train_loss, c.test_mse, c.test_snr_db, std::to_string(c.iterations), c.status,
        format_fixed(c.seconds, 1), extra);
  }
  return s.str();
}

}  // namespace varlearn::study
