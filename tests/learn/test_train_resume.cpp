// Training checkpoints: a run killed at a random iteration (and at a checkpoint boundary),
// resumed from its last checkpoint sent through JSON text, ends with exactly the numbers of
// the uninterrupted run — for every trainer entry point (frames full batch and minibatches
// with validation / early stopping, expected risk, sampled noise), L-BFGS and Adam, float32
// and float64. Mismatched and corrupt checkpoints are Errors; the checkpoint file is complete
// JSON at every moment.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <thread>
#include <unistd.h>

#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/learn/learn.hpp"

using namespace varlearn;
using namespace varlearn::learn;
using nlohmann::json;

namespace {

struct Killed : std::runtime_error {
  Killed() : std::runtime_error("killed") {}
};

const ModelSpec kSpec{7, 3, Method::Unrolled, 3, StepsizeMode::Learned};

// Correlated clean frames (AR(1)-like rows) and their noisy versions.
struct Data {
  Matrix clean, noisy, second_moment;
};
Data make_data(Index b, std::uint64_t seed) {
  Rng rng(seed);
  Data d;
  Matrix g = gaussian_matrix(kSpec.n, b, 1.0, rng);
  d.clean = g;
  for (Index i = 1; i < kSpec.n; ++i) d.clean.row(i) = 0.8 * d.clean.row(i - 1) + 0.6 * g.row(i);
  d.noisy = d.clean;
  add_gaussian_noise_inplace(d.noisy, 0.5, rng);
  d.second_moment = d.clean * d.clean.transpose() / static_cast<double>(b);
  return d;
}

using Train = std::function<TrainResult(const QuadraticModel&, const TrainOptions&, const optim::Observer&,
                                        const TrainCheckpointing&)>;

void expect_same(const TrainResult& a, const TrainResult& b) {
  const Vector pa = a.model.parameters(), pb = b.model.parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (Index i = 0; i < pa.size(); ++i) EXPECT_EQ(pa(i), pb(i)) << "parameter " << i;
  EXPECT_EQ(a.optim.status, b.optim.status);
  EXPECT_EQ(a.optim.iterations, b.optim.iterations);
  EXPECT_EQ(a.optim.evaluations, b.optim.evaluations);
  EXPECT_EQ(a.optim.loss, b.optim.loss);
  EXPECT_EQ(a.optim.history, b.optim.history);
  EXPECT_EQ(a.optim.message, b.optim.message);
  EXPECT_EQ(a.train_loss, b.train_loss);
  EXPECT_EQ(a.validation_loss, b.validation_loss);
}

// The checkpoint as its file holds it: JSON text, parsed back.
TrainingCheckpoint through_text(const std::string& text) {
  return training_checkpoint_from_json(json::parse(text), "test checkpoint");
}

// Straight run; then the same run with checkpoints every `every`, killed after iteration
// `kill`; then resumed from the last checkpoint written: same numbers.
void kill_and_resume(const Train& train, const QuadraticModel& init, TrainOptions o, int kill) {
  SCOPED_TRACE("killed after iteration " + std::to_string(kill));
  const TrainResult straight = train(init, o, {}, {});
  std::string last;
  TrainCheckpointing writing;
  writing.sink = [&](const TrainingCheckpoint& c) { last = training_checkpoint_to_json(c).dump(1); };
  const optim::Observer killer = [&](const optim::Progress& p) {
    if (p.iteration == kill) throw Killed();
    return true;
  };
  EXPECT_THROW(train(init, o, killer, writing), Killed);
  ASSERT_FALSE(last.empty()) << "no checkpoint before the kill";
  const TrainingCheckpoint c = through_text(last);
  EXPECT_LT(c.iteration(), kill);
  EXPECT_GE(c.iteration(), kill - o.checkpoint_every);
  TrainCheckpointing resuming;
  resuming.resume = &c;
  const TrainResult resumed = train(c.model, o, {}, resuming);
  expect_same(straight, resumed);
}

// Kill at a seeded random iteration of the straight run, right after a checkpoint, and right
// before one.
void kill_everywhere(const Train& train, const QuadraticModel& init, const TrainOptions& o, std::uint64_t seed) {
  const TrainResult straight = train(init, o, {}, {});
  const int n = straight.optim.iterations;
  ASSERT_GT(n, 2 * o.checkpoint_every + 1);
  std::mt19937 pick(static_cast<std::mt19937::result_type>(seed));
  const int k = std::uniform_int_distribution<int>(o.checkpoint_every + 1, n - 1)(pick);
  kill_and_resume(train, init, o, k);
  kill_and_resume(train, init, o, 2 * o.checkpoint_every + 1);
  kill_and_resume(train, init, o, 2 * o.checkpoint_every);
}

class TrainResume : public ::testing::TestWithParam<Precision> {
protected:
  TrainOptions base() const {
    TrainOptions o;
    o.precision = GetParam();
    o.checkpoint_every = 6;
    return o;
  }
  QuadraticModel init() const { return QuadraticModel::random(kSpec, InitOptions{}); }
};

}  // namespace

TEST_P(TrainResume, FramesFullBatchLbfgsWithValidation) {
  const Data d = make_data(300, 11);
  TrainOptions o = base();
  o.lbfgs.max_iterations = 40;
  o.lbfgs.gradient_tolerance = 0;
  o.lbfgs.loss_tolerance = 0;
  o.validation_fraction = 0.2;
  o.validate_every = 4;
  const Train t = [&](const QuadraticModel& m, const TrainOptions& op, const optim::Observer& ob,
                      const TrainCheckpointing& c) { return train_frames<double>(m, d.noisy, d.clean, op, ob, c); };
  kill_everywhere(t, init(), o, 1);
}

TEST_P(TrainResume, FramesMinibatchAdamWithEarlyStopping) {
  const Data d = make_data(400, 12);
  TrainOptions o = base();
  o.optimizer = OptimizerKind::Adam;
  o.adam.max_iterations = 300;
  o.adam.learning_rate = 0.05;
  o.adam.decay = 0.5;
  o.adam.decay_every = 40;
  o.batch_size = 32;
  o.validation_fraction = 0.25;
  o.validate_every = 5;
  o.patience = 4;
  o.path = GetParam() == Precision::Float32 ? DataPath::Direct : DataPath::Structured;
  const Train t = [&](const QuadraticModel& m, const TrainOptions& op, const optim::Observer& ob,
                      const TrainCheckpointing& c) { return train_frames<double>(m, d.noisy, d.clean, op, ob, c); };
  const TrainResult straight = t(init(), o, {}, {});
  EXPECT_NE(straight.optim.message.find("early stopping"), std::string::npos) << straight.optim.message;
  kill_everywhere(t, init(), o, 2);
  // The final checkpoint of the early-stopped run resumes to the same result, iterating no more.
  std::string last;
  TrainCheckpointing writing;
  writing.sink = [&](const TrainingCheckpoint& c) { last = training_checkpoint_to_json(c).dump(); };
  t(init(), o, {}, writing);
  const TrainingCheckpoint c = through_text(last);
  EXPECT_TRUE(c.stopped_early);
  EXPECT_EQ(c.optimizer.status, "stopped");
  TrainCheckpointing resuming;
  resuming.resume = &c;
  int iterations = 0;
  const TrainResult again = t(c.model, o, [&](const optim::Progress&) { return ++iterations > 0; }, resuming);
  EXPECT_EQ(iterations, 0);
  expect_same(straight, again);
}

TEST_P(TrainResume, ExpectedLbfgsAndAdam) {
  const Data d = make_data(500, 13);
  TrainOptions o = base();
  o.lbfgs.max_iterations = 30;
  o.lbfgs.gradient_tolerance = 0;
  o.lbfgs.loss_tolerance = 0;
  const Train t = [&](const QuadraticModel& m, const TrainOptions& op, const optim::Observer& ob,
                      const TrainCheckpointing& c) { return train_expected(m, d.second_moment, 0.5, op, ob, c); };
  kill_everywhere(t, init(), o, 3);
  o.optimizer = OptimizerKind::Adam;
  o.adam.max_iterations = 60;
  kill_everywhere(t, init(), o, 4);
}

TEST_P(TrainResume, SampledNoiseMinibatchAndFullBatch) {
  const Data d = make_data(240, 14);
  TrainOptions o = base();
  o.optimizer = OptimizerKind::Adam;
  o.adam.max_iterations = 80;
  o.batch_size = 50;
  o.validation_fraction = 0.2;
  o.validate_every = 3;
  o.patience = 1000;
  const Train t = [&](const QuadraticModel& m, const TrainOptions& op, const optim::Observer& ob,
                      const TrainCheckpointing& c) { return train_sampled_noise(m, d.clean, 0.5, op, ob, c); };
  kill_everywhere(t, init(), o, 5);
  o.batch_size = 0;  // all frames, fresh noise each step
  o.validation_fraction = 0;
  kill_everywhere(t, init(), o, 6);
}

// The --init bug: 12 + 12 L-BFGS iterations, resumed from the final checkpoint of the first
// run, equal 24 straight; restarting from the model alone does not. (Few enough iterations that
// float32 does not reach its precision limit first: it did at iteration 28 here.)
TEST_P(TrainResume, TwelvePlusTwelveEqualsTwentyFour) {
  const Data d = make_data(300, 15);
  TrainOptions o = base();
  o.checkpoint_every = 0;  // final checkpoint only
  o.lbfgs.gradient_tolerance = 0;
  o.lbfgs.loss_tolerance = 0;
  o.lbfgs.max_iterations = 24;
  const TrainResult whole = train_frames<double>(init(), d.noisy, d.clean, o);
  o.lbfgs.max_iterations = 12;
  std::string last;
  int calls = 0;
  TrainCheckpointing writing;
  writing.sink = [&](const TrainingCheckpoint& c) {
    last = training_checkpoint_to_json(c).dump();
    ++calls;
  };
  const TrainResult half = train_frames<double>(init(), d.noisy, d.clean, o, {}, writing);
  EXPECT_EQ(calls, 1) << half.message;
  const TrainingCheckpoint c = through_text(last);
  EXPECT_EQ(c.iteration(), 12);
  o.lbfgs.max_iterations = 24;
  TrainCheckpointing resuming;
  resuming.resume = &c;
  expect_same(whole, train_frames<double>(c.model, d.noisy, d.clean, o, {}, resuming));
  // Resuming the finished 12-iteration run with the same budget redoes nothing.
  o.lbfgs.max_iterations = 12;
  expect_same(half, train_frames<double>(c.model, d.noisy, d.clean, o, {}, resuming));
  // The old --init (parameters only, the L-BFGS memory dropped) ends elsewhere.
  const TrainResult init_only = train_frames<double>(half.model, d.noisy, d.clean, o);
  EXPECT_NE(init_only.model.parameters(), whole.model.parameters());
}

INSTANTIATE_TEST_SUITE_P(Precisions, TrainResume, ::testing::Values(Precision::Float64, Precision::Float32),
                         [](const auto& info) { return info.param == Precision::Float64 ? "float64" : "float32"; });

TEST(TrainResumeErrors, DifferentRunOrCorruptCheckpointIsAnError) {
  const Data d = make_data(200, 16);
  TrainOptions o;
  o.lbfgs.max_iterations = 10;
  o.checkpoint_every = 5;
  std::string text;
  TrainCheckpointing writing;
  writing.sink = [&](const TrainingCheckpoint& c) { text = training_checkpoint_to_json(c).dump(); };
  const QuadraticModel m0 = QuadraticModel::random(kSpec, InitOptions{});
  train_frames<double>(m0, d.noisy, d.clean, o, {}, writing);
  const TrainingCheckpoint c = through_text(text);
  TrainCheckpointing r;
  r.resume = &c;
  auto message = [&](auto run) -> std::string {
    try {
      run();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  TrainOptions other = o;
  other.seed = 2;
  EXPECT_NE(message([&] { train_frames<double>(c.model, d.noisy, d.clean, other, {}, r); }).find("'seed' is 1"),
            std::string::npos);
  other = o;
  other.optimizer = OptimizerKind::Adam;
  EXPECT_NE(message([&] { train_frames<double>(c.model, d.noisy, d.clean, other, {}, r); }).find("'optimizer'"),
            std::string::npos);
  other = o;
  other.precision = Precision::Float32;
  EXPECT_NE(message([&] { train_frames<double>(c.model, d.noisy, d.clean, other, {}, r); }).find("'precision'"),
            std::string::npos);
  const Data d2 = make_data(201, 16);  // a different data size
  EXPECT_NE(message([&] { train_frames<double>(c.model, d2.noisy, d2.clean, o, {}, r); }).find("'data'"),
            std::string::npos);
  Data d3 = d;  // same size, one value changed
  d3.clean(3, 7) += 1e-9;
  EXPECT_NE(message([&] { train_frames<double>(c.model, d3.noisy, d3.clean, o, {}, r); }).find("checksum"),
            std::string::npos);
  EXPECT_NE(message([&] { train_expected(c.model, d.second_moment, 0.5, o, {}, r); }).find("'entry'"),
            std::string::npos);
  const QuadraticModel bigger = QuadraticModel::random({7, 4, Method::Unrolled, 3, StepsizeMode::Learned});
  EXPECT_NE(message([&] { train_frames<double>(bigger, d.noisy, d.clean, o, {}, r); }).find("'model'"),
            std::string::npos);

  // Corrupt files: each an Error, never a crash.
  const json good = json::parse(text);
  auto broken = [&](auto edit) {
    json b = good;
    edit(b);
    return b;
  };
  const std::vector<json> bad = {
      broken([](json& b) { b.erase("training_state"); }),
      broken([](json& b) { b["training_state"]["optimizer"]["x"].erase(0); }),
      broken([](json& b) { b["training_state"]["optimizer"]["lbfgs"]["gradient"][0] = nullptr; }),
      broken([](json& b) { b["training_state"]["early_stopping"]["best_parameters"] = json::array({1, 2}); }),
      broken([](json& b) { b["training_state"]["early_stopping"]["bad_validations"] = -3; }),
      broken([](json& b) { b["training_state"]["run"]["seed"] = 1; }),
      broken([](json& b) { b["training_state"]["version"] = 2; }),
      broken([](json& b) { b["regularizer"][0][0] = b["regularizer"][0][0].get<double>() + 1.0; }),  // model != iterate
      broken([](json& b) { b["training_state"]["batches"] = {{"rng", "x"}, {"order", {0}}, {"position", 0}}; }),
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE("corruption " + std::to_string(i));
    const std::string msg = message([&] {
      const TrainingCheckpoint cb = training_checkpoint_from_json(bad[i]);
      TrainCheckpointing rb;
      rb.resume = &cb;
      train_frames<double>(cb.model, d.noisy, d.clean, o, {}, rb);
    });
    EXPECT_NE(msg, "(no error)");
  }
  // Minibatch state that does not fit: an Error.
  TrainOptions mb = o;
  mb.optimizer = OptimizerKind::Adam;
  mb.batch_size = 20;
  std::string mb_text;
  writing.sink = [&](const TrainingCheckpoint& cp) { mb_text = training_checkpoint_to_json(cp).dump(); };
  train_frames<double>(m0, d.noisy, d.clean, mb, {}, writing);
  for (auto edit : std::vector<std::function<void(json&)>>{
           [](json& b) { b["training_state"]["batches"]["rng"] = "not a generator"; },
           [](json& b) { b["training_state"]["batches"]["order"][0] = b["training_state"]["batches"]["order"][1]; },
           [](json& b) { b["training_state"]["batches"]["position"] = 100000; },
       }) {
    json b = json::parse(mb_text);
    edit(b);
    const std::string msg = message([&] {
      const TrainingCheckpoint cb = training_checkpoint_from_json(b);
      TrainCheckpointing rb;
      rb.resume = &cb;
      train_frames<double>(cb.model, d.noisy, d.clean, mb, {}, rb);
    });
    EXPECT_NE(msg.find("minibatch"), std::string::npos) << msg;
  }
  // Files: not JSON, a plain model file.
  const auto dir = std::filesystem::temp_directory_path() / ("varlearn_resume_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  io::write_atomic(dir / "bad.json", "{\"format\": \"varlearn-model\", ");
  EXPECT_THROW(load_training_checkpoint(dir / "bad.json"), Error);
  save_model(dir / "model.json", m0);
  EXPECT_NE(message([&] { load_training_checkpoint(dir / "model.json"); }).find("no training state"),
            std::string::npos);
  std::filesystem::remove_all(dir);
}

// A reader polling the checkpoint file while training writes it every iteration never sees a
// half-written file; the file reads back as a model too (load_model).
TEST(TrainResumeFiles, CheckpointFileIsCompleteJsonAtEveryMoment) {
  const Data d = make_data(300, 17);
  const auto dir = std::filesystem::temp_directory_path() / ("varlearn_atomic_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "run.ckpt.json";
  TrainOptions o;
  o.optimizer = OptimizerKind::Adam;
  o.adam.max_iterations = 400;
  o.batch_size = 16;
  o.checkpoint_every = 1;
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, broken{0};
  std::thread reader([&] {
    while (!done.load()) {
      std::error_code ec;
      if (!std::filesystem::exists(file, ec)) continue;
      try {
        const TrainingCheckpoint c = load_training_checkpoint(file);
        ++reads;
      } catch (const Error&) {
        ++broken;
      }
    }
  });
  TrainCheckpointing writing;
  writing.sink = checkpoint_writer(file, {{"note", "test"}});
  const TrainResult r = train_frames<double>(QuadraticModel::random(kSpec, InitOptions{}), d.noisy, d.clean, o, {}, writing);
  done = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(broken.load(), 0);
  const TrainingCheckpoint last = load_training_checkpoint(file);
  EXPECT_EQ(last.iteration(), 400);
  EXPECT_EQ(last.optimizer.status, "max_iterations");
  EXPECT_TRUE(last.model.parameters().isApprox(r.model.parameters(), 1e-9));
  EXPECT_EQ(load_model(file, kSpec).meta.at("note"), "test");
  for (const auto& e : std::filesystem::directory_iterator(dir))  // no temporary left behind
    EXPECT_EQ(e.path().filename(), "run.ckpt.json");
  std::filesystem::remove_all(dir);
}
