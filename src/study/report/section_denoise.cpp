// The speech denoising section of `varlearn reproduce`: runs the study (quick or full, from
// ReportContext::quick), writes its files under <report>/denoise and returns the section's
// markdown (findings, figures, table).
#include <algorithm>
#include <sstream>

#include "varlearn/study/denoise_study.hpp"
#include "varlearn/study/report.hpp"

namespace varlearn::study {
namespace fs = std::filesystem;

DenoiseOptions report_denoise_options(bool quick) {
  DenoiseOptions o;
  o.quick = quick;
  // Rank analysis at k = 1, n/10 and n (bilevel vs unrolled below full rank), at depths
  // 1, 2, 3, 4 and 10.
  const Index n = o.resolved().n;
  o.ranks = {1, std::max<Index>(2, n / 10), n};
  o.rank_depths = {1, 2, 3, 4, 10};
  return o;
}

std::string denoise_section(const ReportContext& ctx) {
  const DenoiseOptions o = report_denoise_options(ctx.quick);
  const DenoiseResults r = run_denoise_study(o, ctx.log, ctx.journal.nested("denoise", denoise_fingerprint(o)));
  const fs::path sub = ctx.dir / "denoise";
  write_denoise_outputs(r, sub);
  std::ostringstream md;
  md << "## Speech denoising: bilevel vs unrolling on real speech\n\n"
     << "The talk's reality check on Debian's codec2 speech (`varlearn study denoise"
     << (ctx.quick ? " --quick" : "") << " --k " << o.ranks[0] << "," << o.ranks[1] << "," << o.ranks[2]
     << " --rank-depths 1,2,3,4,10`; files in `denoise/`, WAVs of test file `"
     << fs::path(r.demo_file).filename().string() << "`).\n\n"
     << denoise_findings(r) << "\n![MSE vs depth](denoise/mse_vs_depth.png)\n\n"
     << "![training vs theory](denoise/train_vs_theory.png)\n\n"
     << "![MSE vs rank](denoise/mse_vs_rank.png)\n\n"
     << denoise_table(r) << "\n" << denoise_rank_table(r);
  return md.str();
}

}  // namespace varlearn::study
