// The compiled part of the Python module varlearn (varlearn._varlearn): error mapping, the
// command functions (every CLI subcommand run in-process through the CLI's own option groups,
// checks and library calls, so the numbers are the command line's), and the array helpers.
// The library objects are bound in objects.cpp.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrays.hpp"
#include "bindings.hpp"
#include "varlearn/core/memory.hpp"
#include "varlearn/commands.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/options.hpp"
#include "varlearn/version.hpp"

namespace varlearn::python {

// ---------------------------------------------------------------------------------------
// Arrays

std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

void require_frames(const py::array& a, const char* what, const char* accepted) {
  if (a.ndim() != 1 && a.ndim() != 2)
    throw py::value_error(std::string(what) + ": expected frames as a 2-D array of shape (B, n) (one frame per "
                          "row) or a 1-D array (n,), got " + std::to_string(a.ndim()) + " dimensions");
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(what) + ": the array is not C-contiguous (a transposed or sliced view); "
                          "pass np.ascontiguousarray(x)");
  if (a.size() == 0) throw py::value_error(std::string(what) + ": the array is empty");
  (void)accepted;
}

Matrix frames_copy(const py::array& a, const char* what) {
  if (!py::isinstance<py::array_t<double>>(a) || !(a.dtype().is(py::dtype::of<double>())))
    throw py::value_error(std::string(what) + ": expected a float64 array, got " + dtype_name(a) +
                          " (convert with np.asarray(x, dtype=np.float64))");
  require_frames(a, what, "float64");
  return Matrix(frames_view<double>(a).map);
}

py::array_t<double> matrix_to_numpy(const Matrix& m) {
  py::array_t<double> out({py::ssize_t(m.rows()), py::ssize_t(m.cols())});
  Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(out.mutable_data(), m.rows(),
                                                                                     m.cols()) = m;
  return out;
}

Matrix matrix_from_numpy(const py::array& a, const char* what) {
  if (a.ndim() != 2)
    throw py::value_error(std::string(what) + ": expected a 2-D array, got " + std::to_string(a.ndim()) + " dimensions");
  const auto kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u')
    throw py::value_error(std::string(what) + ": expected an array of real numbers, got " + dtype_name(a));
  const auto d = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      d.data(), a.shape(0), a.shape(1));
}

py::array_t<double> vector_to_numpy(const Vector& v) {
  py::array_t<double> out(py::ssize_t(v.size()));
  Eigen::Map<Vector>(out.mutable_data(), v.size()) = v;
  return out;
}

Vector vector_from_numpy(const py::array& a, const char* what) {
  if (a.ndim() != 1)
    throw py::value_error(std::string(what) + ": expected a 1-D array, got " + std::to_string(a.ndim()) + " dimensions");
  const auto kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u')
    throw py::value_error(std::string(what) + ": expected an array of real numbers, got " + dtype_name(a));
  const auto d = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
  return Eigen::Map<const Vector>(d.data(), a.shape(0));
}

// ---------------------------------------------------------------------------------------
// Interruption

InterruptWatch::~InterruptWatch() = default;

optim::Observer InterruptWatch::observer() {
  return [this](const optim::Progress&) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {  // runs the Python handler: KeyboardInterrupt (or another error)
      pending = std::make_unique<py::error_already_set>();
      return false;  // the method stops at this iterate: a valid result
    }
    return true;
  };
}

void InterruptWatch::raise_if_pending() {
  if (pending) {
    std::unique_ptr<py::error_already_set> e = std::move(pending);
    throw *e;
  }
}

namespace {

// ---------------------------------------------------------------------------------------
// Commands

std::unique_ptr<CLI::App> make_app() {
  auto app = std::make_unique<CLI::App>("varlearn");
  app->require_subcommand(1);
  cli::add_theory(*app);
  cli::add_train(*app);
  cli::add_eval(*app);
  cli::add_study(*app);
  cli::add_reproduce(*app);
  cli::add_info(*app);
  cli::enforce_strict_numbers(*app);
  return app;
}

CLI::App* find_command(CLI::App& app, const std::vector<std::string>& path) {
  CLI::App* a = &app;
  for (const std::string& p : path) {
    CLI::App* next = nullptr;
    for (CLI::App* s : a->get_subcommands([](CLI::App*) { return true; }))
      if (s->get_name() == p) next = s;
    if (next == nullptr) throw py::value_error("no command '" + p + "'");
    a = next;
  }
  return a;
}

/// The leaf commands (paths) with their descriptions.
void walk(CLI::App* a, std::vector<std::string>& prefix, py::list& out) {
  const auto subs = a->get_subcommands([](CLI::App*) { return true; });
  if (subs.empty()) {
    out.append(py::make_tuple(py::cast(prefix), a->get_description()));
    return;
  }
  for (CLI::App* s : subs) {
    prefix.push_back(s->get_name());
    walk(s, prefix, out);
    prefix.pop_back();
  }
}

py::list commands() {
  auto app = make_app();
  py::list out;
  std::vector<std::string> prefix;
  walk(app.get(), prefix, out);
  return out;
}

/// The options of one command: (name without dashes, is_flag, takes_many, default, help, required).
py::list command_options(const std::vector<std::string>& path) {
  auto app = make_app();
  CLI::App* sub = find_command(*app, path);
  py::list out;
  for (const CLI::Option* o : sub->get_options()) {
    if (o->get_lnames().empty()) continue;
    const std::string name = o->get_lnames().front();
    if (name == "help") continue;
    out.append(py::make_tuple(name, o->get_expected_max() == 0, o->get_items_expected_max() > 1,
                              o->get_default_str(), o->get_description(), o->get_required()));
  }
  return out;
}

std::string command_help(const std::vector<std::string>& path) {
  auto app = make_app();
  CLI::App* sub = find_command(*app, path);
  return sub->get_description();
}

py::object json_to_python(const nlohmann::json& j) {
  return py::module_::import("json").attr("loads")(j.dump());
}

/// Runs `varlearn ARGS...` in-process: returns {"json": the result object (None when the command
/// prints none), "model": the trained model (train) or None, "interrupt": the pending
/// KeyboardInterrupt (an exception object) when Ctrl-C stopped a training run, else None}.
py::dict run_command(const std::vector<std::string>& args) {
  std::optional<nlohmann::json> result;
  std::optional<learn::TrainReport> trained;
  std::optional<general::GeneralTrainReport> trained_general;
  InterruptWatch watch;
  cli::Embedding e;
  e.result = [&](const nlohmann::json& j) { result = j; };
  e.trained = [&](const learn::TrainReport& r) { trained = r; };
  e.trained_general = [&](const general::GeneralTrainReport& r) { trained_general = r; };
  e.observer = watch.observer();
  e.arrays = true;
  std::vector<std::string> argv_text{"varlearn"};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_text) argv.push_back(s.data());
  {
    py::gil_scoped_release release;
    auto app = make_app();
    cli::EmbeddingScope scope(&e);
    try {
      app->parse(int(argv.size()), argv.data());
    } catch (const CLI::CallForHelp&) {
      throw Error("help is not a command here: see help(varlearn...) or the docstring");
    } catch (const CLI::ParseError& err) {
      throw Error(err.what());
    }
  }
  py::dict out;
  out["json"] = result ? json_to_python(*result) : py::none();
  out["model"] = py::none();
  if (trained) out["model"] = py::cast(trained->model);
  if (trained_general) out["model"] = wrap_general_model(*trained_general);
  out["interrupt"] = py::none();
  if (watch.pending) {
    out["interrupt"] = watch.pending->value();
    watch.pending.reset();
  }
  return out;
}

}  // namespace
}  // namespace varlearn::python

PYBIND11_MODULE(_varlearn, m) {
  using namespace varlearn::python;
  m.doc() = "varlearn's compiled core: the command functions and the library objects (see the package varlearn)";
  m.attr("__version__") = std::string(varlearn::version);

  // Errors: the library's bad input (varlearn::Error, Kind::BadInput) is ValueError with the
  // library's message; its internal failures RuntimeError; malformed JSON files ValueError.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const varlearn::Error& e) {
      if (e.kind() == varlearn::Error::Kind::BadInput) PyErr_SetString(PyExc_ValueError, e.what());
      else PyErr_SetString(PyExc_RuntimeError, (std::string("internal: ") + e.what()).c_str());
    } catch (const nlohmann::json::exception& e) {
      PyErr_SetString(PyExc_ValueError, (std::string("malformed JSON: ") + e.what()).c_str());
    }
  });

  m.def("_commands", &commands, "The command line's leaf commands: [(path, description)]");
  m.def("_options", &command_options, "path"_a,
        "The options of a command: [(name, is_flag, takes_many, default, help, required)]");
  m.def("_description", &command_help, "path"_a);
  m.def("_run", &run_command, "args"_a,
        "Runs the command line's ARGS in-process (GIL released); returns {json, model, interrupt}");
  m.def(
      "_keep_freed_memory",
      [] {
        const varlearn::FreedMemoryPolicy p = varlearn::keep_freed_memory();
        return py::make_tuple(p.applied, std::string(p.reason));
      },
      "core/memory.hpp's keep_freed_memory: (applied, reason)");
  m.def(
      "_debug_throw",
      [](const std::string& kind) {
        if (kind == "bad_input") throw varlearn::Error("debug: bad input");
        throw varlearn::Error("debug: internal failure", varlearn::Error::Kind::Internal);
      },
      "kind"_a, "Throws the library's error of `kind` (tests of the error mapping)");
  bind_objects(m);
}
