#include "varlearn/core/range.hpp"

#include "varlearn/core/format.hpp"

namespace varlearn {

void throw_out_of_range(const std::string& where, const std::string& name, double value, const std::string& accepted) {
  std::string m = where;
  m.append(": ").append(name).append(" = ").append(format_general(value, 10));
  m.append(" out of range (").append(accepted).append(")");
  throw Error(m);
}

void check_range(double value, double lo, double hi, const std::string& where, const std::string& name,
                 const std::string& accepted) {
  if (value >= lo && value <= hi) return;
  std::string a = accepted;
  if (a.empty()) a.append(format_general(lo, 6)).append(" <= ").append(name).append(" <= ").append(format_general(hi, 6));
  throw_out_of_range(where, name, value, a);
}

}  // namespace varlearn
