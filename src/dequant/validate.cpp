#include "validate.hpp"

#include <algorithm>
#include <cmath>

#include "varlearn/core/error.hpp"

namespace varlearn::dequant {

void check_cells(const std::string& where, const Matrix& s, const Matrix& l, const Matrix& u) {
  require(s.rows() >= 1 && s.cols() >= 1, where, "empty batch of frames");
  require(l.rows() == s.rows() && l.cols() == s.cols() && u.rows() == s.rows() && u.cols() == s.cols(), where,
          "quantized (" + std::to_string(s.rows()) + "x" + std::to_string(s.cols()) +
              "), lower and upper cell bounds must have the same shape");
  require(s.allFinite() && l.allFinite() && u.allFinite(), where, "non-finite sample or cell bound");
  require((l.array() <= s.array()).all() && (s.array() <= u.array()).all(), where,
          "every quantized sample must lie in its cell [lower, upper]");
}

double max_cell_violation(const Matrix& v, const Matrix& l, const Matrix& u) {
  return std::max(0.0, std::max((l - v).maxCoeff(), (v - u).maxCoeff()));
}

}  // namespace varlearn::dequant
