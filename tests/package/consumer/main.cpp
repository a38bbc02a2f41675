// Consumer of an installed varlearn: the best linear and the best bilevel risk (rank k = n) of
// the i.i.d. model, n = 7, against the closed form. Sigma = mu^2 11^T + theta^2 I has the
// eigenvalues theta^2 + n mu^2 (once) and theta^2 (n - 1 times); the best linear risk is
// 1/2 sum_i sigma^2 gamma_i / (gamma_i + sigma^2), and with k = n the bilevel family
// (I + R^T R)^{-1} reaches every t in (0, 1], so its best risk is the same number.
// Usage: varlearn_consumer [--scale s] (multiplies the closed form: s != 1 must fail).
// Exits 0 when all agree to 1e-12 relative, 1 otherwise.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <varlearn/varlearn.hpp>
#include <varlearn/version.hpp>

int main(int argc, char** argv) {
  double scale = 1;
  if (argc == 3 && std::string(argv[1]) == "--scale") scale = std::atof(argv[2]);

  const varlearn::Index n = 7;
  const double mu = 1, theta = 0.5, sigma = 0.9;
  const auto data = varlearn::theory::DataModel::iid(n, mu, theta);
  auto wiener = [&](double gamma) { return sigma * sigma * gamma / (gamma + sigma * sigma); };
  const double closed_form =
      scale * 0.5 * (wiener(theta * theta + n * mu * mu) + (n - 1) * wiener(theta * theta));

  varlearn::theory::OptimalOptions with_t;
  with_t.with_regularizer = true;  // the denoiser T* comes back as a Matrix (built by the library)
  const auto linear = varlearn::theory::best_linear(data, sigma, with_t);
  const auto bilevel = varlearn::theory::best_bilevel(data, sigma, n);
  const double of_t = varlearn::theory::risk(data, sigma, linear.denoiser).total();

  bool ok = true;
  auto check = [&](const char* what, double value) {
    const double rel = std::abs(value - closed_form) / closed_form;
    std::printf("%-28s %.15g  closed form %.15g  rel. error %.2e\n", what, value, closed_form, rel);
    ok = ok && rel <= 1e-12;
  };
  std::printf("varlearn %s\n", std::string(varlearn::version).c_str());
  check("best_linear", linear.risk);
  check("best_bilevel (k = n)", bilevel.risk);
  check("risk(T*)", of_t);
  std::printf("%s\n", ok ? "ok" : "MISMATCH");
  return ok ? 0 : 1;
}
