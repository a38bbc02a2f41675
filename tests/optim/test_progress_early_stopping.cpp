// early_stopping_step: the best loss resets the count; patience validations without
// improvement stop; patience 0 never stops and counts nothing (what checkpoints store).
#include <gtest/gtest.h>

#include <limits>

#include "varlearn/optim/progress.hpp"

namespace varlearn::optim {
namespace {

TEST(EarlyStopping, PatienceCountsValidationsWithoutImprovement) {
  double best = std::numeric_limits<double>::infinity();
  int bad = 0;
  EXPECT_EQ(early_stopping_step(3.0, best, bad, 2), Validation::Improved);
  EXPECT_EQ(early_stopping_step(3.0, best, bad, 2), Validation::Worse);  // equal is not better
  EXPECT_EQ(bad, 1);
  EXPECT_EQ(early_stopping_step(2.0, best, bad, 2), Validation::Improved);
  EXPECT_EQ(bad, 0);
  EXPECT_DOUBLE_EQ(best, 2.0);
  EXPECT_EQ(early_stopping_step(2.5, best, bad, 2), Validation::Worse);
  EXPECT_EQ(early_stopping_step(2.6, best, bad, 2), Validation::Stop);
  EXPECT_EQ(bad, 2);
}

TEST(EarlyStopping, PatienceZeroNeverStops) {
  double best = 1.0;
  int bad = 0;
  for (int k = 0; k < 5; ++k) EXPECT_EQ(early_stopping_step(2.0, best, bad, 0), Validation::Worse);
  EXPECT_EQ(bad, 0);
}

}  // namespace
}  // namespace varlearn::optim
