// Speech dequantization study: the method enum, options, and the stages on generated audio
// (quantization, classic tuning against brute force, rows per method, writers' file set).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>

#include <nlohmann/json.hpp>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/study/dequant_pipeline.hpp"
#include "varlearn/study/dequant_study.hpp"
#include "../support/temp_dir.hpp"
#include "dequant_fixture.hpp"

namespace fs = std::filesystem;
using namespace varlearn;
using namespace varlearn::study;

namespace {

using dequant_fixture::small_options;

}  // namespace

TEST(DequantMethod, ParseAndToStringRoundTrip) {
  for (DequantMethod m : {DequantMethod::Quantized, DequantMethod::Classic, DequantMethod::Learned})
    EXPECT_EQ(parse_dequant_method(to_string(m)), m);
  EXPECT_STREQ(to_string(DequantMethod::Classic), "classic");
  EXPECT_THROW(parse_dequant_method("Classic"), Error);
  EXPECT_THROW(parse_dequant_method("l1"), Error);
}

TEST(DequantOptions, ValidateAndQuickDefaults) {
  DequantOptions o;
  EXPECT_NO_THROW(o.validate());
  o.methods = {DequantMethod::Learned};
  o.depths.clear();
  EXPECT_THROW(o.validate(), Error);
  DequantOptions q;
  q.quick = true;
  const auto r = q.resolved();
  EXPECT_EQ(r.bits, std::vector<int>{4});
  EXPECT_EQ(r.depths, (std::vector<int>{1, 5}));
  EXPECT_EQ(r.train_steps, 1500);
  EXPECT_EQ(r.example_bits, 4);
}

TEST(DequantStages, TuningPicksTheBestGridPointPerDepth) {
  varlearn::testing::TempDir d;
  const DequantOptions o = small_options(d).resolved();
  const auto corpus = dequantize::load_corpus(o);
  const auto b = dequantize::quantize(corpus, o, 3);
  EXPECT_EQ(b.test.size(), 1u);
  EXPECT_TRUE(b.example);
  const auto best = dequantize::tune_classic(b.train, {1, 3}, {0.05, 0.5});
  ASSERT_EQ(best.size(), 2u);
  // brute force: each single-tau grid can only be worse or equal
  for (int depth : {1, 3})
    for (double tau : {0.05, 0.5}) {
      const auto one = dequantize::tune_classic(b.train, {depth}, {tau});
      EXPECT_GE(best.at(depth).train_snr, one.at(depth).train_snr);
    }
  const auto co = dequantize::fixed_budget(best.at(3), 3);
  EXPECT_EQ(co.max_iterations, 3);
  EXPECT_DOUBLE_EQ(co.tau * co.sigma, 1.0);
}

TEST(DequantStages, RowsPerMethodAndWriters) {
  varlearn::testing::TempDir d;
  const DequantOptions o = small_options(d);
  const DequantResults r = run_dequant_study(o);
  // quantized, classic N = 1, 3, classic converged, learned N = 1, 3
  ASSERT_EQ(r.entries.size(), 6u);
  const DequantMethod order[] = {DequantMethod::Quantized, DequantMethod::Classic, DequantMethod::Classic,
                                 DequantMethod::Classic,   DequantMethod::Learned, DequantMethod::Learned};
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(r.entries[i].method, order[i]) << i;
  EXPECT_FALSE(r.entries[3].depth.has_value());
  EXPECT_LE(r.entries[3].max_cell_violation, 1e-9);  // converged output projected onto the cells
  // the classic solutions beat the quantized signal on these tones
  EXPECT_GT(*r.best_classic_snr(3), *r.snr(DequantMethod::Quantized, 3, std::nullopt));
  const auto written = write_dequant_outputs(r, d.path / "out");
  std::vector<std::string> names;
  for (const auto& p : written) names.push_back(p.filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"example_classic.wav", "example_clean.wav", "example_learned.wav",
                                             "example_quantized.wav", "results.csv", "results.json", "snr_vs_bits.png", "snr_vs_bits.svg",
                                             "snr_vs_depth_3bit.png", "snr_vs_depth_3bit.svg", "summary.md"}));
  const auto j = nlohmann::json::parse(io::read_text(d.path / "out" / "results.json"));
  EXPECT_EQ(j["entries"][0]["method"], "quantized");
  EXPECT_EQ(j["entries"][4]["method"], "learned");
}

namespace {
// Every number of a row but its time.
nlohmann::json without_seconds(const DequantEntry& e) {
  nlohmann::json j = dequantize::entry_json(e);
  j.erase("seconds");
  return j;
}
}  // namespace

TEST(DequantStudy, RowsRunSideBySideWithTheNumbersOfOneThreadInTheTablesOrder) {
  // Two bit depths, two depths and the warm chain: the rows run side by side on two threads
  // (the chains too, one per bit depth) and every row and example equals a one-thread run's
  // exactly, in the table's order (b, then quantized, classic N, converged, cold, warm).
  varlearn::testing::TempDir d;
  DequantOptions o = small_options(d);
  o.bits = {3, 4};
  o.example_bits = 4;
  o.warm_start = true;
  DequantResults one, two;
  {
    const ScopedThreads threads(1);
    one = run_dequant_study(o);
  }
  {
    const ScopedThreads threads(2);
    two = run_dequant_study(o);
  }
  ASSERT_EQ(one.entries.size(), 14u);  // per b: quantized, classic 1, 3, converged, learned 1, 3, warm 3
  ASSERT_EQ(two.entries.size(), one.entries.size());
  for (size_t i = 0; i < one.entries.size(); ++i) {
    EXPECT_EQ(without_seconds(one.entries[i]), without_seconds(two.entries[i])) << i;
    EXPECT_EQ(one.entries[i].bits, i < 7 ? 3 : 4) << i;
  }
  const DequantMethod order[] = {DequantMethod::Quantized, DequantMethod::Classic, DequantMethod::Classic,
                                 DequantMethod::Classic,   DequantMethod::Learned, DequantMethod::Learned,
                                 DequantMethod::Learned};
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(one.entries[i].method, order[i]) << i;
  EXPECT_TRUE(one.entries[6].warm);
  EXPECT_FALSE(one.entries[5].warm);
  ASSERT_EQ(one.examples.size(), 4u);  // clean, quantized, classic, learned: at 4 bits
  ASSERT_EQ(two.examples.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(one.examples[i].first, two.examples[i].first);
    EXPECT_EQ(one.examples[i].second, two.examples[i].second) << one.examples[i].first;
  }
  EXPECT_EQ(one.examples[2].first, "example_classic.wav");
  EXPECT_EQ(one.examples[3].first, "example_learned.wav");
}
