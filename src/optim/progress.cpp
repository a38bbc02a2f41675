#include "varlearn/optim/progress.hpp"

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

}  // namespace varlearn::optim
