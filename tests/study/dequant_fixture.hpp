#pragma once
// A tiny dequantization study the study tests share: three tone WAVs (two to train on, one
// to test), frames of 16, 3 bits, depths 1 and 3, a few Adam steps.
#include <cmath>
#include <filesystem>
#include <numbers>
#include <string>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/study/dequant_study.hpp"
#include "../support/temp_dir.hpp"

namespace varlearn::study::dequant_fixture {

/// Two sinusoids (f and 3.1 f) at 8 kHz.
inline Vector tone(Index len, double f, double phase) {
  Vector x(len);
  for (Index t = 0; t < len; ++t)
    x[t] = 0.5 * std::sin(2 * std::numbers::pi * f * double(t) / 8000 + phase) +
           0.2 * std::sin(2 * std::numbers::pi * 3.1 * f * double(t) / 8000);
  return x;
}

/// The options of the tiny study, its WAVs written into d.
inline DequantOptions small_options(const varlearn::testing::TempDir& d) {
  DequantOptions o;
  for (int i = 0; i < 3; ++i) {
    const std::filesystem::path p = d.path / (std::string("t") + std::to_string(i) + ".wav");
    audio::write_wav(p, tone(4000, 150 + 60 * i, 0.3 * i), 8000);
    (i < 2 ? o.train_files : o.test_files).push_back(p);
  }
  o.frame_length = 16;
  o.bits = {3};
  o.depths = {1, 3};
  o.tau_grid = {0.05, 0.5};
  o.train_steps = 20;
  o.batch_size = 32;
  o.converged_max_iter = 2000;
  return o;
}

}  // namespace varlearn::study::dequant_fixture
