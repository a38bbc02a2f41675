#pragma once
// NumPy <-> Eigen for the module. Frames: Python holds them as rows, shape (B, n); the library
// as columns of an n x B column-major matrix. A C-contiguous (B, n) array has exactly the
// memory of that matrix, so it is viewed (Eigen::Map), never copied. Results are new NumPy
// arrays that own their memory (the library's matrix is copied into them once, or computed
// straight into them).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "varlearn/core/types.hpp"

namespace varlearn::python {

namespace py = pybind11;

/// A read-only view of frames given as a (B, n) or (n,) array of scalar T.
template <class T>
struct FramesView {
  Eigen::Map<const MatrixT<T>> map;
  bool one_frame;  ///< given as a 1-D array (n,): results are 1-D too
};

/// The dtype name of `a` ("float64", "int64", ...), for messages.
std::string dtype_name(const py::array& a);

/// Throws ValueError unless `a` is a C-contiguous float array of `dtype` with 1 or 2 dimensions.
void require_frames(const py::array& a, const char* what, const char* accepted);

/// `a` as frames of scalar T (dtype checked by the caller with require_frames).
template <class T>
FramesView<T> frames_view(const py::array& a) {
  const bool one = a.ndim() == 1;
  const Index b = one ? 1 : Index(a.shape(0));
  const Index n = one ? Index(a.shape(0)) : Index(a.shape(1));
  return {Eigen::Map<const MatrixT<T>>(static_cast<const T*>(a.data()), n, b), one};
}

/// Frames (n x B, any dtype convertible) from a float64 (B, n) or (n,) C-contiguous array, as
/// an owned matrix (a copy: for library calls that take `const Matrix&`).
Matrix frames_copy(const py::array& a, const char* what);

/// A new (B, n) array (or (n,) when `one_frame`) with the frames of m (n x B).
template <class T>
py::array_t<T> frames_to_numpy(const MatrixT<T>& m, bool one_frame = false) {
  py::array_t<T> out = one_frame ? py::array_t<T>(py::ssize_t(m.rows()))
                                 : py::array_t<T>({py::ssize_t(m.cols()), py::ssize_t(m.rows())});
  Eigen::Map<MatrixT<T>>(out.mutable_data(), m.rows(), m.cols()) = m;
  return out;
}

/// A mathematical matrix (R k x n, Sigma n x n) keeps its shape: a new (rows, cols) array.
py::array_t<double> matrix_to_numpy(const Matrix& m);
/// A 2-D array of numbers (any dtype, any layout; copied) as a Matrix of the same shape.
Matrix matrix_from_numpy(const py::array& a, const char* what);

py::array_t<double> vector_to_numpy(const Vector& v);
Vector vector_from_numpy(const py::array& a, const char* what);

}  // namespace varlearn::python
