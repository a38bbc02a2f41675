#include "varlearn/study/report.hpp"

namespace varlearn::study {
std::string dequant_section(const ReportContext&) {
  return "## dequant\n\nNot built yet.\n";
}
}  // namespace varlearn::study
