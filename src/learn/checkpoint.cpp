#include "varlearn/learn/checkpoint.hpp"

#include <cmath>

#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"

namespace varlearn::learn {
using nlohmann::json;

void save_model(const std::filesystem::path& path, const QuadraticModel& model, const json& meta) {
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
  io::write_atomic(path, j.dump(1) + "\n");
}

LoadedModel load_model(const std::filesystem::path& path) {
  const std::string where = "checkpoint '" + path.string() + "'";
  json j;
  try {
    j = json::parse(io::read_text(path));
  } catch (const json::exception& e) {
    throw Error(where + ": not valid JSON (" + std::string(e.what()) + ")");
  }
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

}  // namespace varlearn::learn
