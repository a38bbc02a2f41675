// dist without a launcher: rank 0 of 1, trivial reductions, and the share arithmetic every
// rank relies on (tests/cli/test_cli_mpi.cpp runs the real thing under mpirun).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/dist/dist.hpp"

using namespace varlearn;

TEST(Dist, OutsideALaunchIsRankZeroOfOne) {
  EXPECT_EQ(dist::rank(), 0);
  EXPECT_EQ(dist::size(), 1);
  EXPECT_TRUE(dist::is_root());
  EXPECT_EQ(dist::rank_label(), "");
}

TEST(Dist, OneRankSumAndBroadcastKeepTheValues) {
  Vector v(3);
  v << 1.5, -2.0, 1e-300;
  const Vector before = v;
  dist::sum(v);
  EXPECT_EQ(v, before);
  EXPECT_EQ(dist::sum(0.25), 0.25);
  std::string s = "same";
  dist::broadcast(s);
  EXPECT_EQ(s, "same");
  dist::barrier();
  const dist::ReduceStats st = dist::reduce_stats();
  EXPECT_GE(st.calls, 2);
  EXPECT_GE(st.values, 4.0);
}

TEST(Dist, SharesAreContiguousBalancedAndCoverEveryItemOnce) {
  for (int p = 1; p <= 9; ++p) {
    for (Index count : {Index(0), Index(1), Index(5), Index(37), Index(1000)}) {
      Index next = 0, smallest = count, largest = 0;
      for (int r = 0; r < p; ++r) {
        const dist::Share s = dist::share(count, r, p);
        EXPECT_EQ(s.begin, next) << "p " << p << " count " << count << " r " << r;
        next += s.count;
        smallest = std::min(smallest, s.count);
        largest = std::max(largest, s.count);
      }
      EXPECT_EQ(next, count);
      EXPECT_LE(largest - smallest, 1);
    }
  }
  EXPECT_THROW(dist::share(5, 2, 2), Error);
  EXPECT_THROW(dist::share(-1, 0, 1), Error);
}

TEST(Dist, FailWithOneRankReturnsToTheCaller) {
  dist::fail("nothing to end", 2, true);  // one rank: the caller prints and exits
  SUCCEED();
}

TEST(Dist, LargestFirstGoesToTheLeastLoadedRank) {
  // costs 5 3 8 1 4 onto 2 ranks: 8 -> 0, 5 -> 1, 4 -> 1 (5 < 8), 3 -> 0 (8 < 9), 1 -> 1 (9 < 11)
  const std::vector<int> owner = dist::assign_largest_first({5, 3, 8, 1, 4}, 2);
  EXPECT_EQ(owner, (std::vector<int>{1, 0, 0, 1, 1}));
  std::vector<double> load(2, 0);
  const std::vector<double> costs{5, 3, 8, 1, 4};
  for (size_t i = 0; i < costs.size(); ++i) load[size_t(owner[i])] += costs[i];
  EXPECT_EQ(load[0], 11);
  EXPECT_EQ(load[1], 10);
  EXPECT_EQ(dist::assign_largest_first({2, 2, 2}, 1), (std::vector<int>{0, 0, 0}));
  EXPECT_EQ(dist::assign_largest_first({1, 1, 1}, 4), (std::vector<int>{0, 1, 2}));  // ties: the lower rank
  EXPECT_TRUE(dist::assign_largest_first({}, 3).empty());
  EXPECT_THROW(dist::assign_largest_first({1}, 0), Error);
}

TEST(Dist, AloneIsRankZeroOfOneForItsScope) {
  {
    const dist::Alone alone;
    EXPECT_EQ(dist::size(), 1);
    EXPECT_TRUE(dist::is_root());
    dist::idle_barrier();  // trivial with one rank
  }
  EXPECT_EQ(dist::size(), 1);  // one process: as before
}

TEST(Dist, OneRankGathersItsOwnText) {
  EXPECT_EQ(dist::all_gather("abc"), (std::vector<std::string>{"abc"}));
  EXPECT_EQ(dist::gather(std::string("a\0b", 3)), (std::vector<std::string>{std::string("a\0b", 3)}));  // bytes, not C strings
  Matrix parts(2, 3);
  parts << 1, 2, 3, 10, 20, 30;
  const Vector s = dist::sum_parts(parts, 3);  // one process holds all 3 parts: added in order
  EXPECT_EQ(s(0), 6);
  EXPECT_EQ(s(1), 60);
  EXPECT_THROW(dist::sum_parts(parts, 2), Error);  // 3 columns but a share of 2
}


TEST(Dist, OneRanksShareIsTheWholeListInItsOrder) {
  EXPECT_EQ(dist::my_share({7, 2, 9}, {1.0, 5.0, 3.0}), (std::vector<size_t>{7, 2, 9}));
  EXPECT_TRUE(dist::my_share({}, {}).empty());
  EXPECT_THROW(dist::my_share({1, 2}, {1.0}), Error);
}
