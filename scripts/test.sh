#!/usr/bin/env bash
# Sets up (Debian packages), builds with warnings as errors, and runs the whole suite under
# CTest: the GoogleTest programs and the installed-package test (tests/package).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh -DVARLEARN_WERROR=ON
ctest --test-dir build --output-on-failure -j "$(nproc)"
