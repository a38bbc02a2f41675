#include <memory>
#include <mutex>

#include "varlearn/study/report.hpp"

namespace varlearn::study {

Log serialized_log(const Log& log) {
  if (!log) return {};
  auto mu = std::make_shared<std::mutex>();
  return [log, mu](const std::string& line) {
    const std::lock_guard<std::mutex> lock(*mu);
    log(line);
  };
}

}  // namespace varlearn::study
