// The library's objects for Python: data models, spectral families and the exact optima,
// the quadratic model (denoise without copying its input), the general model, operators and
// regularizers, dequantization (Chambolle–Pock, the learned primal–dual network) and audio.
// Frames are rows in Python ((B, n)), columns in the library (n x B): the same memory.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrays.hpp"
#include "bindings.hpp"
#include "varlearn/audio/audio_file.hpp"
#include "varlearn/audio/framing.hpp"
#include "varlearn/audio/quantizer.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/dequant/chambolle_pock.hpp"
#include "varlearn/dequant/unrolled.hpp"
#include "varlearn/general/model.hpp"
#include "varlearn/general/train.hpp"
#include "varlearn/learn/checkpoint.hpp"
#include "varlearn/learn/model.hpp"
#include "varlearn/ops/identity.hpp"
#include "varlearn/ops/model.hpp"
#include "varlearn/reg/regularizer.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/family.hpp"
#include "varlearn/theory/optimal.hpp"
#include "varlearn/theory/risk.hpp"

namespace varlearn::python {
namespace {

using Reg = reg::Regularizer<double>;

/// The address of the last input that QuadraticModel.denoise read (zero-copy check in tests).
const void* last_denoise_input = nullptr;

py::object json_to_python(const nlohmann::json& j) { return py::module_::import("json").attr("loads")(j.dump()); }

nlohmann::json python_to_json(const py::object& o) {
  return nlohmann::json::parse(py::module_::import("json").attr("dumps")(o).cast<std::string>());
}

py::dict optimal_dict(const theory::OptimalRisk& r) {
  py::dict d;
  d["risk"] = r.risk;
  d["attained"] = r.attained;
  d["stepsize"] = r.stepsize;
  d["stepsize_interval"] = r.stepsize_interval ? py::object(py::make_tuple(r.stepsize_interval->first,
                                                                            r.stepsize_interval->second))
                                               : py::none();
  d["free_directions"] = r.free_directions;
  if (r.regularizer.size() > 0) d["regularizer"] = matrix_to_numpy(r.regularizer);
  if (r.denoiser.size() > 0) d["denoiser"] = matrix_to_numpy(r.denoiser);
  if (r.regularizer.size() > 0 || r.denoiser.size() > 0) d["regularizer_risk"] = r.regularizer_risk;
  return d;
}

/// T X for frames X given as a (B, n) / (n,) float64 or float32 C-contiguous array, computed
/// from the caller's memory (Eigen::Map) straight into the new output array.
py::array denoise_frames(const Matrix& t, const py::array& x) {
  const char* what = "denoise";
  const bool f64 = x.dtype().is(py::dtype::of<double>());
  const bool f32 = x.dtype().is(py::dtype::of<float>());
  if (!f64 && !f32)
    throw py::value_error(std::string(what) + ": expected a float64 or float32 array, got " + dtype_name(x) +
                          " (convert with np.asarray(x, dtype=np.float64))");
  require_frames(x, what, "float64 or float32");
  const Index n = x.ndim() == 1 ? Index(x.shape(0)) : Index(x.shape(1));
  if (n != t.rows())
    throw py::value_error(std::string(what) + ": frames have n = " + std::to_string(n) + " samples, the model n = " +
                          std::to_string(t.rows()) + " (frames are rows: shape (B, n))");
  last_denoise_input = x.data();
  auto run = [&](auto scalar) -> py::array {
    using T = decltype(scalar);
    const FramesView<T> v = frames_view<T>(x);
    py::array_t<T> out = v.one_frame ? py::array_t<T>(py::ssize_t(n))
                                     : py::array_t<T>({py::ssize_t(v.map.cols()), py::ssize_t(n)});
    Eigen::Map<MatrixT<T>> o(out.mutable_data(), n, v.map.cols());
    {
      py::gil_scoped_release release;
      if constexpr (std::is_same_v<T, double>) o.noalias() = t * v.map;
      else o.noalias() = t.cast<float>() * v.map;
    }
    return out;
  };
  return f64 ? run(double{}) : run(float{});
}

learn::QuadraticModel make_quadratic(const py::array& r, const std::string& method, int depth,
                                     const py::object& stepsize, const std::string& stepsize_mode) {
  learn::ModelSpec spec;
  const Matrix rm = matrix_from_numpy(r, "regularizer R (k x n)");
  spec.n = rm.cols();
  spec.rank = rm.rows();
  spec.method = learn::parse_method(method);
  spec.depth = spec.method == learn::Method::Bilevel ? 1 : depth;
  spec.stepsize_mode = learn::parse_stepsize_mode(stepsize_mode);
  std::vector<double> omega;
  if (py::isinstance<py::float_>(stepsize) || py::isinstance<py::int_>(stepsize)) omega = {stepsize.cast<double>()};
  else omega = stepsize.cast<std::vector<double>>();
  spec.validate();
  return learn::QuadraticModel::from_regularizer(spec, rm, omega);
}

/// A trained general model with what it needs to denoise on its own: the frame length.
struct GeneralModelHandle {
  general::GeneralModel model;
  Index n = 0;
  std::string op, regularizer;
};

ops::Operator operator_or_identity(const py::object& op, Index n) {
  if (op.is_none()) return ops::Identity(n);
  return op.cast<ops::Operator>();
}

Matrix frames_arg(const py::array& a, const char* what) { return frames_copy(a, what); }

}  // namespace

py::object wrap_general_model(const general::GeneralTrainReport& r) {
  GeneralModelHandle h;
  h.model = r.model;
  h.n = r.n;
  h.op = r.op;
  h.regularizer = r.regularizer;
  return py::cast(std::move(h));
}

void bind_objects(py::module_& m) {
  m.def("_debug_last_denoise_input", [] { return reinterpret_cast<std::uintptr_t>(last_denoise_input); },
        "Address of the last array QuadraticModel.denoise read its frames from (tests: no copy was made)");

  // ---------------------------------------------------------------------------------------
  // Theory
  py::class_<theory::DataModel>(m, "DataModel", R"doc(
Second moment Sigma = E[y y^T] of the clean signal of the toy model x = y + eps,
eps ~ N(0, sigma^2 I), held as its spectrum (eigenvalue groups with multiplicities).

  DataModel.constant(n, mu=1, theta=0)   y = lambda 1:  Sigma = (mu^2 + theta^2) 1 1^T
  DataModel.iid(n, mu=1, theta=0)        Sigma = mu^2 1 1^T + theta^2 I
  DataModel.ar1(n, mu=1, theta=0, rho=0.5)  Sigma = mu^2 1 1^T + theta^2 rho^|i-j|
  DataModel.dense(sigma)                 any symmetric PSD n x n NumPy array
  DataModel.from_frames(frames)          Sigma = Y Y^T / B of clean frames (B, n)
)doc")
      .def_static("constant", &theory::DataModel::constant, "n"_a, "mu"_a = 1.0, "theta"_a = 0.0)
      .def_static("iid", &theory::DataModel::iid, "n"_a, "mu"_a = 1.0, "theta"_a = 0.0)
      .def_static("ar1", &theory::DataModel::ar1, "n"_a, "mu"_a = 1.0, "theta"_a = 0.0, "rho"_a = 0.5)
      .def_static(
          "dense",
          [](const py::array& sigma) {
            return theory::DataModel::dense(matrix_from_numpy(sigma, "second moment"), "second moment (NumPy array)");
          },
          "sigma"_a, "A symmetric positive semidefinite n x n second moment (checked; copied)")
      .def_static(
          "from_frames",
          [](const py::array& frames) {
            const Matrix y = frames_arg(frames, "from_frames");
            Matrix s = y * y.transpose() / double(y.cols());
            s = 0.5 * (s + s.transpose());
            return theory::DataModel::dense(s, "frames (NumPy array)");
          },
          "frames"_a, "Sigma = Y Y^T / B of clean frames given as rows, shape (B, n)")
      .def_property_readonly("n", &theory::DataModel::n)
      .def_property_readonly("name", &theory::DataModel::name)
      .def_property_readonly("trace", &theory::DataModel::trace)
      .def_property_readonly(
          "eigenvalues",
          [](const theory::DataModel& d) {
            std::vector<double> out;
            for (const auto& g : d.spectrum()) out.insert(out.end(), size_t(g.multiplicity), g.gamma);
            return vector_to_numpy(Eigen::Map<const Vector>(out.data(), Index(out.size())));
          },
          "Eigenvalues gamma_i of Sigma (with multiplicity)")
      .def("second_moment", [](const theory::DataModel& d) { return matrix_to_numpy(d.second_moment()); },
           "Sigma as a dense n x n array")
      .def("__repr__", [](const theory::DataModel& d) {
        return "<varlearn.DataModel " + d.name() + " n=" + std::to_string(d.n()) + ">";
      });

  py::class_<theory::Family>(m, "Family", R"doc(
Spectral family f of the denoiser T_R = f(R^T R), acting on the eigenvalues s >= 0 of R^T R:
  Family.bilevel():             f(s) = 1 / (1 + s)
  Family.unrolled(N, omega):    f(s) = (1 - (1 - omega (1 + s))^N) / (1 + s)   (N gradient steps from 0)
)doc")
      .def_static("bilevel", &theory::Family::bilevel)
      .def_static("unrolled", &theory::Family::unrolled, "depth"_a, "stepsize"_a)
      .def_property_readonly("is_bilevel", &theory::Family::is_bilevel)
      .def_property_readonly("depth", &theory::Family::depth)
      .def_property_readonly("stepsize", &theory::Family::stepsize)
      .def("__call__", [](const theory::Family& f, double s) { return f(s); }, "s"_a, "f(s), s >= 0")
      .def("derivative", &theory::Family::derivative, "s"_a)
      .def("at_zero", &theory::Family::at_zero, "b = f(0): the eigenvalue of T on ker R")
      .def("range", [](const theory::Family& f) {
        const theory::Interval i = f.range();
        return py::make_tuple(i.lo, i.hi);
      }, "F = f([0, inf)) as (lo, hi)")
      .def("apply", [](const theory::Family& f, const py::array& a) { return matrix_to_numpy(f.apply(matrix_from_numpy(a, "matrix"))); },
           "m"_a, "f(M) of a symmetric positive semidefinite matrix M")
      .def("__repr__", [](const theory::Family& f) { return "<varlearn.Family " + f.describe() + ">"; });

  m.def(
      "_best_linear",
      [](const theory::DataModel& d, double sigma) {
        theory::OptimalRisk r;
        {
          py::gil_scoped_release release;
          r = theory::best_linear(d, sigma);
        }
        return optimal_dict(r);
      },
      "data"_a, "sigma"_a);
  m.def(
      "_best_bilevel",
      [](const theory::DataModel& d, double sigma, Index k, bool realize) {
        theory::OptimalOptions o;
        o.with_regularizer = realize;
        theory::OptimalRisk r;
        {
          py::gil_scoped_release release;
          r = theory::best_bilevel(d, sigma, k, o);
        }
        return optimal_dict(r);
      },
      "data"_a, "sigma"_a, "k"_a, "realize"_a = false);
  m.def(
      "_best_unrolled",
      [](const theory::DataModel& d, double sigma, Index k, int depth, std::optional<double> stepsize, bool realize) {
        theory::OptimalOptions o;
        o.with_regularizer = realize;
        theory::OptimalRisk r;
        {
          py::gil_scoped_release release;
          r = stepsize ? theory::best_unrolled(d, sigma, k, depth, *stepsize, o)
                       : theory::best_unrolled_learned(d, sigma, k, depth, o);
        }
        return optimal_dict(r);
      },
      "data"_a, "sigma"_a, "k"_a, "depth"_a, "stepsize"_a = py::none(), "realize"_a = false);
  m.def(
      "_risk_of_denoiser",
      [](const theory::DataModel& d, double sigma, const py::array& t) {
        const theory::RiskSplit r = theory::risk(d, sigma, matrix_from_numpy(t, "denoiser T"));
        return py::make_tuple(r.total(), r.bias, r.variance);
      },
      "data"_a, "sigma"_a, "t"_a);

  // ---------------------------------------------------------------------------------------
  // The quadratic model
  py::class_<learn::QuadraticModel>(m, "QuadraticModel", R"doc(
The talk's trainable model: the lower level min_z 1/2 |z - x|^2 + 1/2 |R z|^2, R (k x n), solved
exactly (bilevel: T_R = (I + R^T R)^-1) or by N gradient steps from z^0 = 0 with stepsize omega
(unrolled). Either way the denoiser is linear, x -> T_R x.

QuadraticModel(regularizer, method="unrolled", depth=2, stepsize=0.5, stepsize_mode="learned"):
  regularizer: R as a (k, n) array; stepsize: omega (or N values, stepsize_mode="per-iteration").
)doc")
      .def(py::init(&make_quadratic), "regularizer"_a, "method"_a = "unrolled", "depth"_a = 2, "stepsize"_a = 0.5,
           "stepsize_mode"_a = "learned")
      .def_static(
          "random",
          [](Index n, Index k, const std::string& method, int depth, const std::string& stepsize_mode, double scale,
             double stepsize, std::uint64_t seed) {
            learn::ModelSpec spec;
            spec.n = n;
            spec.rank = k > 0 ? k : n;
            spec.method = learn::parse_method(method);
            spec.depth = spec.method == learn::Method::Bilevel ? 1 : depth;
            spec.stepsize_mode = learn::parse_stepsize_mode(stepsize_mode);
            spec.validate();
            learn::InitOptions o;
            o.scale = scale;
            o.stepsize = stepsize;
            o.seed = seed;
            o.validate();
            return learn::QuadraticModel::random(spec, o);
          },
          "n"_a, "k"_a = 0, "method"_a = "unrolled", "depth"_a = 2, "stepsize_mode"_a = "learned", "scale"_a = 1.0,
          "stepsize"_a = 0.5, "seed"_a = 1,
          "Random R = scale G / sqrt(n) (G standard Gaussian, seeded), k = 0 means n")
      .def_static(
          "load",
          [](const std::filesystem::path& path) { return learn::load_model(path).model; }, "path"_a,
          "Reads a checkpoint (train(save=...), or save()); a training checkpoint is read as its model")
      .def_static(
          "load_with_meta",
          [](const std::filesystem::path& path) {
            learn::LoadedModel l = learn::load_model(path);
            return py::make_tuple(l.model, json_to_python(l.meta));
          },
          "path"_a, "(model, meta dict) of a checkpoint")
      .def(
          "save",
          [](const learn::QuadraticModel& model, const std::filesystem::path& path, const py::object& meta) {
            learn::save_model(path, model, meta.is_none() ? nlohmann::json::object() : python_to_json(meta));
          },
          "path"_a, "meta"_a = py::none(), "Writes the model atomically as a checkpoint (JSON; meta: a dict)")
      .def_property_readonly("n", [](const learn::QuadraticModel& q) { return q.spec().n; })
      .def_property_readonly("k", [](const learn::QuadraticModel& q) { return q.spec().rank; })
      .def_property_readonly("method", [](const learn::QuadraticModel& q) { return std::string(learn::to_string(q.spec().method)); })
      .def_property_readonly("depth", [](const learn::QuadraticModel& q) { return q.spec().depth; })
      .def_property_readonly("stepsize_mode",
                             [](const learn::QuadraticModel& q) { return std::string(learn::to_string(q.spec().stepsize_mode)); })
      .def_property_readonly("stepsize", &learn::QuadraticModel::stepsize)
      .def_property_readonly("stepsizes", &learn::QuadraticModel::stepsizes)
      .def_property_readonly("regularizer", [](const learn::QuadraticModel& q) { return matrix_to_numpy(q.regularizer()); },
                             "R, a new (k, n) array")
      .def_property(
          "parameters", [](const learn::QuadraticModel& q) { return vector_to_numpy(q.parameters()); },
          [](learn::QuadraticModel& q, const py::array& theta) { q.set_parameters(vector_from_numpy(theta, "parameters")); },
          "theta: vec(R) column-major, then the stepsize parameters alpha (omega = softplus(alpha))")
      .def("denoiser", [](const learn::QuadraticModel& q) { return matrix_to_numpy(q.denoiser()); },
           "T_R (n x n)")
      .def(
          "denoise", [](const learn::QuadraticModel& q, const py::array& x) { return denoise_frames(q.denoiser(), x); },
          "frames"_a, R"doc(
T_R x for every frame: frames as rows, shape (B, n) (or one frame (n,)), float64 or float32,
C-contiguous. The input is read in place (no copy); the result is a new array of the same
shape and dtype. Anything else (another dtype, a transposed or sliced view, a wrong n) is a
ValueError.)doc")
      .def("family", &learn::QuadraticModel::family, "The theory family (bilevel, or unrolled N with this omega)")
      .def(
          "risk",
          [](const learn::QuadraticModel& q, const theory::DataModel& d, double sigma) {
            return theory::risk(d, sigma, q.denoiser()).total();
          },
          "data"_a, "sigma"_a, "Exact population risk 1/2 tr((T-I) Sigma (T-I)^T) + sigma^2/2 |T|_F^2")
      .def("__repr__", [](const learn::QuadraticModel& q) { return "<varlearn.QuadraticModel " + q.spec().describe() + ">"; });

  // ---------------------------------------------------------------------------------------
  // Operators and regularizers of the general engine
  py::class_<ops::Operator>(m, "Operator", R"doc(
A linear forward operator A: R^n -> R^m on frames (rows of a (B, n) array) for the general
problem min_f 1/2 |A f - g|^2 + R(f). Made by varlearn.ops.operator(spec, n, batch, seed).
Inputs are float64 (B, n) C-contiguous arrays (copied into the library's matrices).
)doc")
      .def("apply", [](const ops::Operator& a, const py::array& f) {
        return frames_to_numpy<double>(a.apply(frames_arg(f, "Operator.apply")), f.ndim() == 1);
      }, "f"_a, "A f")
      .def("adjoint", [](const ops::Operator& a, const py::array& g) {
        return frames_to_numpy<double>(a.adjoint(frames_arg(g, "Operator.adjoint")), g.ndim() == 1);
      }, "g"_a, "A^T g")
      .def_property_readonly("input_size", &ops::Operator::input_size)
      .def_property_readonly("output_size", &ops::Operator::output_size)
      .def_property_readonly("batch_size", &ops::Operator::batch_size, "B the operator takes (0: any)")
      .def("norm_squared_bound", &ops::Operator::norm_squared_bound, "L_A >= |A|_2^2")
      .def("__repr__", [](const ops::Operator& a) { return "<varlearn.Operator " + a.describe() + ">"; });
  m.def(
      "_operator",
      [](const std::string& spec, Index n, Index batch, std::uint64_t seed) {
        const ops::OperatorModel model = ops::parse_operator(spec, n);
        Rng rng(seed);
        if (model.is_random() && batch < 1)
          throw Error("operator '" + spec + "' is random (a mask per batch): give batch = B >= 1");
        return model.draw(batch, rng);
      },
      "spec"_a, "n"_a, "batch"_a = 0, "seed"_a = 1);

  py::class_<Reg, std::shared_ptr<Reg>>(m, "Regularizer", R"doc(
A regularizer R_theta(F) = sum_b R_theta(f_b) of the general engine, with the derivatives that
bilevel learning and unrolling need. Made by varlearn.reg.regularizer(kind, n, ...). Frames are
float64 (B, n) C-contiguous arrays (copied into the library's matrices).
)doc")
      .def_property_readonly("n", &Reg::dimension)
      .def_property_readonly("num_parameters", &Reg::num_parameters)
      .def("value", [](const Reg& r, const py::array& f) { return r.value(frames_arg(f, "Regularizer.value")); }, "f"_a,
           "R(F) = sum over frames")
      .def("gradient", [](const Reg& r, const py::array& f) {
        return frames_to_numpy<double>(r.gradient(frames_arg(f, "Regularizer.gradient")), f.ndim() == 1);
      }, "f"_a, "grad_F R (same shape as F)")
      .def("hessian_product", [](const Reg& r, const py::array& f, const py::array& v) {
        return frames_to_numpy<double>(r.hessian_product(frames_arg(f, "Regularizer.hessian_product"),
                                                         frames_arg(v, "Regularizer.hessian_product")), f.ndim() == 1);
      }, "f"_a, "v"_a, "grad^2_F R(F) V, frame by frame")
      .def("parameter_gradient", [](const Reg& r, const py::array& f) {
        return vector_to_numpy(r.parameter_gradient(frames_arg(f, "Regularizer.parameter_gradient")));
      }, "f"_a, "d R(F) / d theta")
      .def("mixed_product", [](const Reg& r, const py::array& f, const py::array& w) {
        return vector_to_numpy(r.mixed_product(frames_arg(f, "Regularizer.mixed_product"),
                                               frames_arg(w, "Regularizer.mixed_product")));
      }, "f"_a, "w"_a, "d/dtheta <W, grad_F R(F)>")
      .def_property(
          "parameters", [](const Reg& r) { return vector_to_numpy(r.parameters()); },
          [](Reg& r, const py::array& theta) { r.set_parameters(vector_from_numpy(theta, "parameters")); })
      .def("hessian_bound", &Reg::hessian_bound, "An upper bound on |grad^2 R|_2 per frame, or None")
      .def("describe", &Reg::describe)
      .def("__repr__", [](const Reg& r) { return "<varlearn.Regularizer " + r.describe() + ">"; });
  m.def(
      "_regularizer",
      [](const std::string& kind, Index n, Index filters, Index filter_length, const std::string& potential,
         double epsilon, bool learn_epsilon, const std::string& init, double weight, double scale, std::uint64_t seed) {
        general::RegularizerSpec s;
        s.kind = kind;
        s.filters = filters;
        s.filter_length = filter_length;
        if (kind != "quadratic") s.potential = potential;
        s.epsilon = epsilon;
        s.learn_epsilon = learn_epsilon;
        s.init = init;
        s.weight = weight;
        s.scale = scale;
        return std::shared_ptr<Reg>(general::make_regularizer(s, n, seed));
      },
      "kind"_a, "n"_a, "filters"_a = 0, "filter_length"_a = 0, "potential"_a = "huber", "epsilon"_a = 0.0,
      "learn_epsilon"_a = false, "init"_a = "", "weight"_a = general::kDefaultRegularizerWeight, "scale"_a = 1.0,
      "seed"_a = 1);

  py::class_<GeneralModelHandle>(m, "GeneralModel", R"doc(
A trained general model (train(operator=..., regularizer=...)): the learned regularizer R_theta
and its solver, f^N of N (momentum) gradient steps on E(f) = 1/2 |A f - g|^2 + R_theta(f)
(unrolled) or the lower-level minimizer f* (bilevel).
)doc")
      .def_property_readonly("n", [](const GeneralModelHandle& h) { return h.n; })
      .def_property_readonly("method", [](const GeneralModelHandle& h) { return std::string(general::to_string(h.model.method)); })
      .def_property_readonly("operator", [](const GeneralModelHandle& h) { return h.op; }, "the operator it was trained with")
      .def_property_readonly("description", [](const GeneralModelHandle& h) { return h.regularizer; })
      .def_property_readonly("stepsizes", [](const GeneralModelHandle& h) { return h.model.stepsizes(); })
      .def_property_readonly("regularizer",
                             [](const GeneralModelHandle& h) { return std::shared_ptr<Reg>(h.model.regularizer->clone()); },
                             "A copy of the learned regularizer")
      .def(
          "denoise",
          [](const GeneralModelHandle& h, const py::array& g, const py::object& op) {
            const Matrix gm = frames_arg(g, "GeneralModel.denoise");
            const ops::Operator a = operator_or_identity(op, h.n);
            Matrix f;
            {
              py::gil_scoped_release release;
              f = h.model.output(a, gm);
            }
            return frames_to_numpy<double>(f, g.ndim() == 1);
          },
          "g"_a, "operator"_a = py::none(),
          "The model's output for observations g (rows, (B, m)) of `operator` (default: the identity, denoising)")
      .def("__repr__", [](const GeneralModelHandle& h) {
        return "<varlearn.GeneralModel " + std::string(general::to_string(h.model.method)) + " " + h.regularizer + ">";
      });

  // ---------------------------------------------------------------------------------------
  // Dequantization
  m.def(
      "_quantize",
      [](const py::array& clean, int bits, const std::string& kind) {
        const audio::Quantizer q(bits, audio::parse_quantizer_kind(kind));
        const Matrix c = frames_arg(clean, "quantize");
        const Matrix s = q.quantize(c);
        const audio::QuantCell<double> cell = q.cell(s);
        const bool one = clean.ndim() == 1;
        return py::make_tuple(frames_to_numpy<double>(s, one), frames_to_numpy<double>(cell.lower, one),
                              frames_to_numpy<double>(cell.upper, one));
      },
      "clean"_a, "bits"_a, "kind"_a = "mid-rise");
  m.def(
      "_chambolle_pock",
      [](const py::array& quantized, const py::array& lower, const py::array& upper, double tau, double sigma,
         int max_iterations, double gap_tolerance, int check_every, const std::string& init, bool project_output) {
        dequant::CpOptions o;
        o.tau = tau;
        o.sigma = sigma;
        o.max_iterations = max_iterations;
        o.gap_tolerance = gap_tolerance;
        o.check_every = check_every;
        if (init == "zero") o.init = dequant::CpInit::Zero;
        else if (init == "adjoint") o.init = dequant::CpInit::Adjoint;
        else throw Error("init must be 'zero' or 'adjoint', got '" + init + "'");
        o.project_output = project_output;
        o.validate();
        const Matrix s = frames_arg(quantized, "chambolle_pock"), l = frames_arg(lower, "chambolle_pock"),
                     u = frames_arg(upper, "chambolle_pock");
        InterruptWatch watch;
        dequant::CpResult r;
        {
          py::gil_scoped_release release;
          r = dequant::solve_l1_dequant(s, l, u, o, watch.observer());
        }
        watch.raise_if_pending();
        const bool one = quantized.ndim() == 1;
        py::dict d;
        d["signal"] = frames_to_numpy<double>(r.signal, one);
        d["coefficients"] = frames_to_numpy<double>(r.coefficients, one);
        d["primal"] = vector_to_numpy(r.primal);
        d["dual"] = vector_to_numpy(r.dual);
        d["max_gap"] = r.max_gap;
        d["max_rel_gap"] = r.max_rel_gap;
        d["max_cell_violation"] = r.max_cell_violation;
        d["iterations"] = r.iterations();
        d["status"] = std::string(optim::to_string(r.optim.status));
        d["seconds"] = r.optim.seconds;
        return d;
      },
      "quantized"_a, "lower"_a, "upper"_a, "tau"_a = 1.0, "sigma"_a = 1.0, "max_iterations"_a = 20000,
      "gap_tolerance"_a = 1e-6, "check_every"_a = 10, "init"_a = "adjoint", "project_output"_a = true);
  m.def(
      "_primal_dual_initial",
      [](Index n, int depth, bool shared, double tau, double sigma) {
        dequant::UnrolledSpec spec;
        spec.n = n;
        spec.depth = depth;
        spec.sharing = shared ? dequant::StepsizeSharing::Shared : dequant::StepsizeSharing::PerIteration;
        spec.validate();
        return vector_to_numpy(dequant::initial_parameters<double>(spec, tau, sigma));
      },
      "n"_a, "depth"_a, "shared"_a = false, "tau"_a = 1.0, "sigma"_a = 1.0);
  m.def(
      "_primal_dual_forward",
      [](const py::array& theta, const py::array& quantized, const py::array& lower, const py::array& upper, Index n,
         int depth, bool shared, bool project_output) {
        dequant::UnrolledSpec spec;
        spec.n = n;
        spec.depth = depth;
        spec.sharing = shared ? dequant::StepsizeSharing::Shared : dequant::StepsizeSharing::PerIteration;
        spec.project_output = project_output;
        spec.validate();
        const Vector th = vector_from_numpy(theta, "theta");
        const Matrix s = frames_arg(quantized, "primal_dual"), l = frames_arg(lower, "primal_dual"),
                     u = frames_arg(upper, "primal_dual");
        Matrix out;
        {
          py::gil_scoped_release release;
          out = dequant::unrolled_forward<double>(spec, th, s, l, u);
        }
        return frames_to_numpy<double>(out, quantized.ndim() == 1);
      },
      "theta"_a, "quantized"_a, "lower"_a, "upper"_a, "n"_a, "depth"_a, "shared"_a = false, "project_output"_a = false);
  m.def(
      "_primal_dual_train",
      [](const py::array& theta0, const py::array& clean, const py::array& quantized, const py::array& lower,
         const py::array& upper, Index n, int depth, bool shared, int steps, double learning_rate, Index batch,
         std::uint64_t seed, bool float32) {
        dequant::UnrolledSpec spec;
        spec.n = n;
        spec.depth = depth;
        spec.sharing = shared ? dequant::StepsizeSharing::Shared : dequant::StepsizeSharing::PerIteration;
        spec.validate();
        dequant::DequantFrames data;
        data.clean = frames_arg(clean, "primal_dual_train");
        data.quantized = frames_arg(quantized, "primal_dual_train");
        data.lower = frames_arg(lower, "primal_dual_train");
        data.upper = frames_arg(upper, "primal_dual_train");
        dequant::UnrolledTrainOptions o;
        o.adam.max_iterations = steps;
        o.adam.learning_rate = learning_rate;
        o.batch_size = batch;
        o.seed = seed;
        o.float32 = float32;
        o.validate();
        const Vector th0 = vector_from_numpy(theta0, "theta0");
        InterruptWatch watch;
        dequant::UnrolledTrainResult r;
        {
          py::gil_scoped_release release;
          r = dequant::train_unrolled(spec, th0, data, o, watch.observer());
        }
        py::dict d;
        d["theta"] = vector_to_numpy(r.theta);
        d["final_loss"] = r.final_loss;
        d["iterations"] = r.optim.iterations;
        d["status"] = std::string(optim::to_string(r.optim.status));
        d["interrupt"] = py::none();
        if (watch.pending) {
          d["interrupt"] = watch.pending->value();
          watch.pending.reset();
        }
        return d;
      },
      "theta0"_a, "clean"_a, "quantized"_a, "lower"_a, "upper"_a, "n"_a, "depth"_a, "shared"_a = false,
      "steps"_a = 200, "learning_rate"_a = 1e-3, "batch"_a = 512, "seed"_a = 1, "float32"_a = true);

  // ---------------------------------------------------------------------------------------
  // Audio
  m.def(
      "_read_audio",
      [](const std::filesystem::path& path, int rate, bool mixdown, int raw_rate) {
        audio::ReadOptions o;
        o.rate = rate;
        o.mixdown = mixdown;
        o.raw_rate = raw_rate;
        o.validate();
        audio::Signal s;
        {
          py::gil_scoped_release release;
          s = audio::read_audio(path, o);
        }
        return py::make_tuple(vector_to_numpy(s.samples), s.rate);
      },
      "path"_a, "rate"_a = 0, "mixdown"_a = true, "raw_rate"_a = 8000);
  m.def(
      "_write_wav",
      [](const std::filesystem::path& path, const py::array& samples, int rate) {
        return audio::write_wav(path, vector_from_numpy(samples, "samples"), rate);
      },
      "path"_a, "samples"_a, "rate"_a);
  m.def(
      "_frame",
      [](const py::array& x, Index n, Index hop, bool pad) {
        const Matrix f = audio::frame(vector_from_numpy(x, "signal"), n, hop, pad ? audio::Tail::ZeroPad : audio::Tail::Drop);
        return frames_to_numpy<double>(f);
      },
      "x"_a, "n"_a, "hop"_a, "pad"_a = false);
  m.def(
      "_overlap_add",
      [](const py::array& frames, Index hop, Index length, const std::string& window) {
        audio::Window w;
        if (window == "hann") w = audio::Window::Hann;
        else if (window == "rectangular") w = audio::Window::Rectangular;
        else throw Error("window must be 'hann' or 'rectangular', got '" + window + "'");
        return vector_to_numpy(audio::overlap_add(frames_arg(frames, "overlap_add"), hop, length, w));
      },
      "frames"_a, "hop"_a, "length"_a, "window"_a = "hann");
}

}  // namespace varlearn::python
