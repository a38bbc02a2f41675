// ops: forward operators. Adjoint (dot-product) tests of every operator at odd sizes, in float
// and double; identity exact; masks zero exactly the missing samples, bursts have length L and
// cover p; conv against an independent dense Toeplitz matrix; norm bounds against power
// iteration and the exact norm; the observation model; bad input; the spec parser.
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numbers>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/ops/ops.hpp"

using namespace varlearn;
using ops::Conv;
using ops::ConvAlignment;
using ops::Identity;
using ops::Mask;
using ops::MaskKind;
using ops::MaskOptions;
using ops::Operator;

namespace {

/// Tolerance of the adjoint test per scalar type: rounding of two inner products of n B terms.
template <class T>
double adjoint_tolerance();
template <>
double adjoint_tolerance<double>() { return 1e-12; }
template <>
double adjoint_tolerance<float>() { return 1e-5; }

Vector kernel_of_length(Index length, std::uint64_t seed) {
  Rng rng(seed);
  return gaussian_matrix(length, 1, 1.0, rng).col(0);
}

/// The dense matrix of the "same" convolution, built independently of Conv: column j is the
/// full convolution of the unit vector e_j (h placed at j .. j + L - 1) read at rows c .. c + n - 1.
Matrix dense_conv(Index n, const Vector& h, Index c) {
  const Index length = h.size();
  Matrix a = Matrix::Zero(n, n);
  for (Index j = 0; j < n; ++j) {
    Vector full = Vector::Zero(n + length - 1);
    for (Index k = 0; k < length; ++k) full(j + k) += h(k);  // (h * e_j)_m = h_{m - j}
    for (Index i = 0; i < n; ++i) a(i, j) = full(i + c);
  }
  return a;
}

double rel_diff(const Matrix& a, const Matrix& b) {
  const double scale = std::max(a.cwiseAbs().maxCoeff(), b.cwiseAbs().maxCoeff());
  return scale > 0 ? (a - b).cwiseAbs().maxCoeff() / scale : 0.0;
}

/// Every operator of the concern at frame size n (and batch for the per-frame masks).
std::vector<Operator> all_operators(Index n, Index batch) {
  Rng rng(11);
  std::vector<Operator> ops;
  ops.emplace_back(Identity(n));
  MaskOptions random;
  random.kind = MaskKind::Random;
  random.missing_probability = 0.3;
  ops.emplace_back(ops::draw_mask(n, batch, random, rng));  // per-frame pattern, n x B
  ops.emplace_back(Mask(ops::draw_mask_pattern(n, 1, random, rng)));  // one pattern, any B
  MaskOptions burst;
  burst.kind = MaskKind::Burst;
  burst.missing_probability = 0.2;
  burst.burst_length = 2;
  ops.emplace_back(ops::draw_mask(n, batch, burst, rng));
  for (Index length : {1, 2, 4, 5, 9, 40})
    for (ConvAlignment al : {ConvAlignment::Centered, ConvAlignment::Causal})
      ops.emplace_back(Conv(n, kernel_of_length(length, 100 + static_cast<std::uint64_t>(length)), al));
  return ops;
}

/// A scaled identity with a wrong adjoint (2x instead of x): the checker must catch it.
struct WrongAdjoint {
  Index n;
  template <class T>
  MatrixT<T> apply(const MatrixT<T>& f) const { return f; }
  template <class T>
  MatrixT<T> adjoint(const MatrixT<T>& g) const { return T(1.001) * g; }  // planted 0.1 % error
  Index input_size() const { return n; }
  Index output_size() const { return n; }
  Index batch_size() const { return 0; }
  double norm_squared_bound() const { return 1; }
  std::string describe() const { return "wrong adjoint"; }
};

/// A user-defined operator that is not square: sums of adjacent samples (n -> n - 1).
struct PairSum {
  Index n;
  template <class T>
  MatrixT<T> apply(const MatrixT<T>& f) const { return f.topRows(n - 1) + f.bottomRows(n - 1); }
  template <class T>
  MatrixT<T> adjoint(const MatrixT<T>& g) const {
    MatrixT<T> out = MatrixT<T>::Zero(n, g.cols());
    out.topRows(n - 1) += g;
    out.bottomRows(n - 1) += g;
    return out;
  }
  Index input_size() const { return n; }
  Index output_size() const { return n - 1; }
  Index batch_size() const { return 0; }
  double norm_squared_bound() const { return 4; }
  std::string describe() const { return "pair sum"; }
};
static_assert(ops::LinearOperator<PairSum, float> && ops::LinearOperator<PairSum, double>);
static_assert(ops::LinearOperator<Conv, float> && ops::LinearOperator<Mask, double>);

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

template <class T>
class OpsTyped : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(OpsTyped, Scalars);

TYPED_TEST(OpsTyped, AdjointOfEveryOperatorAtOddSizes) {
  using T = TypeParam;
  for (Index n : {7, 37})
    for (Index batch : {1, 5})
      for (const Operator& op : all_operators(n, batch)) {
        Rng rng(3);
        const double err = ops::check_adjoint<T>(op, rng, 5, batch);
        EXPECT_LT(err, adjoint_tolerance<T>()) << op.describe() << " B = " << batch;
      }
}

TYPED_TEST(OpsTyped, IdentityIsExact) {
  using T = TypeParam;
  Rng rng(1);
  const MatrixT<T> f = gaussian_matrix(37, 5, 1.0, rng).cast<T>();
  const Operator id = Identity(37);
  EXPECT_TRUE((id.apply(f).array() == f.array()).all());
  EXPECT_TRUE((id.adjoint(f).array() == f.array()).all());
  EXPECT_EQ(id.norm_squared_bound(), 1.0);
}

TYPED_TEST(OpsTyped, ConvMatchesDenseToeplitz) {
  using T = TypeParam;
  const double tol = std::is_same_v<T, double> ? 1e-12 : 1e-5;
  for (Index n : {7, 37})
    for (Index length : {1, 2, 4, 5, 9, 40})
      for (ConvAlignment al : {ConvAlignment::Centered, ConvAlignment::Causal}) {
        const Vector h = kernel_of_length(length, 7 + static_cast<std::uint64_t>(length));
        const Conv conv(n, h, al);
        const Index c = al == ConvAlignment::Centered ? (length - 1) / 2 : 0;
        EXPECT_EQ(conv.offset(), c);
        const Matrix dense = dense_conv(n, h, c);
        Rng rng(5);
        const Matrix f = gaussian_matrix(n, 5, 1.0, rng);
        const Matrix g = gaussian_matrix(n, 5, 1.0, rng);
        const Matrix af = conv.apply<T>(f.cast<T>()).template cast<double>();
        const Matrix atg = conv.adjoint<T>(g.cast<T>()).template cast<double>();
        EXPECT_LT(rel_diff(af, dense * f), tol) << conv.describe();
        EXPECT_LT(rel_diff(atg, dense.transpose() * g), tol) << conv.describe();
      }
}

TEST(Ops, ConvGoldenValuesNumpySame) {
  // numpy.convolve([1, 2, 3], [1, 1], 'same') = [1, 3, 5]; ([1, 0, 0, 0], [1, 2, 3], 'same') = [2, 3, 0, 0].
  Matrix f(3, 1);
  f << 1, 2, 3;
  EXPECT_EQ(Conv(3, Vector::Ones(2)).apply(f), (Matrix(3, 1) << 1, 3, 5).finished());
  Matrix e(4, 1);
  e << 1, 0, 0, 0;
  const Vector h = (Vector(3) << 1, 2, 3).finished();
  EXPECT_EQ(Conv(4, h).apply(e), (Matrix(4, 1) << 2, 3, 0, 0).finished());
  // causal: the first n samples of the full convolution [1, 2, 3, 0, 0, 0].
  EXPECT_EQ(Conv(4, h, ConvAlignment::Causal).apply(e), (Matrix(4, 1) << 1, 2, 3, 0).finished());
  // adjoint = correlation: A^T e_0 (centered) = h_{k} at j = c - k ... rows 0, 1 hold h_1, h_0.
  EXPECT_EQ(Conv(4, h).adjoint(e), (Matrix(4, 1) << 2, 1, 0, 0).finished());
}

TEST(Ops, CheckerCatchesAPlantedAdjointError) {
  Rng rng(2);
  const double err = ops::check_adjoint(Operator(WrongAdjoint{7}), rng, 3);
  EXPECT_GT(err, 1e-4);
  EXPECT_LT(err, 2e-3);
}

TEST(Ops, UserDefinedRectangularOperator) {
  const Operator op = PairSum{7};
  EXPECT_EQ(op.input_size(), 7);
  EXPECT_EQ(op.output_size(), 6);
  Rng rng(4);
  EXPECT_LT(ops::check_adjoint(op, rng, 5, 5), 1e-12);
  EXPECT_LE(ops::estimate_norm_squared(op, rng, 300), op.norm_squared_bound());
  // ||A||^2 = max eigenvalue of the path graph's signless Laplacian = 2 + 2 cos(pi / 7).
  EXPECT_NEAR(ops::estimate_norm_squared(op, rng, 2000), 2 + 2 * std::cos(std::numbers::pi / 7), 1e-9);
  // Shapes: the wrapper names both.
  const std::string m = error_of([&] { (void)op.adjoint(Matrix::Zero(7, 2)); });
  EXPECT_NE(m.find("7 x 2"), std::string::npos) << m;
  EXPECT_NE(m.find("6 x B"), std::string::npos) << m;
  EXPECT_THROW((void)Operator().apply(Matrix::Zero(1, 1)), Error);
}

TEST(Ops, NormBoundsAtLeastPowerIterationAndExact) {
  for (Index n : {7, 37})
    for (Index length : {1, 2, 5, 9})
      for (ConvAlignment al : {ConvAlignment::Centered, ConvAlignment::Causal}) {
        const Vector h = kernel_of_length(length, 50 + static_cast<std::uint64_t>(length));
        const Operator op = Conv(n, h, al);
        Rng rng(6);
        const double estimate = ops::estimate_norm_squared(op, rng, 500);
        const Matrix dense = dense_conv(n, h, al == ConvAlignment::Centered ? (length - 1) / 2 : 0);
        const double exact =
            Eigen::SelfAdjointEigenSolver<Matrix>(dense.transpose() * dense).eigenvalues().maxCoeff();
        EXPECT_LE(estimate, exact * (1 + 1e-12));
        EXPECT_GE(op.norm_squared_bound(), exact) << op.describe();
        EXPECT_LE(op.norm_squared_bound(), h.lpNorm<1>() * h.lpNorm<1>() * (1 + 1e-12));
      }
  // A low-pass kernel of mixed signs: the symbol bound is well below Young's ||h||_1^2.
  const Vector lowpass = (Vector(5) << -0.1, 0.3, 0.6, 0.3, -0.1).finished();  // sum 1, ||h||_1 = 1.4
  const Conv conv(37, lowpass);
  EXPECT_GE(conv.norm_squared_bound(), 1.0);  // |H(0)| = 1
  EXPECT_LT(conv.norm_squared_bound(), 1.1);
  for (Index batch : {1, 5})
    for (const Operator& op : all_operators(37, batch)) {
      Rng rng(8);
      EXPECT_GE(op.norm_squared_bound() * (1 + 1e-12), ops::estimate_norm_squared(op, rng, 200)) << op.describe();
    }
  Rng rng(9);
  EXPECT_NEAR(ops::estimate_norm_squared(Operator(Identity(7)), rng), 1.0, 1e-15);
}

TEST(Ops, MaskZeroesExactlyTheMissingSamples) {
  Rng rng(12);
  MaskOptions options;
  options.missing_probability = 0.4;
  const Mask mask = ops::draw_mask(37, 5, options, rng);
  const Matrix f = gaussian_matrix(37, 5, 1.0, rng) + Matrix::Constant(37, 5, 3.0);  // no zero entries
  const Matrix out = mask.apply(f);
  for (Index j = 0; j < 5; ++j)
    for (Index i = 0; i < 37; ++i) {
      if (mask.observed()(i, j)) {
        EXPECT_EQ(out(i, j), f(i, j));
      } else {
        EXPECT_EQ(out(i, j), 0.0);
      }
    }
  EXPECT_EQ((out.array() == 0).count(), mask.missing_count());
  EXPECT_GT(mask.missing_count(), 0);
  // A^T A = A (idempotent, self-adjoint).
  EXPECT_EQ(mask.apply(out), out);
  EXPECT_EQ(mask.adjoint(f), out);
  // One pattern for every frame: any B.
  const Mask shared = Mask::from_matrix((Matrix(3, 1) << 1, 0, 1).finished());
  EXPECT_EQ(shared.batch_size(), 0);
  const Matrix g = Matrix::Constant(3, 4, 2.0);
  const Matrix expected = (Matrix(3, 4) << 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 2, 2).finished();
  EXPECT_EQ(shared.apply(g), expected);
  EXPECT_EQ(Operator(shared).describe(), "mask (n = 3, every frame, 1 of 3 samples missing)");
  // A per-frame pattern takes its own B only.
  const std::string m = error_of([&] { (void)Operator(mask).apply(Matrix::Zero(37, 4)); });
  EXPECT_NE(m.find("37 x 4"), std::string::npos) << m;
  EXPECT_NE(m.find("37 x 5"), std::string::npos) << m;
}

TEST(Ops, RandomMaskFractionAndSeeds) {
  MaskOptions options;
  options.missing_probability = 0.1;
  Rng rng(13);
  const Mask mask = ops::draw_mask(37, 3000, options, rng);
  const double fraction = static_cast<double>(mask.missing_count()) / (37.0 * 3000.0);
  EXPECT_NEAR(fraction, 0.1, 0.005);
  Rng a(21), b(21);
  EXPECT_TRUE((ops::draw_mask_pattern(37, 5, options, a) == ops::draw_mask_pattern(37, 5, options, b)).all());
  EXPECT_FALSE((ops::draw_mask_pattern(37, 5, options, a) == ops::draw_mask_pattern(37, 5, options, a)).all());
  options.missing_probability = 0;
  EXPECT_EQ(ops::draw_mask(7, 5, options, a).missing_count(), 0);
}

TEST(Ops, BurstsHaveLengthLAndCoverP) {
  struct Case {
    Index n;
    double p;
    Index length;
  };
  for (const Case& c : {Case{37, 0.2, 3}, Case{37, 0.05, 1}, Case{7, 0.3, 2}, Case{320, 0.1, 16}, Case{37, 0.45, 4}}) {
    MaskOptions options;
    options.kind = MaskKind::Burst;
    options.missing_probability = c.p;
    options.burst_length = c.length;
    Rng rng(14);
    const Index batch = 4000;
    const ops::MaskPattern observed = ops::draw_mask_pattern(c.n, batch, options, rng);
    Index missing = 0;
    for (Index j = 0; j < batch; ++j) {
      Index run = 0;
      for (Index i = 0; i <= c.n; ++i) {
        if (i < c.n && !observed(i, j)) {
          ++run;
          ++missing;
          continue;
        }
        if (run > 0) {
          ASSERT_EQ(run, c.length) << "frame " << j << " ends a run at " << i;
        }
        run = 0;
      }
    }
    const double fraction = static_cast<double>(missing) / static_cast<double>(c.n * batch);
    EXPECT_NEAR(fraction, c.p, 0.05 * c.p) << "n = " << c.n << " p = " << c.p << " L = " << c.length;
  }
}

TEST(Ops, BurstCountIsExactWhenPnOverLIsAnInteger) {
  // p n / L meant as an integer k, whatever its rounding (0.56 * 25 / 2 = 7.000000000000001,
  // 15/22 * 22 / 3 = 4.999999999999999): exactly k bursts in every frame.
  for (const auto& [n, p, length, missing] : {std::tuple<Index, double, Index, Index>{10, 0.3, 1, 3},
                                              {8, 0.25, 2, 2}, {25, 0.56, 2, 14}, {22, 15.0 / 22, 3, 15},
                                              {37, 0.0, 4, 0}}) {
    MaskOptions options;
    options.kind = MaskKind::Burst;
    options.missing_probability = p;
    options.burst_length = length;
    Rng rng(17);
    const ops::MaskPattern observed = ops::draw_mask_pattern(n, 500, options, rng);
    for (Index j = 0; j < 500; ++j) ASSERT_EQ(n - observed.col(j).count(), missing) << "frame " << j;
  }
}

TEST(Ops, ObserveIsApplyPlusColumnMajorNoise) {
  Rng rng(15);
  const Matrix f = gaussian_matrix(7, 5, 1.0, rng);
  const Operator op = Conv(7, kernel_of_length(3, 1));
  Rng r1(99), r2(99);
  const Matrix g = ops::observe(op, f, 0.1, r1);
  Matrix expected = op.apply(f);
  add_gaussian_noise_inplace(expected, 0.1, r2);
  EXPECT_EQ(g, expected);
  const MatrixT<float> gf = ops::observe<float>(op, f.cast<float>(), 0.0f, r1);
  EXPECT_EQ(gf, op.apply(MatrixT<float>(f.cast<float>())));
  EXPECT_THROW((void)ops::observe(op, f, -0.1, r1), Error);
  EXPECT_THROW((void)ops::observe(op, f, std::nan(""), r1), Error);
  EXPECT_THROW((void)ops::observe(op, Matrix(Matrix::Zero(6, 5)), 0.1, r1), Error);
}

TEST(Ops, BadInputIsAnError) {
  auto mask_error = [](MaskKind kind, double p, Index length, Index n) {
    MaskOptions options;
    options.kind = kind;
    options.missing_probability = p;
    options.burst_length = length;
    return error_of([&] { options.validate(n); });
  };
  EXPECT_NE(mask_error(MaskKind::Random, 1.0, 1, 7).find("missing_probability = 1 out of range"), std::string::npos);
  EXPECT_NE(mask_error(MaskKind::Random, -0.1, 1, 7), "");
  EXPECT_NE(mask_error(MaskKind::Random, std::nan(""), 1, 7), "");
  EXPECT_EQ(mask_error(MaskKind::Random, 0.0, 1, 7), "");
  EXPECT_NE(mask_error(MaskKind::Burst, 0.1, 0, 7).find("burst_length = 0"), std::string::npos);
  EXPECT_NE(mask_error(MaskKind::Burst, 0.1, 8, 7), "");
  EXPECT_NE(mask_error(MaskKind::Burst, 0.9, 4, 40).find("do not fit"), std::string::npos);
  EXPECT_EQ(mask_error(MaskKind::Burst, 0.5, 3, 7), "");  // k <= 2: 2 (3 + 1) <= 8
  EXPECT_NE(error_of([] { Conv(7, Vector()); }).find("empty kernel"), std::string::npos);
  EXPECT_NE(error_of([] { Conv(7, Vector::Constant(2, std::nan(""))); }), "");
  EXPECT_NE(error_of([] { Conv(0, Vector::Ones(2)); }), "");
  EXPECT_NE(error_of([] { Identity(0); }), "");
  EXPECT_NE(error_of([] { Mask(ops::MaskPattern()); }), "");
  EXPECT_NE(error_of([] { Mask::from_matrix((Matrix(2, 1) << 1, 0.5).finished()); }).find("entry (1, 0) = 0.5"),
            std::string::npos);
  const std::string shape = error_of([] { (void)Conv(7, Vector::Ones(3)).apply(Matrix(Matrix::Zero(5, 2))); });
  EXPECT_NE(shape.find("input is 5 x 2"), std::string::npos) << shape;
  EXPECT_NE(shape.find("takes 7 x B"), std::string::npos) << shape;
  Rng rng(1);
  EXPECT_THROW((void)ops::check_adjoint(Operator(Identity(3)), rng, 0), Error);
  EXPECT_THROW((void)ops::draw_mask(7, 0, MaskOptions{}, rng), Error);
}

TEST(Ops, OperatorModelDrawsMasksPerBatchOnly) {
  const ops::OperatorModel fixed(Operator(Identity(7)));
  Rng a(3), b(3);
  const Operator id = fixed.draw(5, a);
  EXPECT_FALSE(fixed.is_random());
  EXPECT_EQ(a(), b());  // a fixed operator draws nothing
  MaskOptions options;
  options.missing_probability = 0.5;
  const ops::OperatorModel random(7, options);
  EXPECT_TRUE(random.is_random());
  const Operator m1 = random.draw(5, a), m2 = random.draw(5, a);
  EXPECT_EQ(m1.batch_size(), 5);
  const Matrix ones = Matrix::Ones(7, 5);
  EXPECT_NE(m1.apply(ones), m2.apply(ones));  // fresh masks (2^-35 chance of equality)
}

TEST(Ops, ParseOperatorSpecs) {
  EXPECT_EQ(ops::parse_operator("identity", 7).describe(), "identity (n = 7)");
  const ops::OperatorModel mask = ops::parse_operator("mask:0.25", 37);
  EXPECT_TRUE(mask.is_random());
  EXPECT_EQ(mask.describe(), "mask drawn per batch (n = 37, random p = 0.25)");
  const ops::OperatorModel burst = ops::parse_operator("burst:0.2:3", 37);
  EXPECT_EQ(burst.describe(), "mask drawn per batch (n = 37, burst p = 0.2 L = 3)");

  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("varlearn-ops-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "h.txt") << "0.25 0.5 0.25\n";
    std::ofstream(dir / "col.txt") << "1\n-1\n";
    std::ofstream(dir / "square.txt") << "1 2\n3 4\n";
  }
  const ops::OperatorModel conv = ops::parse_operator("conv:" + (dir / "h.txt").string(), 7);
  EXPECT_FALSE(conv.is_random());
  EXPECT_EQ(conv.describe(), "conv (n = 7, L = 3, centered)");
  Rng rng(1);
  EXPECT_LT(ops::check_adjoint(conv.draw(2, rng), rng), 1e-12);
  EXPECT_EQ(ops::parse_operator("conv:" + (dir / "col.txt").string(), 7).describe(), "conv (n = 7, L = 2, centered)");

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"foo", "unknown operator 'foo'"},
      {"", "unknown operator ''"},
      {"identity:3", "takes no parameters"},
      {"mask", "expected mask:P"},
      {"mask:0.1:2", "expected mask:P"},
      {"mask:1", "missing_probability = 1 out of range"},
      {"mask:-0.5", "out of range"},
      {"mask:abc", "probability P"},
      {"mask:nan", "probability P"},
      {"burst:0.2", "expected burst:P:L"},
      {"burst:0.2:0", "burst_length = 0"},
      {"burst:0.2:1.5", "burst length L"},
      {"burst:0.2:99", "burst_length = 99"},
      {"conv:", "expected conv:FILE"},
      {"conv:" + (dir / "missing.txt").string(), "missing.txt"},
      {"conv:" + (dir / "square.txt").string(), "2 x 2 matrix"},
  };
  for (const auto& [spec, expected] : bad) {
    const std::string m = error_of([&] { (void)ops::parse_operator(spec, 7); });
    EXPECT_EQ(m.rfind("operator '", 0), 0u) << spec << ": " << m;
    EXPECT_NE(m.find(expected), std::string::npos) << spec << ": " << m;
  }
  std::filesystem::remove_all(dir);
}

// The worked example of docs/ops.md, verbatim: it must build and hold.
TEST(Ops, DocsExample) {
  Rng rng(1);
  ops::Operator a = ops::Conv(37, (Vector(3) << 0.25, 0.5, 0.25).finished());  // low-pass, centered
  Matrix f = gaussian_matrix(37, 8, 1.0, rng);                  // 8 frames
  Matrix g = ops::observe(a, f, 0.1, rng);                       // g = A f + 0.1 eps
  Matrix grad = a.adjoint(Matrix(a.apply(f) - g));              // A^T (A f - g)
  double err = ops::check_adjoint(a, rng);                       // ~1e-16
  EXPECT_LT(err, 1e-12);
  EXPECT_EQ(grad.rows(), 37);
  EXPECT_EQ(a.apply(f - g).cols(), 8);  // an expression: evaluated first
  EXPECT_LE(a.norm_squared_bound(), 1.0 + 1e-12 + std::numbers::pi / 256 * 0.5);
  EXPECT_GE(a.norm_squared_bound(), 1.0);  // |H(0)| = 1
}

TEST(Operator, ColumnsOfAPerFrameMaskAreTheFramesOwnPatterns) {
  // A data-parallel rank's share of a batch: the operator of frames [begin, begin + count).
  Rng rng(4);
  const Index n = 7, b = 9;
  MaskOptions random;
  random.missing_probability = 0.4;
  const Operator a = ops::draw_mask(n, b, random, rng);
  const Matrix f = Matrix::Random(n, b);
  const Operator part = a.columns(3, 4);
  EXPECT_EQ(part.batch_size(), 4);
  EXPECT_EQ(part.apply(Matrix(f.middleCols(3, 4))), a.apply(f).middleCols(3, 4));
  EXPECT_EQ(part.adjoint(Matrix(f.middleCols(3, 4))), a.adjoint(f).middleCols(3, 4));
  EXPECT_THROW(a.columns(6, 4), Error);
  EXPECT_THROW(a.columns(-1, 2), Error);
  // Operators that take any B are their own share.
  const Operator id = Identity(n);
  EXPECT_EQ(id.columns(2, 3).batch_size(), 0);
  EXPECT_EQ(id.columns(2, 3).apply(Matrix(f.middleCols(2, 3))), f.middleCols(2, 3));
}


TEST(Ops, AddNormalAddsTheNormalProductAndOnlyTheIdentitySaysItIsOne) {
  // out += A^T A f: the identity's shortcut (out += f) and every other operator's product.
  const Index n = 12, batch = 5;
  Rng rng(3);
  const Matrix f = Matrix::Random(n, batch), start = Matrix::Random(n, batch);
  int identities = 0;
  for (const Operator& a : all_operators(n, batch)) {
    identities += a.identity();
    Matrix out = start;
    a.add_normal(f, out);
    EXPECT_LT(rel_diff(out, start + a.adjoint(a.apply(f))), 1e-15) << a.describe();
  }
  EXPECT_EQ(identities, 1);
  EXPECT_TRUE(Operator(Identity(n)).identity());
}
