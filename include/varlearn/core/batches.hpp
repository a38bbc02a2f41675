#pragma once
/// \file batches.hpp
/// The minibatch order of stochastic training: over B items, batches of `size` indices taken
/// in turn from a seeded shuffle, reshuffled when fewer than `size` remain (every item once per
/// epoch). Its state — the generator as text, the epoch's permutation and the position — is
/// what a training checkpoint stores, so that a resumed run draws the same batches.
///
///   MinibatchOrder order(frames, 256, seed);
///   const std::vector<Index> idx = order.next();        // the next 256 frame indices
///   const MinibatchOrder::State s = order.state();      // into a checkpoint ...
///   order.restore(s);                                   // ... and back: the same stream
#include <cstdint>
#include <string>
#include <vector>

#include "varlearn/core/random.hpp"
#include "varlearn/core/types.hpp"

namespace varlearn {

class MinibatchOrder {
public:
  /// `items` >= 1 indices 0 .. items-1, batches of 1 <= size <= items (Error otherwise).
  MinibatchOrder(Index items, Index size, std::uint64_t seed);
  /// The next batch of `size` indices.
  std::vector<Index> next();

  struct State {
    std::string rng;           ///< the generator (std::mt19937_64 as text)
    std::vector<Index> order;  ///< the current epoch's permutation
    Index position = 0;        ///< batches taken from it so far x size
  };
  State state() const;
  /// Continues from `s`. Throws Error ("training checkpoint: ...") when the generator text is
  /// missing or malformed, the order is not a permutation of the items, or the position is out
  /// of range.
  void restore(const State& s);

private:
  std::vector<Index> perm_;
  Index size_;
  Rng rng_;
  size_t pos_ = 0;
};

}  // namespace varlearn
