# The optional BLAS behind core/gemm.hpp's second backend (docs/performance.md).
# With VARLEARN_BLAS=ON (the default) and OpenBLAS found, sets VARLEARN_BLAS_FOUND,
# VARLEARN_BLAS_LIBRARY (a full path) and VARLEARN_CBLAS_INCLUDE_DIR; otherwise the build goes
# on with Eigen's kernels alone.
#
# Which OpenBLAS: Debian installs three builds side by side and points libopenblas.so at one of
# them through update-alternatives (the pthread build by priority). The pthread build starts its
# own thread pool beside OpenMP's, and on a small machine the two spin against each other, so
# the OpenMP build (libopenblas0-openmp) is linked by its full path, whatever the alternative
# says, and its folder goes into the RUNPATH of the executables (build and install), because
# the loader would otherwise resolve the soname libopenblas.so.0 through the alternative.
set(VARLEARN_BLAS_FOUND FALSE)
if(NOT VARLEARN_BLAS)
  message(STATUS "varlearn: GEMM backends: Eigen (VARLEARN_BLAS=OFF)")
  return()
endif()
set(_varlearn_multiarch_lib /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE})
find_library(VARLEARN_BLAS_LIBRARY NAMES libopenblas.so.0 openblas
             PATHS ${_varlearn_multiarch_lib}/openblas-openmp NO_DEFAULT_PATH
             DOC "The OpenBLAS library behind the blas GEMM backend")
if(NOT VARLEARN_BLAS_LIBRARY)
  find_library(VARLEARN_BLAS_LIBRARY NAMES openblas DOC "The OpenBLAS library behind the blas GEMM backend")
endif()
find_path(VARLEARN_CBLAS_INCLUDE_DIR cblas.h
          PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}
          PATH_SUFFIXES openblas-openmp openblas-pthread openblas
          DOC "The folder of OpenBLAS's cblas.h")
if(NOT VARLEARN_BLAS_LIBRARY OR NOT VARLEARN_CBLAS_INCLUDE_DIR)
  message(STATUS "varlearn: GEMM backends: Eigen (OpenBLAS not found: install libopenblas-dev libopenblas0-openmp)")
  return()
endif()
set(VARLEARN_BLAS_FOUND TRUE)
get_filename_component(_varlearn_blas_dir ${VARLEARN_BLAS_LIBRARY} DIRECTORY)
if(NOT _varlearn_blas_dir MATCHES "openmp")
  message(WARNING "varlearn: linking ${VARLEARN_BLAS_LIBRARY}, not OpenBLAS's OpenMP build: "
                  "its own thread pool will compete with OpenMP's (install libopenblas0-openmp)")
endif()
# Build tree: CMake puts the folder of a library linked by full path into the RUNPATH already;
# install tree: keep the folders of libraries outside the build.
set(CMAKE_INSTALL_RPATH_USE_LINK_PATH TRUE)
message(STATUS "varlearn: GEMM backends: Eigen and ${VARLEARN_BLAS_LIBRARY}")
