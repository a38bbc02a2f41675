#include "varlearn/optim/progress.hpp"

#include "varlearn/core/error.hpp"

namespace varlearn::optim {

const char* to_string(Status s) {
  switch (s) {
    case Status::Converged: return "converged";
    case Status::MaxIterations: return "max_iterations";
    case Status::Stopped: return "stopped";
    case Status::Diverged: return "diverged";
    case Status::LineSearchFailed: return "line_search_failed";
  }
  return "?";
}

Status parse_status(const std::string& name) {
  for (Status s : {Status::Converged, Status::MaxIterations, Status::Stopped, Status::Diverged,
                   Status::LineSearchFailed})
    if (name == to_string(s)) return s;
  throw Error("unknown optimizer status '" + name + "'");
}

}  // namespace varlearn::optim
