#include "varlearn/optim/state.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "varlearn/core/error.hpp"
#include "varlearn/core/names.hpp"

namespace varlearn::optim {
using nlohmann::json;

namespace {
constexpr NameTable<StateKind, 2> kStateKindNames{{{StateKind::Adam, "adam"}, {StateKind::Lbfgs, "lbfgs"}}};
}  // namespace

const char* to_string(StateKind k) { return name_of(kStateKindNames, k); }

namespace {

constexpr const char* kWhere = "optimizer state";

void check_vector(const std::vector<double>& v, size_t size, bool float32, const std::string& name) {
  require(v.size() == size, kWhere,
          std::string("'") + name + "' has " + std::to_string(v.size()) + " entries, expected " + std::to_string(size));
  for (size_t i = 0; i < v.size(); ++i) {
    require(std::isfinite(v[i]), kWhere, std::string("'") + name + "' entry " + std::to_string(i) + " is not finite");
    require(!float32 || static_cast<double>(static_cast<float>(v[i])) == v[i], kWhere,
            std::string("'") + name + "' entry " + std::to_string(i) + " is not a float32 number in a float32 state");
  }
}

}  // namespace

void State::validate() const {
  require(iteration >= 0, kWhere, "'iteration' must be >= 0");
  require(evaluations >= iteration, kWhere, "'evaluations' must be >= 'iteration'");
  require(std::isfinite(elapsed_s) && elapsed_s >= 0, kWhere, "'elapsed_s' must be finite and >= 0");
  require(!x.empty(), kWhere, "'x' is empty");
  const size_t p = x.size();
  check_vector(x, p, float32, "x");
  require(std::isfinite(loss), kWhere, "'loss' is not finite");
  require(std::isfinite(grad_norm) && grad_norm >= 0, kWhere, "'grad_norm' must be finite and >= 0");
  require(history.size() <= static_cast<size_t>(iteration), kWhere, "'history' is longer than 'iteration'");
  check_vector(history, history.size(), float32, "history");
  require(status.empty() || status == "max_iterations" || status == "converged" || status == "stopped", kWhere,
          "unknown 'status' '" + status + "' (expected max_iterations, converged or stopped)");
  if (kind == StateKind::Adam) {
    check_vector(adam.m, p, float32, "adam.m");
    check_vector(adam.v, p, float32, "adam.v");
    for (double vi : adam.v) require(vi >= 0, kWhere, "'adam.v' has a negative entry");
    require(adam.steps == iteration, kWhere,
            "'adam.steps' (" + std::to_string(adam.steps) + ") differs from 'iteration' (" +
                std::to_string(iteration) + ")");
    require(std::isfinite(adam.first_loss), kWhere, "'adam.first_loss' is not finite");
  } else {
    check_vector(lbfgs.gradient, p, float32, "lbfgs.gradient");
    require(lbfgs.s.size() == lbfgs.y.size() && lbfgs.s.size() == lbfgs.rho.size(), kWhere,
            "'lbfgs.s', 'lbfgs.y' and 'lbfgs.rho' must have the same number of pairs");
    for (size_t i = 0; i < lbfgs.s.size(); ++i) {
      check_vector(lbfgs.s[i], p, float32, "lbfgs.s[" + std::to_string(i) + "]");
      check_vector(lbfgs.y[i], p, float32, "lbfgs.y[" + std::to_string(i) + "]");
      require(std::isfinite(lbfgs.rho[i]) && lbfgs.rho[i] > 0, kWhere,
              "'lbfgs.rho' entry " + std::to_string(i) + " must be finite and > 0");
    }
    require(!lbfgs.past_losses.empty(), kWhere, "'lbfgs.past_losses' is empty");
    check_vector(lbfgs.past_losses, lbfgs.past_losses.size(), float32, "lbfgs.past_losses");
  }
}

void State::check_compatible(StateKind k, bool f32, Index size, const std::string& where) const {
  try {
    validate();
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  require(kind == k, where,
          std::string("the state is an ") + to_string(kind) + " state, this is " + to_string(k));
  require(float32 == f32, where,
          std::string("the state is from a ") + (float32 ? "float32" : "float64") + " run, this one is " +
              (f32 ? "float32" : "float64"));
  require(static_cast<Index>(x.size()) == size, where,
          "the state has " + std::to_string(x.size()) + " parameters, this problem " + std::to_string(size));
}

void Checkpointing::validate() const { require(every >= 0, "Checkpointing", "every must be >= 0"); }

void to_json(json& j, const State& s) {
  j = json::object();
  j["kind"] = to_string(s.kind);
  j["scalar"] = s.float32 ? "float32" : "float64";
  j["iteration"] = s.iteration;
  j["evaluations"] = s.evaluations;
  j["elapsed_s"] = s.elapsed_s;
  j["x"] = s.x;
  j["loss"] = s.loss;
  j["grad_norm"] = s.grad_norm;
  j["history"] = s.history;
  if (!s.status.empty()) {
    j["status"] = s.status;
    j["message"] = s.message;
  }
  if (s.kind == StateKind::Adam) {
    j["adam"] = {{"m", s.adam.m}, {"v", s.adam.v}, {"steps", s.adam.steps}, {"first_loss", s.adam.first_loss}};
  } else {
    j["lbfgs"] = {{"gradient", s.lbfgs.gradient}, {"s", s.lbfgs.s},          {"y", s.lbfgs.y},
                  {"rho", s.lbfgs.rho},           {"past_losses", s.lbfgs.past_losses},
                  {"restarted", s.lbfgs.restarted}};
  }
}

namespace {
// Strict readers: the JSON type must be the one written (no silent 2.5 -> 2, no null -> 0).
int get_int(const json& j, const char* key) {
  const json& v = j.at(key);
  require(v.is_number_integer(), kWhere, std::string("'") + key + "' must be an integer");
  const auto i = v.get<long long>();
  require(i >= 0 && i <= 2147483647LL, kWhere, std::string("'") + key + "' is out of range");
  return static_cast<int>(i);
}
double get_number(const json& j, const char* key) {
  const json& v = j.at(key);
  require(v.is_number(), kWhere, std::string("'") + key + "' must be a number");
  return v.get<double>();
}
std::vector<double> get_vector(const json& j, const char* key) {
  const json& v = j.at(key);
  require(v.is_array(), kWhere, std::string("'") + key + "' must be an array of numbers");
  std::vector<double> out;
  out.reserve(v.size());
  for (const json& e : v) {
    require(e.is_number(), kWhere, std::string("'") + key + "' must hold numbers only (NaN/inf are not allowed)");
    out.push_back(e.get<double>());
  }
  return out;
}
std::vector<std::vector<double>> get_vectors(const json& j, const char* key) {
  const json& v = j.at(key);
  require(v.is_array(), kWhere, std::string("'") + key + "' must be an array of arrays");
  std::vector<std::vector<double>> out;
  for (size_t i = 0; i < v.size(); ++i) {
    json wrap = {{key, v[i]}};
    out.push_back(get_vector(wrap, key));
  }
  return out;
}
}  // namespace

void from_json(const json& j, State& s) {
  try {
    require(j.is_object(), kWhere, "not a JSON object");
    State r;
    const std::string kind = j.at("kind").get<std::string>();
    require(kind == "adam" || kind == "lbfgs", kWhere, "unknown 'kind' '" + kind + "' (expected adam or lbfgs)");
    r.kind = kind == "adam" ? StateKind::Adam : StateKind::Lbfgs;
    const std::string scalar = j.at("scalar").get<std::string>();
    require(scalar == "float32" || scalar == "float64", kWhere,
            "unknown 'scalar' '" + scalar + "' (expected float32 or float64)");
    r.float32 = scalar == "float32";
    r.iteration = get_int(j, "iteration");
    r.evaluations = get_int(j, "evaluations");
    r.elapsed_s = get_number(j, "elapsed_s");
    r.x = get_vector(j, "x");
    r.loss = get_number(j, "loss");
    r.grad_norm = get_number(j, "grad_norm");
    r.history = get_vector(j, "history");
    if (j.contains("status")) {
      r.status = j.at("status").get<std::string>();
      r.message = j.at("message").get<std::string>();
    }
    if (r.kind == StateKind::Adam) {
      const json& a = j.at("adam");
      require(a.is_object(), kWhere, "'adam' must be an object");
      r.adam.m = get_vector(a, "m");
      r.adam.v = get_vector(a, "v");
      r.adam.steps = get_int(a, "steps");
      r.adam.first_loss = get_number(a, "first_loss");
    } else {
      const json& l = j.at("lbfgs");
      require(l.is_object(), kWhere, "'lbfgs' must be an object");
      r.lbfgs.gradient = get_vector(l, "gradient");
      r.lbfgs.s = get_vectors(l, "s");
      r.lbfgs.y = get_vectors(l, "y");
      r.lbfgs.rho = get_vector(l, "rho");
      r.lbfgs.past_losses = get_vector(l, "past_losses");
      require(l.at("restarted").is_boolean(), kWhere, "'restarted' must be true or false");
      r.lbfgs.restarted = l.at("restarted").get<bool>();
    }
    r.validate();
    s = std::move(r);
  } catch (const json::exception& e) {
    throw Error(std::string(kWhere) + ": malformed (" + e.what() + ")");
  }
}

json state_to_json(const State& s) {
  json j;
  to_json(j, s);
  return j;
}

State state_from_json(const json& j) {
  State s;
  from_json(j, s);
  return s;
}

}  // namespace varlearn::optim
