#include "varlearn/study/report.hpp"

namespace varlearn::study {
std::string theory_section(const ReportContext&) { return "## Theory\n\nNot built yet.\n"; }
}  // namespace varlearn::study
