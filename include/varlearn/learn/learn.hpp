#pragma once
/// \file learn.hpp
/// Umbrella header of the learning engine.
#include "varlearn/learn/checkpoint.hpp"
#include "varlearn/learn/data.hpp"
#include "varlearn/learn/evaluate.hpp"
#include "varlearn/learn/experiment.hpp"
#include "varlearn/learn/model.hpp"
#include "varlearn/learn/objective.hpp"
#include "varlearn/learn/stepsize.hpp"
#include "varlearn/learn/trainer.hpp"
