#include "varlearn/core/batches.hpp"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "varlearn/core/error.hpp"

namespace varlearn {

MinibatchOrder::MinibatchOrder(Index items, Index size, std::uint64_t seed)
    : perm_(static_cast<size_t>(std::max<Index>(items, 0))), size_(size), rng_(seed) {
  require(items >= 1 && size >= 1 && size <= items, "MinibatchOrder",
          "need 1 <= batch size <= items, got " + std::to_string(size) + " of " + std::to_string(items));
  std::iota(perm_.begin(), perm_.end(), Index{0});
  pos_ = perm_.size();  // the first call shuffles
}

std::vector<Index> MinibatchOrder::next() {
  const size_t size = static_cast<size_t>(size_);
  if (pos_ + size > perm_.size()) {
    std::shuffle(perm_.begin(), perm_.end(), rng_);
    pos_ = 0;
  }
  std::vector<Index> out(perm_.begin() + static_cast<std::ptrdiff_t>(pos_),
                         perm_.begin() + static_cast<std::ptrdiff_t>(pos_ + size));
  pos_ += size;
  return out;
}

MinibatchOrder::State MinibatchOrder::state() const {
  std::ostringstream os;
  os << rng_;
  return {os.str(), perm_, static_cast<Index>(pos_)};
}

void MinibatchOrder::restore(const State& s) {
  const char* where = "training checkpoint";
  require(!s.rng.empty(), where, "the minibatch generator state is missing");
  Rng rng;
  std::istringstream is(s.rng);
  is >> rng;
  require(!is.fail(), where, "the minibatch generator state is malformed");
  require(s.order.size() == perm_.size(), where,
          "the minibatch order has " + std::to_string(s.order.size()) + " entries, the data " +
              std::to_string(perm_.size()) + " frames");
  std::vector<char> seen(perm_.size(), 0);
  for (const Index i : s.order) {
    require(i >= 0 && static_cast<size_t>(i) < perm_.size() && !seen[static_cast<size_t>(i)], where,
            "the minibatch order is not a permutation");
    seen[static_cast<size_t>(i)] = 1;
  }
  require(s.position >= 0 && static_cast<size_t>(s.position) <= perm_.size(), where,
          "the minibatch position is out of range");
  rng_ = rng;
  perm_ = s.order;
  pos_ = static_cast<size_t>(s.position);
}

}  // namespace varlearn
