#!/usr/bin/env bash
# Sets up (Debian packages), builds, and runs the main job: `varlearn reproduce`.
# Extra arguments go to `varlearn reproduce` (e.g. --quick, --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
# --force: the main job replaces report/ as a whole on a rerun (no stale files of the last run).
./build/varlearn reproduce --out report --force "$@"
