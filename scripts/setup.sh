#!/usr/bin/env bash
# Installs every Debian 12 package varlearn needs. Idempotent: does nothing when all is there.
# Run as root (CI and fresh machines are root); uses sudo otherwise if available.
set -euo pipefail
packages=(
  g++ cmake ninja-build pkg-config ccache   # toolchain
  libeigen3-dev                             # linear algebra
  libcli11-dev                              # command line
  nlohmann-json3-dev                        # JSON in/out
  libgtest-dev                              # unit tests
  libbenchmark-dev                          # benchmarks
  libsndfile1-dev                           # audio files
  libsamplerate0-dev                        # resampling
  libboost-dev                              # Boost.Math brent_find_minima (the 1-D minimizer; headers only)
  libfftw3-dev                              # FFTW: DCT-II/III (REDFT10/01) for frames of n >= 320 in dequant
  pybind11-dev                              # the Python module varlearn (VARLEARN_PYTHON; docs/python.md)
  python3-dev                               #   Python headers for the extension module
  python3-numpy                             #   arrays in and out of the module
  python3-pytest                            #   the module's test suite (tests/python, under CTest)
  libopenblas-dev                            # OpenBLAS: the optional second GEMM backend (cblas.h; VARLEARN_BLAS)
  libopenblas0-openmp                       # its OpenMP build, linked by path: one thread pool with OpenMP's
  gnuplot-nox                               # figures (PNG via pngcairo, SVG)
  libopenmpi-dev openmpi-bin                # MPI: data-parallel train under mpirun (optional: VARLEARN_MPI)
  codec2-examples                           # real speech recordings (8 kHz raw)
  asterisk-core-sounds-en-wav               # telephony prompts, 8 kHz WAV, one speaker per language:
  asterisk-core-sounds-fr-wav               #   about two hours of speech (--corpus asterisk)
  asterisk-core-sounds-es-wav
  asterisk-core-sounds-it-wav
  asterisk-core-sounds-ru-wav
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} Debian packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
