#include "varlearn/ops/model.hpp"

#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/parse.hpp"
#include "varlearn/ops/conv.hpp"
#include "varlearn/ops/identity.hpp"

namespace varlearn::ops {

OperatorModel::OperatorModel(Operator fixed) : fixed_(std::move(fixed)) {
  require(static_cast<bool>(*fixed_), "ops::OperatorModel", "empty operator");
  n_ = fixed_->input_size();
}

OperatorModel::OperatorModel(Index n, const MaskOptions& mask) : n_(n), mask_(mask) { mask_.validate(n); }

Operator OperatorModel::draw(Index batch, Rng& rng) const {
  if (fixed_) return *fixed_;
  return draw_mask(n_, batch, mask_, rng);
}

Index OperatorModel::input_size() const { return n_; }

std::string OperatorModel::describe() const {
  if (fixed_) return fixed_->describe();
  std::string s = "mask drawn per batch (n = ";
  s.append(std::to_string(n_)).append(", ").append(mask_.describe()).append(")");
  return s;
}

namespace {

std::vector<std::string> split(const std::string& s, char sep, size_t max_parts) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (parts.size() + 1 < max_parts) {
    const size_t pos = s.find(sep, start);
    if (pos == std::string::npos) break;
    parts.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
  parts.push_back(s.substr(start));
  return parts;
}

OperatorModel parse_unwrapped(const std::string& spec, Index n) {
  const std::string head = spec.substr(0, spec.find(':'));
  if (head == "identity") {
    require(spec == "identity", "identity", "takes no parameters");
    return OperatorModel(Operator(Identity(n)));
  }
  if (head == "mask") {
    const auto parts = split(spec, ':', 3);
    require(parts.size() == 2, "mask", "expected mask:P (P = probability that a sample is missing)");
    MaskOptions options;
    options.kind = MaskKind::Random;
    options.missing_probability = parse_number<double>(parts[1], "probability P");
    return OperatorModel(n, options);
  }
  if (head == "burst") {
    const auto parts = split(spec, ':', 4);
    require(parts.size() == 3, "burst", "expected burst:P:L (P = fraction missing, L = burst length)");
    MaskOptions options;
    options.kind = MaskKind::Burst;
    options.missing_probability = parse_number<double>(parts[1], "fraction P");
    options.burst_length = static_cast<Index>(parse_number<long long>(parts[2], "burst length L"));
    return OperatorModel(n, options);
  }
  if (head == "conv") {
    const auto parts = split(spec, ':', 2);  // the file name may hold ':'
    require(parts.size() == 2 && !parts[1].empty(), "conv", "expected conv:FILE (a kernel of taps)");
    const Matrix k = io::read_matrix(parts[1]);
    require(k.rows() == 1 || k.cols() == 1, "conv",
            std::string("kernel file holds a ") + std::to_string(k.rows()) + " x " + std::to_string(k.cols()) +
                " matrix (expected one row or one column of taps)");
    const Vector taps = k.rows() == 1 ? Vector(k.row(0).transpose()) : Vector(k.col(0));
    return OperatorModel(Operator(Conv(n, taps, ConvAlignment::Centered)));
  }
  throw Error(std::string("unknown operator ") + quote_for_message(head) +
              " (expected identity, mask:P, burst:P:L or conv:FILE)");
}

}  // namespace

OperatorModel parse_operator(const std::string& spec, Index n) {
  try {
    return parse_unwrapped(spec, n);
  } catch (const Error& e) {
    if (e.kind() != Error::Kind::BadInput) throw;
    throw Error(std::string("operator ") + quote_for_message(spec) + ": " + e.what());
  }
}

}  // namespace varlearn::ops
