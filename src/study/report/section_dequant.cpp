// The dequantization section of `varlearn reproduce`: runs the study (quick or
// full, from ReportContext::quick), writes its files under <report>/dequant and returns the
// section's markdown with the table, the headline margins and the figures.
#include <sstream>

#include "varlearn/study/dequant_study.hpp"
#include "varlearn/study/report.hpp"

namespace varlearn::study {

std::string dequant_section(const ReportContext& ctx) {
  DequantOptions opt;
  opt.quick = ctx.quick;
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
  return md.str();
}

}  // namespace varlearn::study
