// Depth analysis of the dequantization study: the warm start's invariant (a deeper network whose
// added iterations are at the identity computes the shallower one), the classification of the
// three explanations on synthetic numbers, and the keys and files of a warm-started run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>

#include <nlohmann/json.hpp>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/dequant/unrolled.hpp"
#include "varlearn/study/dequant_depth.hpp"
#include "varlearn/study/dequant_pipeline.hpp"
#include "varlearn/study/dequant_study.hpp"
#include "varlearn/study/journal.hpp"
#include "../support/temp_dir.hpp"
#include "dequant_fixture.hpp"

namespace fs = std::filesystem;
using namespace varlearn;
using namespace varlearn::study;

namespace {

using dequant_fixture::small_options;

// A trained-looking shallower network: the DCT start with K perturbed and distinct step sizes.
Vector perturbed(const dequant::UnrolledSpec& us) {
  Vector th = dequant::initial_parameters<double>(us, 0.2, 5.0);
  for (Index i = 0; i < th.size(); ++i) th[i] += 0.01 * std::sin(1.7 * double(i));
  return th;
}

}  // namespace

TEST(DequantWarmStart, AddedIterationsAtTheIdentityKeepTheShallowerLoss) {
  varlearn::testing::TempDir d;
  const DequantOptions o = small_options(d).resolved();
  const auto corpus = dequantize::load_corpus(o);
  const auto b = dequantize::quantize(corpus, o, 3);
  const auto& f = b.train;
  for (bool project : {true, false}) {
    dequant::UnrolledSpec shallow{16, 2, dequant::StepsizeSharing::PerIteration, project}, deep = shallow;
    deep.depth = 7;
    const Vector th = perturbed(shallow);
    const Vector ext = dequant::extend_parameters<double>(shallow, th, deep, dequant::kNoOpStepsize, 3.0);
    ASSERT_EQ(ext.size(), deep.num_parameters());
    const dequant::UnrolledLoss<double> ls(shallow, f.quantized, f.lower, f.upper, f.clean),
        ld(deep, f.quantized, f.lower, f.upper, f.clean);
    const double l0 = ls.evaluate(th), l1 = ld.evaluate(ext);
    EXPECT_NEAR(l1, l0, 1e-12) << "project " << project;
    EXPECT_LE(std::abs(l1 - l0), 1e-9 * l0);
    const Matrix o0 = dequant::unrolled_forward<double>(shallow, th, f.quantized, f.lower, f.upper);
    const Matrix o1 = dequant::unrolled_forward<double>(deep, ext, f.quantized, f.lower, f.upper);
    EXPECT_LE((o1 - o0).cwiseAbs().maxCoeff(), 1e-11);
    // the copied parameters are the shallower ones
    const auto p0 = dequant::unpack(shallow, th), p1 = dequant::unpack(deep, ext);
    EXPECT_EQ((p1.k - p0.k).cwiseAbs().maxCoeff(), 0.0);
    for (int i = 0; i < 2; ++i) {
      EXPECT_DOUBLE_EQ(p1.tau[i], p0.tau[i]);
      EXPECT_DOUBLE_EQ(p1.sigma[i], p0.sigma[i]);
    }
    EXPECT_NEAR(p1.tau[6], dequant::kNoOpStepsize, 1e-18);
    // control: added iterations with a real step change the output (the check above can fail)
    const Vector live = dequant::extend_parameters<double>(shallow, th, deep, 0.2, 3.0);
    EXPECT_GT(std::abs(ld.evaluate(live) - l0), 1e-8);
  }
  dequant::UnrolledSpec shared{16, 2, dequant::StepsizeSharing::Shared, true}, deep{16, 4};
  EXPECT_THROW(dequant::extend_parameters<double>(shared, dequant::initial_parameters<double>(shared), deep, 1e-13, 1.0),
               Error);
  dequant::UnrolledSpec same{16, 4};
  EXPECT_THROW(dequant::extend_parameters<double>(deep, dequant::initial_parameters<double>(deep), same, 1e-13, 1.0),
               Error);
}

TEST(DequantWarmStart, StartIsNeverWorseThanTheShallowerNetwork) {
  varlearn::testing::TempDir d;
  const DequantOptions o = small_options(d).resolved();
  const auto corpus = dequantize::load_corpus(o);
  const auto b = dequantize::quantize(corpus, o, 3);
  ASSERT_LT(b.train.size(), 4000);  // the start is chosen on all training frames here
  const auto& f = b.train;
  const dequant::UnrolledSpec shallow = dequantize::learned_spec(o, 2), deep = dequantize::learned_spec(o, 6);
  const Vector th = perturbed(shallow);
  const double l0 = dequant::UnrolledLoss<double>(shallow, f.quantized, f.lower, f.upper, f.clean).evaluate(th);
  const auto ws = dequantize::warm_start(b, o, 6, 2, th);
  const double l1 = dequant::UnrolledLoss<double>(deep, f.quantized, f.lower, f.upper, f.clean).evaluate(ws.theta);
  EXPECT_LE(l1, l0 + 1e-12);
  // only the identity in the grid: the same loss
  DequantOptions id = o;
  id.added_tau_grid = {0};
  const auto wi = dequantize::warm_start(b, id, 6, 2, th);
  EXPECT_EQ(wi.added_tau, dequant::kNoOpStepsize);
  EXPECT_NEAR(dequant::UnrolledLoss<double>(deep, f.quantized, f.lower, f.upper, f.clean).evaluate(wi.theta), l0, 1e-12);
}

namespace {
DepthPoint pt(int n, double ct, double cs, std::optional<double> wt = {}, std::optional<double> ws = {}) {
  return {n, ct, cs, wt, ws, std::nullopt};
}
}  // namespace

TEST(DequantDepthFindings, ClassifiesTheThreeExplanations) {
  // cold test SNR: plateau from N = 5 (11.5 dB); cold training SNR drops at N = 20
  const std::vector<DepthPoint> cold = {pt(1, 10.2, 10.0), pt(2, 11.2, 11.0), pt(5, 11.8, 11.5), pt(10, 11.8, 11.5),
                                        pt(20, 11.6, 11.45)};
  auto with = [&](std::vector<std::pair<double, double>> warm) {
    std::vector<DepthPoint> p = cold;
    for (size_t i = 1; i < p.size(); ++i) p[i].warm_train_db = warm[i - 1].first, p[i].warm_test_db = warm[i - 1].second;
    return p;
  };
  // optimization: warm fits better and tests better
  const auto opt = classify_depth(with({{11.2, 11.0}, {12.0, 11.7}, {12.6, 12.1}, {13.0, 12.5}}), 1.0);
  EXPECT_EQ(opt.explanation, DepthExplanation::Optimization);
  EXPECT_EQ(opt.plateau_depth, 5);
  EXPECT_EQ(opt.deepest, 20);
  EXPECT_NEAR(opt.train_gain_db, 13.0 - 12.0, 1e-12);  // warm at 20 - best at the plateau depth 5
  EXPECT_NEAR(opt.test_gain_db, 12.5 - 11.5, 1e-12);
  EXPECT_NEAR(opt.warm_over_cold_train_db, 13.0 - 11.6, 1e-12);
  EXPECT_NEAR(opt.cold_train_drop_db, 11.8 - 11.6, 1e-12);
  // generalization: warm fits better, test SNR does not follow
  const auto gen = classify_depth(with({{11.2, 11.0}, {12.0, 11.5}, {13.0, 11.5}, {14.0, 11.55}}), 4.0);
  EXPECT_EQ(gen.explanation, DepthExplanation::Generalization);
  EXPECT_NEAR(gen.train_gain_db, 2.0, 1e-12);
  EXPECT_NEAR(gen.test_gain_db, 0.05, 1e-12);
  EXPECT_NEAR(gen.generalization_gap_growth_db, (14.0 - 11.55) - (11.8 - 11.5), 1e-12);
  // expressivity: even warm, the training SNR saturates
  const auto exp = classify_depth(with({{11.2, 11.0}, {11.85, 11.5}, {11.9, 11.5}, {11.9, 11.5}}), 4.0);
  EXPECT_EQ(exp.explanation, DepthExplanation::Expressivity);
  EXPECT_NEAR(exp.train_gain_db, 11.9 - 11.85, 1e-12);
  // the verdict is one of the sentences, with the numbers
  auto says = [](const DepthFindings& f, const std::string& w) {
    return std::any_of(f.sentences.begin(), f.sentences.end(), [&](const std::string& s) { return s.find(w) != s.npos; });
  };
  EXPECT_TRUE(says(opt, "**Optimization**"));
  EXPECT_TRUE(says(gen, "**Generalization**"));
  EXPECT_TRUE(says(exp, "**Expressivity**"));
  EXPECT_TRUE(says(opt, "+1.00 dB"));
  EXPECT_TRUE(says(gen, "4.00 times the Adam steps"));
  EXPECT_TRUE(says(opt, "0.20 dB worse than a shallower cold one"));
  // robustness: a train gain of 0.12 dB is generalization at 0.1 dB but expressivity at 0.2 dB
  const auto border = classify_depth(with({{11.2, 11.0}, {11.85, 11.5}, {11.9, 11.5}, {11.97, 11.5}}), 1.0);
  EXPECT_EQ(border.explanation, DepthExplanation::Generalization);
  EXPECT_EQ(border.at_double_threshold, DepthExplanation::Expressivity);
  EXPECT_EQ(border.at_half_threshold, DepthExplanation::Generalization);
  EXPECT_TRUE(says(border, "Borderline"));
  EXPECT_TRUE(says(opt, "The verdict is the same with half and with twice the threshold."));
  // closed added iterations are named
  auto closed = with({{11.2, 11.0}, {12.0, 11.7}, {12.6, 12.1}, {13.0, 12.5}});
  closed[3].warm_added_tau = 1e-13;
  closed[4].warm_added_tau = 0.05;
  EXPECT_TRUE(says(classify_depth(closed, 1.0), "warm networks at N = 10 stayed at the identity"));
  EXPECT_FALSE(says(opt, "stayed at the identity"));
  // order of the points does not matter
  auto shuffled = with({{11.2, 11.0}, {12.0, 11.7}, {12.6, 12.1}, {13.0, 12.5}});
  std::reverse(shuffled.begin(), shuffled.end());
  EXPECT_EQ(classify_depth(shuffled, 1.0).explanation, DepthExplanation::Optimization);
}

TEST(DequantDepthFindings, NoPlateauAndUndecided) {
  const std::vector<DepthPoint> rising = {pt(1, 10, 10), pt(2, 11, 11, 11.1, 11.1), pt(5, 12, 12, 12.2, 12.1)};
  EXPECT_EQ(classify_depth(rising, 1.0).explanation, DepthExplanation::NoPlateau);
  const std::vector<DepthPoint> cold_only = {pt(1, 10, 10), pt(2, 11, 11.5), pt(5, 11, 11.45)};
  EXPECT_EQ(classify_depth(cold_only, 1.0).explanation, DepthExplanation::Undecided);
  EXPECT_EQ(classify_depth({pt(3, 1, 1)}, 1.0).explanation, DepthExplanation::Undecided);
}

TEST(DequantDepthStudy, WarmChainKeysAndFiles) {
  varlearn::testing::TempDir d;
  DequantOptions o = small_options(d);
  o.methods = {DequantMethod::Quantized, DequantMethod::Learned};
  o.depths = {3, 1, 2};
  o.warm_start = true;
  o.budget = 1.5;
  const DequantResults r = run_dequant_study(o);
  // quantized, cold N = 3, 1, 2, warm N = 2, 3
  ASSERT_EQ(r.entries.size(), 6u);
  std::vector<const DequantEntry*> cold(4, nullptr), warm(4, nullptr);
  for (const auto& e : r.entries)
    if (e.method == DequantMethod::Learned) (e.warm ? warm : cold)[*e.depth] = &e;
  ASSERT_TRUE(cold[1] && cold[2] && cold[3] && warm[2] && warm[3]);
  EXPECT_FALSE(warm[1]);
  EXPECT_EQ(warm[2]->iterations, 30);  // 1.5 x 20 steps
  EXPECT_DOUBLE_EQ(warm[2]->budget, 1.5);
  // the warm start begins at least where the shallower network ended (float32 training: 1e-3 dB)
  EXPECT_GE(warm[2]->start_train_snr_db, cold[1]->train_snr_db - 1e-3);
  // N = 3 starts from the better-fitting of the cold and the warm N = 2
  EXPECT_GE(warm[3]->start_train_snr_db, std::max(cold[2]->train_snr_db, warm[2]->train_snr_db) - 1e-3);
  EXPECT_EQ(warm[3]->warm_from_warm, warm[2]->train_snr_db > cold[2]->train_snr_db);
  EXPECT_FALSE(warm[2]->warm_from_warm);
  // and training keeps the best monitored parameters (all frames monitored here)
  for (int n : {2, 3}) EXPECT_GE(warm[n]->train_snr_db, warm[n]->start_train_snr_db - 1e-3) << n;
  EXPECT_GT(warm[3]->added_tau_init, 0.0);
  EXPECT_GT(warm[3]->added_tau_learned, 0.0);

  const auto written = write_dequant_outputs(r, d.path / "out");
  auto wrote = [&](const std::string& name) {
    return std::any_of(written.begin(), written.end(), [&](const fs::path& p) { return p.filename() == name; });
  };
  EXPECT_TRUE(wrote("depth_analysis_3bit.png"));
  EXPECT_TRUE(wrote("depth_analysis_3bit.svg"));
  const auto j = nlohmann::json::parse(io::read_text(d.path / "out" / "results.json"));
  EXPECT_EQ(j["warm_start"], true);
  EXPECT_EQ(j["budget"], 1.5);
  for (const auto& e : j["entries"]) {
    for (const char* k : {"snr_db", "train_snr_db", "segsnr_db", "init", "budget", "start_train_snr_db",
                          "added_tau_init", "added_tau_learned", "warm_from"})
      EXPECT_TRUE(e.contains(k)) << k;
    if (e["method"] == "learned") {
      EXPECT_TRUE(e["init"] == "cold" || e["init"] == "warm");
    } else {
      EXPECT_TRUE(e["init"].is_null());
    }
  }
  ASSERT_TRUE(j.contains("depth_analysis"));
  const auto& a = j["depth_analysis"]["3"];
  for (const char* k : {"explanation", "plateau_depth", "deepest", "train_gain_db", "test_gain_db", "findings"})
    EXPECT_TRUE(a.contains(k)) << k;
  EXPECT_EQ(a["deepest"], 3);
  const std::string csv = io::read_text(d.path / "out" / "results.csv");
  EXPECT_NE(csv.find("train_snr_db"), std::string::npos);
  EXPECT_NE(csv.find(",init,budget,start_train_snr_db,"), std::string::npos);
  const std::string md = dequant_summary_markdown(r);
  EXPECT_NE(md.find("### Depth analysis, 3 bits"), std::string::npos);
  EXPECT_NE(md.find("learned (warm)"), std::string::npos);
}

TEST(DequantDepthStudy, ValidationOfTheNewFlags) {
  DequantOptions o;
  o.budget = 2;
  EXPECT_THROW(o.validate(), Error);  // --budget without --warm-start
  o.warm_start = true;
  EXPECT_NO_THROW(o.validate());
  o.per_iteration_stepsizes = false;
  EXPECT_THROW(o.validate(), Error);
  o.per_iteration_stepsizes = true;
  o.depths = {5};
  EXPECT_THROW(o.validate(), Error);
  o.depths = {1, 2, 5, 10, 20, 50};
  EXPECT_NO_THROW(o.validate());
  o.budget = 0;
  EXPECT_THROW(o.validate(), Error);
  o.budget = 1;
  o.methods = {DequantMethod::Classic};
  EXPECT_THROW(o.validate(), Error);
}

TEST(DequantDepthStudy, ResumeReloadsTheWarmChain) {
  varlearn::testing::TempDir d;
  DequantOptions o = small_options(d);
  o.methods = {DequantMethod::Learned};
  o.depths = {1, 2, 3};
  o.warm_start = true;
  const DequantResults ref = run_dequant_study(o);
  const fs::path jdir = d.path / "out.partial";
  run_dequant_study(o, {}, Journal(jdir, dequant_fingerprint(o)));
  // forget the warm N = 2 entry (and its theta): it is retrained from the journaled cold N = 1,
  // and N = 3 is reloaded
  int forgotten = 0;
  std::vector<fs::path> doomed;
  for (const auto& e : fs::directory_iterator(jdir))
    if (e.path().filename().string().find("N2-warm") != std::string::npos) doomed.push_back(e.path());
  for (const auto& p : doomed) forgotten += fs::remove(p);
  EXPECT_GE(forgotten, 2);  // the entry and its theta
  const DequantResults res = run_dequant_study(o, {}, Journal(jdir, dequant_fingerprint(o)));
  ASSERT_EQ(res.entries.size(), ref.entries.size());
  for (size_t i = 0; i < ref.entries.size(); ++i) {
    EXPECT_EQ(res.entries[i].warm, ref.entries[i].warm) << i;
    EXPECT_EQ(res.entries[i].snr_db, ref.entries[i].snr_db) << i;
    EXPECT_EQ(res.entries[i].train_snr_db, ref.entries[i].train_snr_db) << i;
    EXPECT_EQ(res.entries[i].start_train_snr_db, ref.entries[i].start_train_snr_db) << i;
    EXPECT_EQ(res.entries[i].warm_from_warm, ref.entries[i].warm_from_warm) << i;
  }
}
