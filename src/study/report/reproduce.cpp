#include <chrono>
#include <sstream>

#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/study/report.hpp"

namespace varlearn::study {

std::filesystem::path reproduce(const ReproduceOptions& options, const Log& log) {
  io::ensure_writable_dir(options.out);
  ReportContext ctx{options.out, options.quick, log};
  std::ostringstream md;
  md << "# varlearn report\n\n"
     << "Reproduces the study of Brauer, Breustedt, de Wolff, Lorenz, *Learning Variational Models "
        "with Unrolling and Bilevel Optimization* (talk: \"Learning regularizers — bilevel "
        "optimization or unrolling?\"). Every number below was computed by this run"
     << (options.quick ? " (`--quick`: reduced grids and corpora)" : "") << ".\n\n";
  for (const std::string& name : options.sections) {
    const Stopwatch start;
    ctx.say("section " + name + " ...");
    std::string text;
    if (name == "theory") text = theory_section(ctx);
    else if (name == "denoise") text = denoise_section(ctx);
    else if (name == "dequant") text = dequant_section(ctx);
    else throw Error("reproduce: unknown section '" + name + "' (theory, denoise, dequant)");
    const double secs = start.seconds();
    std::ostringstream t;
    t.precision(3);
    t << secs;
    ctx.say("section " + name + " done in " + t.str() + " s");
    md << text << "\n";
  }
  const auto path = options.out / "report.md";
  io::write_atomic(path, md.str());
  return path;
}

}  // namespace varlearn::study
