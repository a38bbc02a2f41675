#pragma once
/// \file dequant_depth.hpp
/// Why does deeper unrolling not increase dequantization quality? The depth analysis of the
/// dequantization study reads, per depth N, the training and test SNR of the learned network
/// trained from the classic start ("cold") and of the one warm-started from the trained next
/// shallower network with its added iterations at the identity ("warm", possibly with a longer
/// budget), and says which explanation the numbers support:
///
/// - optimization: helped (warm) deeper networks fit the training frames better AND the test
///   SNR rises above the cold networks' plateau: the cold deeper networks were under-trained;
/// - generalization: the helped deeper networks fit the training frames better but the test
///   SNR does not follow: the extra fit does not transfer (overfitting);
/// - expressivity: even the helped deeper networks do not fit the training frames better than
///   the plateau depth: the architecture cannot do better.
///
/// With R the plateau depth (the smallest N whose cold test SNR is within the threshold of
/// the best cold test SNR) and D the deepest N:
///   train_gain = warm training SNR at D - best (cold or warm) training SNR at R,
///   test_gain  = warm test SNR at D - best cold test SNR.
/// train_gain <= threshold: expressivity; else test_gain <= threshold: generalization; else
/// optimization. R = D (the cold test SNR still rises at the deepest N): no plateau to explain.
/// The findings also say when the verdict changes at half or twice the threshold, and when the
/// warm networks' added iterations stayed at the identity (learned tau <= kClosedStepsize).
#include <optional>
#include <string>
#include <vector>

#include "varlearn/study/dequant_study.hpp"

namespace varlearn::study {

/// The threshold in dB below which a difference counts as no change.
inline constexpr double kDepthThresholdDb = 0.1;

/// One depth: SNRs in dB of the cold network and (absent at the shallowest N, whose warm
/// network is the cold one) the warm one.
struct DepthPoint {
  int depth = 0;
  double cold_train_db = 0, cold_test_db = 0;
  std::optional<double> warm_train_db, warm_test_db;
  std::optional<double> warm_added_tau;  ///< mean learned tau of the warm network's added iterations
};

/// Learned tau at or below this: the added iterations stayed at the identity.
inline constexpr double kClosedStepsize = 1e-6;

enum class DepthExplanation {
  Undecided,       ///< fewer than two depths, or no warm networks
  NoPlateau,       ///< the cold test SNR still rises at the deepest N
  Optimization,
  Generalization,
  Expressivity,
};
const char* to_string(DepthExplanation e);  ///< "undecided", "no plateau", "optimization", ...

struct DepthFindings {
  DepthExplanation explanation = DepthExplanation::Undecided;
  int plateau_depth = 0, deepest = 0;
  double budget = 1;                    ///< the warm networks' Adam steps / the cold ones'
  double threshold_db = kDepthThresholdDb;
  double train_gain_db = 0;             ///< see the file comment
  double test_gain_db = 0;              ///< see the file comment
  double warm_over_cold_train_db = 0;   ///< warm - cold training SNR at D
  double warm_over_cold_test_db = 0;    ///< warm - cold test SNR at D
  double cold_train_drop_db = 0;        ///< best cold training SNR at N < D - cold training SNR at D (> 0: deeper cold fits worse)
  double generalization_gap_growth_db = 0;  ///< (train - test) of warm at D - (train - test) of cold at R
  std::vector<std::string> sentences;   ///< the findings, one sentence each, with their numbers
  /// The verdicts with half and twice the threshold (the robustness of the call).
  DepthExplanation at_half_threshold = DepthExplanation::Undecided, at_double_threshold = DepthExplanation::Undecided;
};

/// Classifies the pattern (points in any order; each depth once). Pure function of the numbers.
DepthFindings classify_depth(std::vector<DepthPoint> points, double budget, double threshold_db = kDepthThresholdDb);

/// The depth points of the learned entries at b bits (empty without learned entries).
std::vector<DepthPoint> depth_points(const DequantResults& results, int bits);

/// True when the results hold warm-started networks at b bits.
bool has_depth_analysis(const DequantResults& results, int bits);

/// The markdown of the depth analysis at every b with warm networks: a table (N, training and
/// test SNR cold and warm) and the findings; "" when there is none.
std::string depth_analysis_markdown(const DequantResults& results);

/// The report's depth-analysis run: 4 bits, depths {1, 2, 5, 10, 20, 50} ({1, 2, 5, 10} quick),
/// the quantized baseline and the learned network, warm start, no audio. The same as
///   varlearn study dequant --bits 4 --depths <depths> --methods quantized,learned --warm-start [--quick]
DequantOptions depth_analysis_options(bool quick);

}  // namespace varlearn::study
