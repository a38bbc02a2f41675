#pragma once
// Shared between the module's translation units.
#include <pybind11/pybind11.h>

#include <memory>

#include "varlearn/general/experiment.hpp"
#include "varlearn/optim/progress.hpp"

namespace varlearn::python {

namespace py = pybind11;
using namespace pybind11::literals;

/// Ctrl-C during a long computation that runs with the GIL released: the observer re-acquires
/// the GIL at each iteration and runs PyErr_CheckSignals(); a pending KeyboardInterrupt is kept
/// and the method asked to stop (its result at that iterate stays valid); the caller raises it
/// when the library call has returned.
struct InterruptWatch {
  std::unique_ptr<py::error_already_set> pending;
  ~InterruptWatch();
  optim::Observer observer();
  /// Throws the pending exception (the GIL held).
  void raise_if_pending();
};

/// Registers the library objects (DataModel, Family, QuadraticModel, GeneralModel, Operator,
/// Regularizer, dequantization, audio) in `m`.
void bind_objects(py::module_& m);

/// The trained general model of a report, as the Python object GeneralModel.
py::object wrap_general_model(const general::GeneralTrainReport& r);

}  // namespace varlearn::python
