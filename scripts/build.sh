#!/usr/bin/env bash
# Configures (Release, Ninja) and builds everything into build/.
# Extra arguments go to the CMake configure step (e.g. -DVARLEARN_WERROR=ON, -DVARLEARN_ARCH=x86-64-v3;
# docs/build.md lists the options).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "$(nproc)"
