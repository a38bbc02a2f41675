#include "options.hpp"

#include <iostream>

#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"

namespace varlearn::cli {

void DataOptions::add(CLI::App* app) {
  app->add_option("--data", data,
                  "Data model of the clean signal y: constant (y = lambda 1, E lambda = mu, Var lambda = theta^2), "
                  "iid (y_j i.i.d., mean mu, variance theta^2), ar1 (Sigma = mu^2 11^T + theta^2 rho^|i-j|), "
                  "file (second moment Sigma = E[y y^T] from --second-moment)")
      ->check(CLI::IsMember({"constant", "iid", "ar1", "file"}))
      ->capture_default_str();
  app->add_option("--n", n, "Signal dimension n (ignored for --data file: taken from the matrix)")->capture_default_str();
  app->add_option("--mu", mu, "Mean mu of the signal (constant: of lambda; iid/ar1: of each entry)")->capture_default_str();
  app->add_option("--theta", theta, "Standard deviation theta of the signal (theta >= 0)")->capture_default_str();
  app->add_option("--rho", rho, "AR(1) correlation rho, |rho| < 1 (ar1 only)")->capture_default_str();
  app->add_option("--second-moment", second_moment,
                  "Text file with a symmetric PSD n x n matrix Sigma (rows per line, space/comma separated)");
}

theory::DataModel DataOptions::build() const {
  const theory::DataKind kind = theory::parse_data_kind(data);
  if (kind == theory::DataKind::File) {
    if (second_moment.empty()) throw Error("--data file needs --second-moment FILE");
    const auto file = theory::DataModel::dense(io::read_matrix(second_moment), "second moment '" + second_moment + "'");
    return theory::make_data_model(kind, Index(n), mu, theta, rho, &file);
  }
  if (!second_moment.empty()) throw Error("--second-moment is only read with --data file");
  return theory::make_data_model(kind, Index(n), mu, theta, rho);
}

nlohmann::json DataOptions::describe() const {
  nlohmann::json j{{"data", data}};
  if (data == "file") j["second_moment"] = second_moment;
  else {
    j["n"] = n;
    j["mu"] = mu;
    j["theta"] = theta;
    if (data == "ar1") j["rho"] = rho;
  }
  return j;
}

void print_result(const nlohmann::json& j, bool json) {
  if (json) {
    std::cout << j.dump(2) << '\n';
    return;
  }
  size_t width = 0;
  for (auto it = j.begin(); it != j.end(); ++it) width = std::max(width, it.key().size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::cout << it.key() << std::string(width - it.key().size(), ' ') << "  ";
    if (it->is_string()) std::cout << it->get<std::string>();
    else std::cout << it->dump();
    std::cout << '\n';
  }
}

}  // namespace varlearn::cli
