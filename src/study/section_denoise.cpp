#include "varlearn/study/report.hpp"

namespace varlearn::study {
std::string denoise_section(const ReportContext&) {
  return "## denoise\n\nNot built yet.\n";
}
}  // namespace varlearn::study
