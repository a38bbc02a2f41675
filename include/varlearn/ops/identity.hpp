#pragma once
/// \file identity.hpp
/// \f$A = I_n\f$: denoising. apply and adjoint return a copy of their input, bit for bit.
#include <string>

#include "varlearn/core/types.hpp"

namespace varlearn::ops {

class Identity {
public:
  /// Throws Error unless n >= 1.
  explicit Identity(Index n);
  template <class T>
  MatrixT<T> apply(const MatrixT<T>& f) const;
  template <class T>
  MatrixT<T> adjoint(const MatrixT<T>& g) const;
  Index input_size() const { return n_; }
  Index output_size() const { return n_; }
  Index batch_size() const { return 0; }
  double norm_squared_bound() const { return 1.0; }  ///< \f$\|I\|^2 = 1\f$, exact
  static constexpr bool is_identity() { return true; }  ///< (Operator::identity())
  std::string describe() const;  ///< "identity (n = 7)"

private:
  Index n_;
};

}  // namespace varlearn::ops
