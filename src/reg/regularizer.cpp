#include "varlearn/reg/regularizer.hpp"

#include "varlearn/core/error.hpp"

namespace varlearn::reg {

void Regularizer::check_frames(const Matrix& f, const char* where, const Matrix* w) const {
  if (f.rows() != dimension())
    throw Error(std::string(where) + ": frames have " + std::to_string(f.rows()) + " rows, expected n = " +
                std::to_string(dimension()));
  if (w != nullptr && (w->rows() != f.rows() || w->cols() != f.cols()))
    throw Error(std::string(where) + ": the direction is " + std::to_string(w->rows()) + " x " +
                std::to_string(w->cols()) + ", expected " + std::to_string(f.rows()) + " x " +
                std::to_string(f.cols()));
}

}  // namespace varlearn::reg
