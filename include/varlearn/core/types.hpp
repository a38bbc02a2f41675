#pragma once
/// \file types.hpp
/// Scalar and matrix aliases. Frames are the columns of an n x B matrix.
#include <Eigen/Core>

namespace varlearn {

template <class T> using MatrixT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T> using VectorT = Eigen::Matrix<T, Eigen::Dynamic, 1>;
using Matrix = MatrixT<double>;
using Vector = VectorT<double>;
using Index = Eigen::Index;

}  // namespace varlearn
