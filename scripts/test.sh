#!/usr/bin/env bash
# Sets up (Debian packages), builds, and runs the whole GoogleTest suite under CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
