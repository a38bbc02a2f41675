#include "varlearn/general/unrolled.hpp"

#include <string>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/numerics.hpp"

namespace varlearn::general {

void UnrolledOptions::validate() const {
  if (steps < 1) throw Error(std::string("general::UnrolledOptions: steps must be >= 1, got ") + std::to_string(steps));
}

namespace {

Vector step_sizes(const Vector& alpha, const UnrolledOptions& options, const char* where) {
  options.validate();
  if (alpha.size() != options.num_step_parameters())
    throw Error(std::string(where) + ": " + std::to_string(alpha.size()) + " step parameters, expected " +
                std::to_string(options.num_step_parameters()));
  if (!alpha.allFinite()) throw Error(std::string(where) + ": a step parameter is not finite");
  Vector omega(options.steps);
  for (int t = 0; t < options.steps; ++t)
    omega(t) = softplus(alpha(options.sharing == StepSharing::Shared ? 0 : t));
  return omega;
}

Matrix start(const Energy& energy, const UnrolledOptions& options) {
  return options.init == UnrolledInit::Zero ? Matrix(Matrix::Zero(energy.dimension(), energy.batch()))
                                            : energy.adjoint_observations();
}

/// Runs the forward pass; stores every iterate when `iterates` is given.
Matrix forward(const Energy& energy, const Vector& omega, const UnrolledOptions& options,
               std::vector<Matrix>* iterates, const char* where) {
  Matrix f = start(energy, options);
  if (iterates != nullptr) {
    iterates->clear();
    iterates->reserve(static_cast<std::size_t>(options.steps) + 1);
    iterates->push_back(f);
  }
  for (int t = 0; t < options.steps; ++t) {
    f -= omega(t) * energy.gradient(f);
    if (!f.allFinite())
      throw Error(std::string(where) + ": iterate " + std::to_string(t + 1) +
                  " is not finite (step size too large for the energy?)");
    if (iterates != nullptr) iterates->push_back(f);
  }
  return f;
}

}  // namespace

Matrix unrolled_output(const Energy& energy, const Vector& alpha, const UnrolledOptions& options) {
  const char* where = "general::unrolled_output";
  return forward(energy, step_sizes(alpha, options, where), options, nullptr, where);
}

UnrolledResult unrolled_loss(const Energy& energy, const Matrix& target, const Vector& alpha,
                             const UnrolledOptions& options, bool with_gradient) {
  const char* where = "general::unrolled_loss";
  if (target.rows() != energy.dimension() || target.cols() != energy.batch())
    throw Error(std::string(where) + ": targets are " + std::to_string(target.rows()) + " x " +
                std::to_string(target.cols()) + ", expected " + std::to_string(energy.dimension()) + " x " +
                std::to_string(energy.batch()));
  const Vector omega = step_sizes(alpha, options, where);
  const double inv_b = 1.0 / static_cast<double>(energy.batch());
  UnrolledResult result;
  std::vector<Matrix> iterates;
  result.output = forward(energy, omega, options, with_gradient ? &iterates : nullptr, where);
  const Matrix residual = result.output - target;
  result.loss = 0.5 * residual.squaredNorm() * inv_b;
  if (!with_gradient) return result;

  result.theta_gradient = Vector::Zero(energy.num_parameters());
  result.alpha_gradient = Vector::Zero(options.num_step_parameters());
  Matrix lambda = residual * inv_b;  // lambda^N
  for (int t = options.steps - 1; t >= 0; --t) {
    const Matrix& ft = iterates[static_cast<std::size_t>(t)];
    const double d_omega = -lambda.cwiseProduct(energy.gradient(ft)).sum();
    const Index a = options.sharing == StepSharing::Shared ? 0 : t;
    result.alpha_gradient(a) += d_omega * softplus_derivative(alpha(a));
    result.theta_gradient -= omega(t) * energy.mixed_product(ft, lambda);
    lambda -= omega(t) * energy.hessian_product(ft, lambda);  // lambda^t
  }
  return result;
}

UnrolledObjective::UnrolledObjective(Energy energy, Matrix target, UnrolledOptions options)
    : energy_(std::move(energy)), target_(std::move(target)), options_(options) {
  options_.validate();
  if (target_.rows() != energy_.dimension() || target_.cols() != energy_.batch())
    throw Error(std::string("general::UnrolledObjective: targets are ") + std::to_string(target_.rows()) + " x " +
                std::to_string(target_.cols()) + ", expected " + std::to_string(energy_.dimension()) + " x " +
                std::to_string(energy_.batch()));
}

Index UnrolledObjective::num_parameters() const {
  return energy_.num_parameters() + options_.num_step_parameters();
}

Vector UnrolledObjective::pack(const Vector& alpha) const {
  if (alpha.size() != options_.num_step_parameters())
    throw Error(std::string("general::UnrolledObjective::pack: ") + std::to_string(alpha.size()) +
                " step parameters, expected " + std::to_string(options_.num_step_parameters()));
  Vector x(num_parameters());
  x << energy_.parameters(), alpha;
  return x;
}

Vector UnrolledObjective::set(const Vector& x, const char* where) {
  if (x.size() != num_parameters())
    throw Error(std::string(where) + ": " + std::to_string(x.size()) + " parameters, expected " +
                std::to_string(num_parameters()) + " (theta, then alpha)");
  const Index p = energy_.num_parameters();
  energy_.set_parameters(x.head(p));
  return x.tail(options_.num_step_parameters());
}

double UnrolledObjective::evaluate_with_gradient(const Vector& x, Vector& grad) {
  const Vector alpha = set(x, "general::UnrolledObjective::evaluate_with_gradient");
  UnrolledResult r = unrolled_loss(energy_, target_, alpha, options_, true);
  grad.resize(num_parameters());
  grad << r.theta_gradient, r.alpha_gradient;
  return r.loss;
}

double UnrolledObjective::evaluate(const Vector& x) {
  const Vector alpha = set(x, "general::UnrolledObjective::evaluate");
  return unrolled_loss(energy_, target_, alpha, options_, false).loss;
}

}  // namespace varlearn::general
