// Extreme inputs of the learning objective's statistics: a range error, never a NaN/inf loss.
#include <gtest/gtest.h>

#include <string>

#include "varlearn/core/error.hpp"
#include "varlearn/learn/objective.hpp"

using namespace varlearn;
using namespace varlearn::learn;

namespace {
template <class Fn>
void expect_out_of_range(Fn fn, const std::string& name) {
  try {
    fn();
    ADD_FAILURE() << name << ": no exception";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("out of range ("), std::string::npos) << m;
    EXPECT_NE(m.find(name), std::string::npos) << m;
  }
}
}  // namespace

TEST(LearnRanges, ExpectedMomentsRefuseSigmaOutsideTheTheoryRange) {
  const Matrix s = Matrix::Identity(3, 3);
  for (double sigma : {1e-200, 1e300})
    expect_out_of_range([&] { Moments<double>::expected(s, sigma); }, "sigma");
  expect_out_of_range([&] { Moments<double>::expected(s * 1e305, 0.9); }, "entry");
  // sigma^2 + S beyond float32: refused for float, fine for double.
  expect_out_of_range([&] { Moments<float>::expected(s * 1e40, 0.9); }, "second moment");
  const Moments<double> m = Moments<double>::expected(s * 1e40, 0.9);
  EXPECT_TRUE(m.xx.allFinite());
}

TEST(LearnRanges, FrameMomentsRefuseOverflow) {
  Matrix x = Matrix::Constant(4, 3, 1e200);
  expect_out_of_range([&] { Moments<double>::from_frames(x, x); }, "sample");
  MatrixT<float> xf = MatrixT<float>::Constant(4, 3, 1e30f);
  expect_out_of_range([&] { Moments<float>::from_frames(xf, xf); }, "sample");
  const Moments<double> ok = Moments<double>::from_frames(x * 1e-100, x * 1e-100);  // 1e100: squares fine
  EXPECT_TRUE(ok.xx.allFinite());
}
