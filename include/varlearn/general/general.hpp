#pragma once
/// \file general.hpp
/// General learning engine: energy, unrolled and bilevel learning for any
/// forward operator and regularizer, and the training loop and experiment behind
/// `varlearn train --operator/--regularizer` (docs/general.md).
#include "varlearn/general/energy.hpp"
#include "varlearn/general/unrolled.hpp"
#include "varlearn/general/bilevel.hpp"
#include "varlearn/general/linear.hpp"
#include "varlearn/general/model.hpp"
#include "varlearn/general/train.hpp"
#include "varlearn/general/experiment.hpp"
