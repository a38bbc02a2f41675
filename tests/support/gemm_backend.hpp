#pragma once
// Restores the process-wide GEMM backend (core/gemm.hpp) to auto when a test that forces one ends.
#include "varlearn/core/gemm.hpp"

namespace varlearn::testing {

struct BackendGuard {
  BackendGuard() = default;
  BackendGuard(const BackendGuard&) = delete;
  BackendGuard& operator=(const BackendGuard&) = delete;
  ~BackendGuard() { set_gemm_backend(GemmBackend::Auto); }
};

}  // namespace varlearn::testing
