// Depth analysis of the dequantization study: cold vs warm-started learned networks per depth,
// and the explanation (optimization, generalization, expressivity) the numbers support.
#include "varlearn/study/dequant_depth.hpp"

#include <algorithm>
#include <map>
#include <sstream>

#include "varlearn/core/format.hpp"

namespace varlearn::study {

namespace {
std::string db(double v) { return format_fixed(v, 2) + " dB"; }
std::string signed_db(double v) { return std::string(v >= 0 ? "+" : "") + format_fixed(v, 2) + " dB"; }
std::string budget_words(double budget) {
  return budget == 1.0 ? std::string("the same number of Adam steps")
                       : format_fixed(budget, 2) + " times the Adam steps";
}
}  // namespace

const char* to_string(DepthExplanation e) {
  switch (e) {
    case DepthExplanation::Undecided: return "undecided";
    case DepthExplanation::NoPlateau: return "no plateau";
    case DepthExplanation::Optimization: return "optimization";
    case DepthExplanation::Generalization: return "generalization";
    case DepthExplanation::Expressivity: return "expressivity";
  }
  return "undecided";
}

namespace {
DepthFindings classify(std::vector<DepthPoint> points, double budget, double threshold_db);
}  // namespace

DepthFindings classify_depth(std::vector<DepthPoint> points, double budget, double threshold_db) {
  DepthFindings f = classify(points, budget, threshold_db);
  f.at_half_threshold = classify(points, budget, 0.5 * threshold_db).explanation;
  f.at_double_threshold = classify(points, budget, 2 * threshold_db).explanation;
  const bool decided = f.explanation == DepthExplanation::Optimization ||
                       f.explanation == DepthExplanation::Generalization ||
                       f.explanation == DepthExplanation::Expressivity;
  if (decided && (f.at_half_threshold != f.explanation || f.at_double_threshold != f.explanation))
    f.sentences.push_back(std::string("Borderline: with half the threshold (") + format_fixed(0.5 * threshold_db, 2) +
                          " dB) the verdict is " + to_string(f.at_half_threshold) + ", with twice (" +
                          format_fixed(2 * threshold_db, 2) + " dB) " + to_string(f.at_double_threshold) + ".");
  else if (decided)
    f.sentences.push_back(std::string("The verdict is the same with half and with twice the threshold."));
  // Did the added iterations open?
  std::vector<int> closed;
  std::sort(points.begin(), points.end(), [](const DepthPoint& a, const DepthPoint& b) { return a.depth < b.depth; });
  for (const auto& p : points)
    if (p.warm_added_tau && *p.warm_added_tau <= kClosedStepsize) closed.push_back(p.depth);
  if (!closed.empty()) {
    std::string list;
    for (int d : closed) list += (list.empty() ? "" : ", ") + std::to_string(d);
    f.sentences.push_back(std::string("The added iterations of the warm networks at N = ") + list +
                          " stayed at the identity (mean learned tau <= " + format_general(kClosedStepsize, 1) +
                          "): every larger tau tried at the start raised the training loss, and training did not "
                          "open them, so these networks' gains come from training the shallower iterations further, "
                          "not from the added ones.");
  }
  return f;
}

namespace {
DepthFindings classify(std::vector<DepthPoint> points, double budget, double threshold_db) {
  DepthFindings f;
  f.budget = budget;
  f.threshold_db = threshold_db;
  std::sort(points.begin(), points.end(), [](const DepthPoint& a, const DepthPoint& b) { return a.depth < b.depth; });
  if (points.size() < 2) {
    f.sentences.push_back("Fewer than two depths: no depth analysis.");
    return f;
  }
  const DepthPoint& deep = points.back();
  f.deepest = deep.depth;
  double best_cold_test = points.front().cold_test_db;
  for (const auto& p : points) best_cold_test = std::max(best_cold_test, p.cold_test_db);
  const DepthPoint* plateau = &points.front();
  for (const auto& p : points)
    if (p.cold_test_db >= best_cold_test - threshold_db) {
      plateau = &p;
      break;
    }
  f.plateau_depth = plateau->depth;
  double best_shallower_cold_train = points.front().cold_train_db;
  for (size_t i = 0; i + 1 < points.size(); ++i)
    best_shallower_cold_train = std::max(best_shallower_cold_train, points[i].cold_train_db);
  f.cold_train_drop_db = best_shallower_cold_train - deep.cold_train_db;
  const double test_rise = deep.cold_test_db - points.front().cold_test_db;
  if (f.plateau_depth == f.deepest) {
    f.explanation = DepthExplanation::NoPlateau;
    f.sentences.push_back(std::string("The cold-started test SNR still rises at the deepest N = ") + std::to_string(f.deepest) +
                          " (" + signed_db(test_rise) + " from N = " + std::to_string(points.front().depth) +
                          "): deeper unrolling does help here, there is no plateau to explain.");
  } else {
    f.sentences.push_back(std::string("The cold-started test SNR reaches its plateau at N = ") + std::to_string(f.plateau_depth) +
                          " (" + db(plateau->cold_test_db) + "; within " + format_fixed(threshold_db, 2) +
                          " dB of the best, " + db(best_cold_test) + "); at N = " + std::to_string(f.deepest) +
                          " it is " + db(deep.cold_test_db) + ".");
  }
  if (f.cold_train_drop_db > threshold_db)
    f.sentences.push_back(std::string("The cold-started network at N = ") + std::to_string(f.deepest) + " fits the training frames " +
                          db(f.cold_train_drop_db) + " worse than a shallower cold one (training SNR " +
                          db(deep.cold_train_db) + " vs " + db(best_shallower_cold_train) +
                          "), although it contains it: a symptom of optimization.");
  bool warm = true;
  for (size_t i = 1; i < points.size(); ++i) warm = warm && points[i].warm_train_db && points[i].warm_test_db;
  if (!warm) {
    if (f.explanation != DepthExplanation::NoPlateau) f.explanation = DepthExplanation::Undecided;
    f.sentences.push_back("Without warm-started networks (--warm-start) optimization, generalization and "
                          "expressivity cannot be told apart.");
    return f;
  }
  const double warm_train_d = *deep.warm_train_db, warm_test_d = *deep.warm_test_db;
  const double train_at_r = plateau->warm_train_db ? std::max(plateau->cold_train_db, *plateau->warm_train_db)
                                                   : plateau->cold_train_db;
  f.train_gain_db = warm_train_d - train_at_r;
  f.test_gain_db = warm_test_d - best_cold_test;
  f.warm_over_cold_train_db = warm_train_d - deep.cold_train_db;
  f.warm_over_cold_test_db = warm_test_d - deep.cold_test_db;
  f.generalization_gap_growth_db = (warm_train_d - warm_test_d) - (plateau->cold_train_db - plateau->cold_test_db);
  f.sentences.push_back(std::string("Warm-started from the trained shallower network (added iterations at the identity, ") +
                        budget_words(budget) + "), the network at N = " + std::to_string(f.deepest) +
                        " reaches training SNR " + db(warm_train_d) + " (" + signed_db(f.warm_over_cold_train_db) +
                        " over cold) and test SNR " + db(warm_test_d) + " (" + signed_db(f.warm_over_cold_test_db) +
                        " over cold).");
  if (f.explanation == DepthExplanation::NoPlateau) return f;
  const std::string rd = std::string("N = ") + std::to_string(f.plateau_depth) + " to N = " + std::to_string(f.deepest);
  if (f.train_gain_db <= threshold_db) {
    f.explanation = DepthExplanation::Expressivity;
    f.sentences.push_back(std::string("**Expressivity**: even warm-started, the training SNR gains only ") +
                          signed_db(f.train_gain_db) + " from " + rd + " (threshold " + format_fixed(threshold_db, 2) +
                          " dB): the deeper networks cannot fit the training frames better, so the architecture, "
                          "not its training, limits the quality.");
  } else if (f.test_gain_db <= threshold_db) {
    f.explanation = DepthExplanation::Generalization;
    f.sentences.push_back(std::string("**Generalization**: warm-started, the training SNR gains ") + signed_db(f.train_gain_db) +
                          " from " + rd + ", but the test SNR only " + signed_db(f.test_gain_db) +
                          " over the cold plateau (threshold " + format_fixed(threshold_db, 2) +
                          " dB): the extra fit does not transfer; the gap between training and test SNR grows by " +
                          db(f.generalization_gap_growth_db) + ".");
  } else {
    f.explanation = DepthExplanation::Optimization;
    f.sentences.push_back(std::string("**Optimization**: warm-started, the training SNR gains ") + signed_db(f.train_gain_db) +
                          " from " + rd + " and the test SNR rises " + signed_db(f.test_gain_db) +
                          " above the cold plateau (threshold " + format_fixed(threshold_db, 2) +
                          " dB): the cold-started deeper networks were not trained to what their depth allows.");
  }
  return f;
}
}  // namespace

std::vector<DepthPoint> depth_points(const DequantResults& r, int bits) {
  std::map<int, DepthPoint> by;
  for (const auto& e : r.entries) {
    if (e.method != DequantMethod::Learned || e.bits != bits || !e.depth) continue;
    DepthPoint& p = by[*e.depth];
    p.depth = *e.depth;
    if (e.warm) {
      p.warm_train_db = e.train_snr_db;
      p.warm_test_db = e.snr_db;
      p.warm_added_tau = e.added_tau_learned;
    } else {
      p.cold_train_db = e.train_snr_db;
      p.cold_test_db = e.snr_db;
    }
  }
  std::vector<DepthPoint> out;
  for (const auto& [d, p] : by) out.push_back(p);
  return out;
}

bool has_depth_analysis(const DequantResults& r, int bits) {
  return std::any_of(r.entries.begin(), r.entries.end(), [&](const DequantEntry& e) {
    return e.method == DequantMethod::Learned && e.bits == bits && e.warm;
  });
}

std::string depth_analysis_markdown(const DequantResults& r) {
  std::ostringstream md;
  for (int b : r.options.bits) {
    if (!has_depth_analysis(r, b)) continue;
    const auto points = depth_points(r, b);
    const DepthFindings f = classify_depth(points, r.options.budget);
    md << "### Depth analysis, " << b << " bits\n\n"
       << "Training SNR (on the " << r.train_frames << " training frames) beside test SNR, in dB. Cold: trained from "
       << "the tuned classic start (" << r.options.train_steps << " Adam steps); warm: started from the trained "
       << "network of the next smaller N (cold or warm, whichever has the higher training SNR: \"warm from\") with the "
       << "added iterations at the identity, or at a larger tau where that lowers the training loss ("
       << format_fixed(r.options.budget * r.options.train_steps, 0) << " Adam steps).\n\n"
       << "| N | train cold | test cold | train warm | test warm | warm from | warm start: train SNR | added tau init / learned |\n"
       << "|---:|---:|---:|---:|---:|:-:|---:|---:|\n";
    for (const auto& p : points) {
      const DequantEntry* w = nullptr;
      for (const auto& e : r.entries)
        if (e.method == DequantMethod::Learned && e.bits == b && e.depth == p.depth && e.warm) w = &e;
      md << "| " << p.depth << " | " << format_fixed(p.cold_train_db, 2) << " | " << format_fixed(p.cold_test_db, 2)
         << " | " << (p.warm_train_db ? format_fixed(*p.warm_train_db, 2) : "-") << " | "
         << (p.warm_test_db ? format_fixed(*p.warm_test_db, 2) : "-") << " | "
         << (w ? (w->warm_from_warm ? "warm" : "cold") : "-") << " | " << (w ? format_fixed(w->start_train_snr_db, 2) : "-") << " | "
         << (w ? format_general(w->added_tau_init, 2) + " / " + format_general(w->added_tau_learned, 2) : "-")
         << " |\n";
    }
    md << "\nFindings (" << to_string(f.explanation) << "):\n\n";
    for (const auto& s : f.sentences) md << "- " << s << "\n";
    md << "\n";
  }
  return md.str();
}

DequantOptions depth_analysis_options(bool quick) {
  DequantOptions opt;
  opt.quick = quick;
  opt.bits = {4};
  opt.depths = quick ? std::vector<int>{1, 2, 5, 10} : std::vector<int>{1, 2, 5, 10, 20, 50};
  opt.methods = {DequantMethod::Quantized, DequantMethod::Learned};
  opt.warm_start = true;
  opt.write_audio = false;
  return opt;
}

}  // namespace varlearn::study
