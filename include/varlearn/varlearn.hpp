#pragma once
/// \file varlearn.hpp
/// Umbrella header of the varlearn library.
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/types.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/expressivity.hpp"
#include "varlearn/theory/family.hpp"
#include "varlearn/theory/optimal.hpp"
#include "varlearn/theory/risk.hpp"
