#include "varlearn/learn/checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"

namespace varlearn::learn {
using nlohmann::json;

json model_to_json(const QuadraticModel& model, const json& meta) {
  const ModelSpec& s = model.spec();
  json j;
  j["format"] = "varlearn-model";
  j["version"] = 1;
  j["n"] = s.n;
  j["rank"] = s.rank;
  j["method"] = to_string(s.method);
  j["depth"] = s.method == Method::Unrolled ? s.depth : 0;
  j["stepsize_mode"] = to_string(s.stepsize_mode);
  j["stepsizes"] = model.stepsizes();
  json rows = json::array();
  const Matrix& r = model.regularizer();
  for (Index i = 0; i < r.rows(); ++i) {
    json row = json::array();
    for (Index c = 0; c < r.cols(); ++c) row.push_back(r(i, c));
    rows.push_back(std::move(row));
  }
  j["regularizer"] = std::move(rows);
  j["meta"] = meta;
  return j;
}

void save_model(const std::filesystem::path& path, const QuadraticModel& model, const json& meta) {
  io::write_atomic(path, model_to_json(model, meta).dump(1) + "\n");
}

namespace {
json parse_file(const std::filesystem::path& path, const std::string& where) {
  try {
    return json::parse(io::read_text(path));
  } catch (const json::exception& e) {
    throw Error(where + ": not valid JSON (" + std::string(e.what()) + ")");
  }
}
}  // namespace

LoadedModel load_model(const std::filesystem::path& path) {
  const std::string where = "checkpoint '" + path.string() + "'";
  return model_from_json(parse_file(path, where), where);
}

LoadedModel model_from_json(const json& j, const std::string& where) {
  try {
    require(j.is_object() && j.value("format", "") == "varlearn-model", where,
            "not a varlearn model checkpoint (format != varlearn-model)");
    require(j.value("version", 0) == 1, where, "unsupported checkpoint version");
    ModelSpec s;
    s.n = j.at("n").get<Index>();
    s.rank = j.at("rank").get<Index>();
    s.method = parse_method(j.at("method").get<std::string>());
    s.depth = s.method == Method::Unrolled ? j.at("depth").get<int>() : 1;
    s.stepsize_mode = parse_stepsize_mode(j.at("stepsize_mode").get<std::string>());
    s.validate();
    const json& rows = j.at("regularizer");
    require(rows.is_array() && static_cast<Index>(rows.size()) == s.rank, where,
            "regularizer must have rank = " + std::to_string(s.rank) + " rows");
    Matrix r(s.rank, s.n);
    for (Index i = 0; i < s.rank; ++i) {
      const json& row = rows[static_cast<size_t>(i)];
      require(row.is_array() && static_cast<Index>(row.size()) == s.n, where,
              "regularizer row " + std::to_string(i) + " must have n = " + std::to_string(s.n) + " entries");
      for (Index c = 0; c < s.n; ++c) r(i, c) = row[static_cast<size_t>(c)].get<double>();
    }
    std::vector<double> w = j.at("stepsizes").get<std::vector<double>>();
    if (s.method == Method::Bilevel) w = {1.0};
    LoadedModel out{QuadraticModel::from_regularizer(s, r, w), j.value("meta", json::object())};
    return out;
  } catch (const json::exception& e) {
    throw Error(where + ": malformed (" + std::string(e.what()) + ")");
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(where, 0) == 0) throw;
    throw Error(where + ": " + msg);
  }
}

LoadedModel load_model(const std::filesystem::path& path, const ModelSpec& expected) {
  LoadedModel m = load_model(path);
  const ModelSpec& s = m.model.spec();
  const bool same = s.n == expected.n && s.rank == expected.rank && s.method == expected.method &&
                    (s.method == Method::Bilevel ||
                     (s.depth == expected.depth && s.stepsize_mode == expected.stepsize_mode));
  require(same, "checkpoint '" + path.string() + "'",
          "has shape " + s.describe() + " but " + expected.describe() + " was expected");
  return m;
}

namespace {

[[noreturn]] void rethrow_with(const std::string& where) {
  try {
    throw;
  } catch (const json::exception& e) {
    throw Error(where + ": malformed (" + std::string(e.what()) + ")");
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(where, 0) == 0) throw;
    throw Error(where + ": " + msg);
  }
}

std::string get_string(const json& j, const char* key) {
  require(j.at(key).is_string(), "training_state", std::string("'") + key + "' must be a string");
  return j.at(key).get<std::string>();
}

}  // namespace

json training_checkpoint_to_json(const TrainingCheckpoint& c, const json& meta) {
  json j = model_to_json(c.model, meta);
  json t;
  t["version"] = 1;
  t["run"] = c.run;
  t["optimizer"] = optim::state_to_json(c.optimizer);
  if (!c.batch_rng.empty())
    t["batches"] = {{"rng", c.batch_rng}, {"order", c.batch_order}, {"position", c.batch_position}};
  if (!c.noise_rng.empty()) t["noise_rng"] = c.noise_rng;
  json es;
  if (std::isfinite(c.best_validation)) es["best_validation"] = c.best_validation;
  else es["best_validation"] = nullptr;
  es["best_parameters"] = c.best_parameters;
  es["bad_validations"] = c.bad_validations;
  es["stopped"] = c.stopped_early;
  t["early_stopping"] = std::move(es);
  j["training_state"] = std::move(t);
  return j;
}

TrainingCheckpoint training_checkpoint_from_json(const json& j, const std::string& where) {
  try {
    TrainingCheckpoint c;
    c.model = model_from_json(j, where).model;
    require(j.contains("training_state"), where,
            "holds a model but no training state (write it with a checkpointing run to resume)");
    const json& t = j.at("training_state");
    const char* w = "training_state";
    require(t.is_object(), w, "must be an object");
    require(t.at("version").is_number_integer() && t.at("version").get<int>() == 1, w, "unsupported version");
    const json& run = t.at("run");
    require(run.is_object(), w, "'run' must be an object");
    for (const auto& [k, v] : run.items()) {
      require(v.is_string(), w, "'run' entry '" + k + "' must be a string");
      c.run[k] = v.get<std::string>();
    }
    c.optimizer = optim::state_from_json(t.at("optimizer"));
    const Index p = c.model.spec().num_parameters();
    require(static_cast<Index>(c.optimizer.x.size()) == p, w,
            "the optimizer state has " + std::to_string(c.optimizer.x.size()) + " parameters, the model " +
                std::to_string(p));
    const Vector theta = c.model.parameters();
    for (Index i = 0; i < p; ++i)  // the model is the optimizer's iterate (up to the text round trip of omega)
      require(std::abs(theta(i) - c.optimizer.x[static_cast<size_t>(i)]) <=
                  1e-6 * std::max(1.0, std::abs(theta(i))),
              w, "the model and the optimizer's iterate differ at parameter " + std::to_string(i));
    if (t.contains("batches")) {
      const json& b = t.at("batches");
      require(b.is_object(), w, "'batches' must be an object");
      c.batch_rng = get_string(b, "rng");
      require(b.at("order").is_array(), w, "'batches.order' must be an array");
      for (const json& e : b.at("order")) {
        require(e.is_number_integer(), w, "'batches.order' must hold integers");
        c.batch_order.push_back(e.get<Index>());
      }
      require(b.at("position").is_number_integer(), w, "'batches.position' must be an integer");
      c.batch_position = b.at("position").get<Index>();
      require(!c.batch_rng.empty(), w, "'batches.rng' is empty");
    }
    if (t.contains("noise_rng")) {
      c.noise_rng = get_string(t, "noise_rng");
      require(!c.noise_rng.empty(), w, "'noise_rng' is empty");
    }
    const json& es = t.at("early_stopping");
    require(es.is_object(), w, "'early_stopping' must be an object");
    const json& bv = es.at("best_validation");
    require(bv.is_null() || bv.is_number(), w, "'best_validation' must be a number or null");
    c.best_validation = bv.is_null() ? std::numeric_limits<double>::infinity() : bv.get<double>();
    require(!std::isnan(c.best_validation) && c.best_validation >= 0, w, "'best_validation' must be >= 0");
    require(es.at("best_parameters").is_array(), w, "'best_parameters' must be an array");
    for (const json& e : es.at("best_parameters")) {
      require(e.is_number(), w, "'best_parameters' must hold numbers only");
      c.best_parameters.push_back(e.get<double>());
      require(std::isfinite(c.best_parameters.back()), w, "'best_parameters' must be finite");
    }
    require(static_cast<Index>(c.best_parameters.size()) == p, w,
            "'best_parameters' has " + std::to_string(c.best_parameters.size()) + " entries, the model " +
                std::to_string(p));
    require(es.at("bad_validations").is_number_integer() && es.at("bad_validations").get<long long>() >= 0 &&
                es.at("bad_validations").get<long long>() <= 1000000000LL,
            w, "'bad_validations' must be an integer >= 0");
    c.bad_validations = es.at("bad_validations").get<int>();
    require(es.at("stopped").is_boolean(), w, "'stopped' must be true or false");
    c.stopped_early = es.at("stopped").get<bool>();
    return c;
  } catch (...) {
    rethrow_with(where);
  }
}

void save_training_checkpoint(const std::filesystem::path& path, const TrainingCheckpoint& c, const json& meta) {
  io::write_atomic(path, training_checkpoint_to_json(c, meta).dump(1) + "\n");
}

TrainingCheckpoint load_training_checkpoint(const std::filesystem::path& path) {
  const std::string where = "checkpoint '" + path.string() + "'";
  return training_checkpoint_from_json(parse_file(path, where), where);
}

std::function<void(const TrainingCheckpoint&)> checkpoint_writer(const std::filesystem::path& path, json meta) {
  return [path, meta = std::move(meta)](const TrainingCheckpoint& c) { save_training_checkpoint(path, c, meta); };
}

}  // namespace varlearn::learn
