// The dequantization section of `varlearn reproduce`: runs the study (quick or
// full, from ReportContext::quick), writes its files under <report>/dequant and returns the
// section's markdown with the table, the headline margins and the figures; then the depth
// analysis (cold vs warm-started networks, under <report>/dequant/depth) with its findings.
#include <sstream>
#include <vector>

#include "varlearn/core/format.hpp"
#include "varlearn/study/dequant_depth.hpp"

#include "varlearn/study/dequant_study.hpp"
#include "varlearn/study/report.hpp"

namespace varlearn::study {

namespace {

// The depth analysis (why does deeper unrolling not increase quality?): at 4 bits, learned
// networks of every depth trained cold (from the tuned classic start) and warm (from the
// trained next shallower network, added iterations at the identity); a run of its own so
// that the table above keeps its numbers (depth_analysis_options).
std::string depth_analysis_section(const ReportContext& ctx) {
  const DequantOptions opt = depth_analysis_options(ctx.quick);
  ctx.say("dequant: depth analysis (cold and warm-started networks)");
  const auto res = run_dequant_study(opt, ctx.log, ctx.journal.nested("dequant-depth", dequant_fingerprint(opt)));
  write_dequant_outputs(res, ctx.dir / "dequant" / "depth");
  std::ostringstream md;
  md << "### Why does deeper unrolling not increase quality?\n\n"
     << "At " << opt.bits.front() << " bits the learned network of each depth N is trained twice: cold, from the tuned "
     << "classic start as above, and warm, from the trained network of the next smaller N with the added "
     << "iterations at the identity (step size tau = 1e-13, so the deeper network starts with the shallower one's "
     << "output and training can only improve on it; a larger tau is taken when it lowers the training loss). "
     << "If even the warm networks cannot fit the training frames better, the architecture limits the quality "
     << "(expressivity); if they fit better but the test SNR does not follow, the limit is generalization; if both "
     << "rise, the cold networks were under-trained (optimization). Differences below "
     << format_fixed(kDepthThresholdDb, 2) << " dB count as none. Data: `dequant/depth/results.json` "
     << "(`depth_analysis`).\n\n"
     << depth_analysis_markdown(res) << "![Training and test SNR vs depth, cold vs warm](dequant/depth/depth_analysis_"
     << opt.bits.front() << "bit.png)\n\n";
  return md.str();
}

}  // namespace

DequantOptions report_dequant_options(bool quick) {
  DequantOptions opt;
  opt.quick = quick;
  return opt;
}

std::string dequant_section(const ReportContext& ctx) {
  const DequantOptions opt = report_dequant_options(ctx.quick);
  const auto res = run_dequant_study(opt, ctx.log, ctx.journal.nested("dequant", dequant_fingerprint(opt)));
  const auto dir = ctx.dir / "dequant";
  write_dequant_outputs(res, dir);
  std::ostringstream md;
  md << "## Speech dequantization (classic l1 vs learned unrolled primal–dual network)\n\n"
     << "Speech quantized at b bits is reconstructed per frame by the sparse-DCT l1 problem "
        "(Brauer, Lorenz, Gerkmann 2016) solved by Chambolle–Pock, and by N unrolled Chambolle–Pock "
        "iterations with learned K and step sizes (Brauer, Zhao, Lorenz, Fingscheidt 2019). "
        "Data: `dequant/results.json`, `dequant/results.csv`; audio: `dequant/example_*.wav`.\n\n"
     << dequant_summary_markdown(res) << "\n";
  for (int b : res.options.bits)
    md << "![SNR vs depth, " << b << " bits](dequant/snr_vs_depth_" << b << "bit.png)\n\n";
  if (res.options.bits.size() > 1) md << "![SNR vs bits](dequant/snr_vs_bits.png)\n\n";
  md << depth_analysis_section(ctx);
  return md.str();
}

}  // namespace varlearn::study
