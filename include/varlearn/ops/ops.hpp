#pragma once
/// \file ops.hpp
/// Umbrella header of the forward operators: the Operator concept and wrapper, the adjoint
/// checker and observation model, identity, masks, convolution, and the spec parser.
#include "varlearn/ops/conv.hpp"
#include "varlearn/ops/identity.hpp"
#include "varlearn/ops/mask.hpp"
#include "varlearn/ops/model.hpp"
#include "varlearn/ops/operator.hpp"
