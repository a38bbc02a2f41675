#pragma once
/// \file data_model.hpp
/// Data models of the toy denoising problem x = y + eps, eps ~ N(0, sigma^2 I), described by
/// the clean signal's second moment \f$\Sigma = E[y y^T]\f$ and held as its spectrum
/// (eigenvalue groups with multiplicities), so the constant and i.i.d. models cost O(1) in n.
#include <memory>
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"

namespace varlearn::theory {

/// Where a data model comes from: a structured model by its parameters, or a second-moment file.
enum class DataKind { Constant, Iid, Ar1, File };

/// "constant" | "iid" | "ar1" | "file" -> DataKind; throws Error naming the accepted names.
DataKind parse_data_kind(const std::string& name);
/// The name parse_data_kind accepts.
std::string to_string(DataKind kind);

/// One eigenvalue \f$\gamma\f$ of \f$\Sigma\f$ with its multiplicity.
struct EigenGroup {
  double gamma = 0;
  Index multiplicity = 0;
};

/// Second-moment model \f$\Sigma\f$ of the clean data.
class DataModel {
public:
  enum class Kind { Constant, Iid, Ar1, Dense };

  /// y = lambda*1, E lambda = mu, Var lambda = theta^2: \f$\Sigma = (\mu^2+\theta^2) 11^T\f$.
  static DataModel constant(Index n, double mu, double theta);
  /// y_j i.i.d., mean mu, variance theta^2: \f$\Sigma = \mu^2 11^T + \theta^2 I\f$.
  static DataModel iid(Index n, double mu, double theta);
  /// Stationary AR(1): \f$\Sigma = \mu^2 11^T + \theta^2 \rho^{|i-j|}\f$ (|rho| < 1); dense path.
  static DataModel ar1(Index n, double mu, double theta, double rho);
  /// Any symmetric positive semidefinite matrix (one symmetric eigendecomposition).
  /// Rejects non-square, non-symmetric (relative 1e-8) or indefinite input; `where` names the source.
  static DataModel dense(const Matrix& sigma, const std::string& where = "second moment");

  Kind kind() const { return kind_; }
  std::string name() const;           ///< "constant", "iid", "ar1", "file"
  Index n() const { return n_; }
  const std::vector<EigenGroup>& spectrum() const { return groups_; }
  double trace() const;               ///< tr(Sigma)

  /// Dense \f$\Sigma\f$ (n x n). O(n^2) memory: for n up to a few thousand.
  Matrix second_moment() const;
  /// Orthonormal eigenvectors as columns, ordered like the expanded spectrum()
  /// (group 0's vectors first, then group 1's, ...). O(n^2) memory.
  Matrix eigenvectors() const;

  /// \f$\mathrm{tr}(A \Sigma A^T)\f$ for any n-column A, using the structure (O(n^2) for
  /// constant/iid, O(n^3) dense). The bias term of the risk is half of it with A = T - I.
  double quadratic_trace(const Matrix& a) const;

private:
  Kind kind_ = Kind::Dense;
  Index n_ = 0;
  double mu_ = 0, theta_ = 0, rho_ = 0;
  std::vector<EigenGroup> groups_;
  std::shared_ptr<const Matrix> sigma_;    ///< dense models only
  std::shared_ptr<const Matrix> vectors_;  ///< dense models only, columns match groups_
};

/// The one factory from a kind and its parameters: DataModel::constant / iid / ar1 with
/// (n, mu, theta[, rho]), or `*file` for DataKind::File (already read, e.g. with
/// DataModel::dense(io::read_matrix(path))). Throws Error when n < 1, when ar1 (a dense
/// n x n Sigma) has n > kMaxDenseDimension, or when File comes without a model.
DataModel make_data_model(DataKind kind, Index n, double mu, double theta, double rho,
                          const DataModel* file = nullptr);

}  // namespace varlearn::theory
