// parallel_for / ExceptionCapture: an exception thrown inside an OpenMP loop arrives on the
// calling thread as the same exception (type, kind, message), from the lowest failing iteration
// whatever the thread count, and never terminates the process.
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <string>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/parallel.hpp"
#include "varlearn/core/threads.hpp"

using namespace varlearn;

TEST(Parallel, RunsEveryIterationWithoutFailure) {
  for (Schedule s : {Schedule::Static, Schedule::Dynamic}) {
    std::vector<int> hits(1000, 0);
    parallel_for(Index(hits.size()), [&](Index i) { hits[size_t(i)] += 1; }, s, 7);
    for (int h : hits) EXPECT_EQ(h, 1);
  }
}

TEST(Parallel, ErrorInIterationArrivesOnCallingThread) {
  for (Schedule s : {Schedule::Static, Schedule::Dynamic}) {
    try {
      parallel_for(1000, [](Index i) {
        if (i == 123) throw Error("iteration 123 failed", Error::Kind::Internal);
      }, s);
      FAIL() << "no exception";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "iteration 123 failed");
      EXPECT_EQ(e.kind(), Error::Kind::Internal);
    }
  }
}

TEST(Parallel, LowestFailingIterationWinsForEveryThreadCount) {
  for (int threads : {1, 2, 4}) {
    ScopedThreads scope(threads);
    for (Schedule s : {Schedule::Static, Schedule::Dynamic}) {
      try {
        parallel_for(2000, [](Index i) {
          if (i % 97 == 50) throw Error("failed at " + std::to_string(i));
        }, s, 3);
        FAIL() << "no exception";
      } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "failed at 50") << threads << " threads";
      }
    }
  }
}

TEST(Parallel, OtherExceptionTypesKeepTheirType) {
  EXPECT_THROW(parallel_for(100, [](Index i) {
                 if (i == 99) throw std::out_of_range("x");
               }),
               std::out_of_range);
}

TEST(Parallel, StopsEarlyAfterAFailure) {
  std::atomic<Index> ran{0};
  ScopedThreads scope(1);
  EXPECT_THROW(parallel_for(1000000, [&](Index i) {
                 ran++;
                 if (i == 10) throw Error("stop");
               }),
               Error);
  EXPECT_EQ(ran.load(), 11);  // one thread: iterations after the failure are skipped
}

TEST(Parallel, CaptureInsideHandWrittenPragma) {
  ExceptionCapture capture;
  std::vector<double> out(500, 0.0);
#pragma omp parallel for schedule(dynamic, 4)
  for (Index i = 0; i < 500; ++i)
    capture.run(i, [&] {
      if (i >= 300) throw Error("too far: " + std::to_string(i));
      out[size_t(i)] = double(i);
    });
  EXPECT_TRUE(capture.failed());
  EXPECT_EQ(capture.failed_index(), 300);
  for (Index i = 0; i < 300; ++i) EXPECT_EQ(out[size_t(i)], double(i));
  try {
    capture.rethrow_if_failed();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "too far: 300");
  }
}

TEST(Parallel, SerialWhenAskedAndEmptyLoop) {
  parallel_for(0, [](Index) { FAIL(); });
  std::vector<int> who(50, -1);
  parallel_for(50, [&](Index i) { who[size_t(i)] = omp_get_thread_num(); }, Schedule::Static, 0, false);
  for (int t : who) EXPECT_EQ(t, 0);
}

// ordered_blocks: blocks computed on the threads, combined in block order (so a floating-point
// sum is the same for every thread count); the lowest failing block's exception arrives.
TEST(OrderedBlocks, CombinesInBlockOrderForEveryThreadCount) {
  const varlearn::Index count = 37;
  std::vector<double> reference;
  for (int threads : {1, 2, 3}) {
    std::vector<double> slots(static_cast<size_t>(threads));
    std::vector<varlearn::Index> order;
    double sum = 0;
    varlearn::ordered_blocks(
        count, threads, slots, [](varlearn::Index i, double& s) { s = 1.0 / (1.0 + double(i) * double(i)) * 1e-3 + double(i); },
        [&](varlearn::Index i, double& s) {
          order.push_back(i);
          sum = sum * 0.999 + s;  // order-dependent
        });
    ASSERT_EQ(order.size(), size_t(count));
    for (varlearn::Index i = 0; i < count; ++i) EXPECT_EQ(order[size_t(i)], i) << threads << " threads";
    reference.push_back(sum);
  }
  EXPECT_EQ(reference[0], reference[1]);
  EXPECT_EQ(reference[0], reference[2]);
}

TEST(OrderedBlocks, RethrowsTheLowestFailingBlocksException) {
  for (int threads : {1, 2}) {
    std::vector<int> slots(static_cast<size_t>(threads));
    try {
      varlearn::ordered_blocks(
          20, threads, slots,
          [](varlearn::Index i, int&) {
            if (i == 7 || i == 12) throw std::runtime_error("block " + std::to_string(i));
          },
          [](varlearn::Index, int&) {});
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "block 7") << threads << " threads";
    }
  }
}
