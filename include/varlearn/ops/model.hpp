#pragma once
/// \file model.hpp
/// An operator that may be random: fixed (identity, conv, a fixed mask) or a random mask
/// drawn per batch. `draw(B, rng)` gives the Operator of one batch (fixed ones return
/// themselves and draw nothing). `parse_operator` reads the CLI's specs.
#include <optional>
#include <string>

#include "varlearn/core/random.hpp"
#include "varlearn/ops/mask.hpp"
#include "varlearn/ops/operator.hpp"

namespace varlearn::ops {

class OperatorModel {
public:
  /// A fixed operator.
  explicit OperatorModel(Operator fixed);
  /// Random masks of frames of n samples (options validated against n).
  OperatorModel(Index n, const MaskOptions& mask);

  /// The operator of a batch of B frames; draws from rng only for a random mask.
  Operator draw(Index batch, Rng& rng) const;
  bool is_random() const { return !fixed_.has_value(); }
  Index input_size() const;
  std::string describe() const;

private:
  std::optional<Operator> fixed_;
  Index n_ = 0;
  MaskOptions mask_;
};

/// Reads an operator spec for frames of n samples:
/// - `identity`
/// - `mask:P` — random mask, each sample missing with probability P in [0, 1)
/// - `burst:P:L` — bursts of L missing samples covering a fraction P on average
/// - `conv:FILE` — centered "same" convolution with the kernel in FILE (io::read_matrix:
///   one row or one column of taps)
/// Numbers through parse_number. Throws Error "operator 'SPEC': why".
OperatorModel parse_operator(const std::string& spec, Index n);

}  // namespace varlearn::ops
