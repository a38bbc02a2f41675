# The -march choice (VARLEARN_ARCH), explicit and recorded (docs/build.md).
#
# "native" (the default) tunes for the build machine: Eigen's GEMM then uses AVX2/FMA/AVX-512,
# which the speed figures in README.md need. Such a build runs only on CPUs with the same
# instruction set, so a package meant for other machines is configured with a portable level
# (-DVARLEARN_ARCH=x86-64-v3 for AVX2/FMA, x86-64-v2, or "" for the compiler's default).
#
# The flag is a PUBLIC compile option of varlearn::core, so every target linking varlearn,
# including an installed package's consumers, is compiled with it: Eigen's alignment and its
# allocator (aligned heap blocks above 16-byte SIMD) depend on the instruction set, and code
# compiled with different -march must not exchange Eigen matrices.

set(VARLEARN_ARCH_RESOLVED "${VARLEARN_ARCH}")
if(VARLEARN_ARCH STREQUAL "native" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # Name the CPU GCC picks for -march=native (for the messages and the installed config).
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -march=native -Q --help=target
                  OUTPUT_VARIABLE _varlearn_target_help ERROR_QUIET RESULT_VARIABLE _varlearn_rc)
  if(_varlearn_rc EQUAL 0 AND _varlearn_target_help MATCHES "-march=[ \t]+([^ \t\r\n]+)")
    set(VARLEARN_ARCH_RESOLVED "native (${CMAKE_MATCH_1})")
  endif()
endif()
if(VARLEARN_ARCH STREQUAL "")
  message(STATUS "varlearn: VARLEARN_ARCH is empty: compiler-default -march (portable, slower GEMM)")
elseif(VARLEARN_ARCH STREQUAL "native")
  message(STATUS "varlearn: -march=${VARLEARN_ARCH_RESOLVED}: binaries and the installed package run only on "
                 "CPUs with this instruction set (set VARLEARN_ARCH=x86-64-v3 or \"\" for a portable build)")
else()
  message(STATUS "varlearn: -march=${VARLEARN_ARCH}")
endif()

function(varlearn_arch target)
  if(NOT VARLEARN_ARCH STREQUAL "")
    target_compile_options(${target} PUBLIC -march=${VARLEARN_ARCH})
  endif()
endfunction()
