#pragma once
/// \file reg.hpp
/// The regularizers concern (docs/regularizers.md): potentials, the interface, quadratic,
/// dense analysis, fields of experts, tv.
#include "varlearn/reg/analysis.hpp"
#include "varlearn/reg/foe.hpp"
#include "varlearn/reg/potential.hpp"
#include "varlearn/reg/quadratic.hpp"
#include "varlearn/reg/regularizer.hpp"
#include "varlearn/reg/tv.hpp"
