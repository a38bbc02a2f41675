#pragma once
/// \file optim.hpp
/// Umbrella header of the optimization layer: the objective concept, Adam, L-BFGS with its
/// line search, progress/observer/result, resumable optimizer state, and the gradient checker.
#include "varlearn/optim/adam.hpp"
#include "varlearn/optim/function.hpp"
#include "varlearn/optim/gradient_check.hpp"
#include "varlearn/optim/lbfgs.hpp"
#include "varlearn/optim/line_search.hpp"
#include "varlearn/optim/progress.hpp"
#include "varlearn/optim/state.hpp"
