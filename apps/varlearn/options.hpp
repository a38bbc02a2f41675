#pragma once
// Shared CLI option groups: the data model flags (talk symbols n, mu, theta, sigma, rho)
// and human-or-JSON printing of one result object.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "varlearn/theory/data_model.hpp"

namespace varlearn::cli {

/// --data constant|iid|ar1|file --n --mu --theta --rho --second-moment (sigma is separate:
/// it is the noise, not the data).
struct DataOptions {
  std::string data = "constant";
  long long n = 500;
  double mu = 1.0, theta = 0.0, rho = 0.5;
  std::string second_moment;
  void add(CLI::App* app);
  /// Builds the model; throws varlearn::Error on bad values or files.
  theory::DataModel build() const;
  nlohmann::json describe() const;
};

/// Prints `j` as one JSON object (json = true) or as aligned "key: value" lines.
void print_result(const nlohmann::json& j, bool json);

}  // namespace varlearn::cli
