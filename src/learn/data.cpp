#include "varlearn/learn/data.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>

#include "varlearn/core/error.hpp"
#include "varlearn/core/gemm.hpp"
#include "varlearn/core/io.hpp"

namespace varlearn::learn {

SampleModel SampleModel::constant(Index n, double mu, double theta) {
  SampleModel m;
  m.kind = Kind::Constant; m.n = n; m.mu = mu; m.theta = theta;
  m.validate();
  return m;
}
SampleModel SampleModel::iid(Index n, double mu, double theta) {
  SampleModel m;
  m.kind = Kind::Iid; m.n = n; m.mu = mu; m.theta = theta;
  m.validate();
  return m;
}
SampleModel SampleModel::ar1(Index n, double mu, double theta, double rho) {
  SampleModel m;
  m.kind = Kind::Ar1; m.n = n; m.mu = mu; m.theta = theta; m.rho = rho;
  m.validate();
  return m;
}
SampleModel SampleModel::gaussian(const Matrix& sigma) {
  SampleModel m;
  m.kind = Kind::Gaussian; m.n = sigma.rows(); m.sigma = sigma; m.mu = 0; m.theta = 0;
  m.validate();
  return m;
}
SampleModel SampleModel::make(theory::DataKind kind, Index n, double mu, double theta, double rho) {
  switch (kind) {
    case theory::DataKind::Constant: return constant(n, mu, theta);
    case theory::DataKind::Iid: return iid(n, mu, theta);
    case theory::DataKind::Ar1: return ar1(n, mu, theta, rho);
    case theory::DataKind::File: break;
  }
  throw Error("data model 'file' has no parameters to sample from: build it from its second moment "
              "(SampleModel::gaussian)");
}
SampleModel SampleModel::from_name(const std::string& name, Index n, double mu, double theta, double rho) {
  return make(theory::parse_data_kind(name), n, mu, theta, rho);
}

void SampleModel::validate() const {
  const char* w = "data model";
  require(n >= 1, w, "dimension n must be >= 1");
  require(std::isfinite(mu), w, "mean mu must be finite");
  require(std::isfinite(theta) && theta >= 0, w, "standard deviation theta must be >= 0");
  if (kind == Kind::Ar1) require(std::isfinite(rho) && std::abs(rho) < 1, w, "AR(1) rho must satisfy |rho| < 1");
  if (kind == Kind::Gaussian) {
    require(sigma.rows() == sigma.cols() && sigma.rows() == n, w, "Sigma must be n x n");
    require(sigma.allFinite(), w, "Sigma has NaN/inf");
  }
}

theory::DataModel SampleModel::to_theory() const {
  switch (kind) {
    case Kind::Constant: return theory::DataModel::constant(n, mu, theta);
    case Kind::Iid: return theory::DataModel::iid(n, mu, theta);
    case Kind::Ar1: return theory::DataModel::ar1(n, mu, theta, rho);
    case Kind::Gaussian: return theory::DataModel::dense(sigma, "Gaussian data model");
  }
  throw Error("data model: unknown kind", Error::Kind::Internal);
}

Matrix SampleModel::second_moment() const {
  Matrix s(n, n);
  switch (kind) {
    case Kind::Constant: s.setConstant(mu * mu + theta * theta); break;
    case Kind::Iid:
      s.setConstant(mu * mu);
      s.diagonal().array() += theta * theta;
      break;
    case Kind::Ar1:
      for (Index i = 0; i < n; ++i)
        for (Index j = 0; j < n; ++j)
          s(i, j) = mu * mu + theta * theta * std::pow(rho, static_cast<double>(std::abs(i - j)));
      break;
    case Kind::Gaussian: s = sigma; break;
  }
  return s;
}

Matrix SampleModel::sample(Index frames, Rng& rng) const {
  validate();
  require(frames >= 1, "data model", "number of samples B must be >= 1");
  std::normal_distribution<double> nd(0.0, 1.0);
  Matrix y(n, frames);
  switch (kind) {
    case Kind::Constant:
      for (Index b = 0; b < frames; ++b) y.col(b).setConstant(mu + theta * nd(rng));
      break;
    case Kind::Iid:
      for (Index b = 0; b < frames; ++b)
        for (Index i = 0; i < n; ++i) y(i, b) = mu + theta * nd(rng);
      break;
    case Kind::Ar1: {
      const double c = std::sqrt(1 - rho * rho);
      for (Index b = 0; b < frames; ++b) {
        double u = nd(rng);
        y(0, b) = mu + theta * u;
        for (Index i = 1; i < n; ++i) {
          u = rho * u + c * nd(rng);
          y(i, b) = mu + theta * u;
        }
      }
      break;
    }
    case Kind::Gaussian: {
      Eigen::SelfAdjointEigenSolver<Matrix> es(sigma);
      require(es.eigenvalues().minCoeff() >= -1e-8 * (1 + es.eigenvalues().cwiseAbs().maxCoeff()),
              "Gaussian data model", "Sigma is not positive semidefinite");
      const Matrix l = es.eigenvectors() * es.eigenvalues().cwiseMax(0).cwiseSqrt().asDiagonal();
      Matrix e(n, frames);
      for (Index b = 0; b < frames; ++b)
        for (Index i = 0; i < n; ++i) e(i, b) = nd(rng);
      y.noalias() = l * e;
      break;
    }
  }
  return y;
}

void DataSource::validate(bool frames_anywhere) const {
  if (kind == theory::DataKind::File) {
    if (second_moment_file.empty() && clean_file.empty())
      throw Error("--data file needs --second-moment SIGMA (n x n) or --clean FRAMES (n x B)");
    return;
  }
  if (!second_moment_file.empty()) throw Error("--second-moment is only read with --data file");
  if (!frames_anywhere && !clean_file.empty()) throw Error("--clean is only read with --data file here");
}

Matrix DataSource::clean_frames() const {
  if (clean_file.empty()) return {};
  return read_frames(clean_file, n);
}

theory::DataModel DataSource::theory_model(Index default_n) const {
  validate(true);
  if (kind != theory::DataKind::File) return theory::make_data_model(kind, n == 0 ? default_n : n, mu, theta, rho);
  theory::DataModel file;
  if (!second_moment_file.empty()) {
    file = theory::DataModel::dense(io::read_matrix(second_moment_file), "second moment '" + second_moment_file + "'");
    if (n > 0 && file.n() != n)
      throw Error("--second-moment '" + second_moment_file + "' is " + std::to_string(file.n()) + " x " +
                  std::to_string(file.n()) + " but --n " + std::to_string(n));
  } else {
    file = theory::DataModel::dense(empirical_second_moment(clean_frames()), "Gaussian data model");
  }
  return theory::make_data_model(kind, n, mu, theta, rho, &file);
}

Matrix add_noise(const Matrix& clean, double noise_std, Rng& rng) {
  require(std::isfinite(noise_std) && noise_std >= 0, "add_noise", "noise std sigma must be >= 0");
  Matrix x = clean;
  add_gaussian_noise_inplace(x, noise_std, rng);
  return x;
}

Matrix read_frames(const std::filesystem::path& path, Index expected_n) {
  Matrix m = io::read_matrix(path);
  require(m.cols() >= 1, "frames file '" + path.string() + "'", "no frames");
  require(m.allFinite(), "frames file '" + path.string() + "'", "contains NaN/inf");
  if (expected_n > 0)
    require(m.rows() == expected_n, "frames file '" + path.string() + "'",
            "frames have " + std::to_string(m.rows()) + " rows (one frame per column), expected n = " +
                std::to_string(expected_n));
  return m;
}

Matrix empirical_second_moment(const Matrix& frames) {
  require(frames.cols() >= 1, "empirical_second_moment", "no frames");
  Matrix s;
  gemm(1.0 / static_cast<double>(frames.cols()), frames, false, frames, true, 0.0, s);
  return s;
}

}  // namespace varlearn::learn
