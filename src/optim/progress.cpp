#include "varlearn/optim/progress.hpp"

#include "varlearn/core/error.hpp"
#include "varlearn/core/names.hpp"

namespace varlearn::optim {

namespace {
constexpr NameTable<Status, 5> kStatusNames{{{Status::Converged, "converged"}, {Status::MaxIterations, "max_iterations"},
                                             {Status::Stopped, "stopped"}, {Status::Diverged, "diverged"},
                                             {Status::LineSearchFailed, "line_search_failed"}}};
}  // namespace

const char* to_string(Status s) { return name_of(kStatusNames, s); }
Status parse_status(const std::string& name) { return parse_name(kStatusNames, name, "optimizer status"); }


Validation early_stopping_step(double v, double& best, int& bad, int patience) {
  if (v < best) {
    best = v;
    bad = 0;
    return Validation::Improved;
  }
  if (patience > 0 && ++bad >= patience) return Validation::Stop;
  return Validation::Worse;
}

}  // namespace varlearn::optim
