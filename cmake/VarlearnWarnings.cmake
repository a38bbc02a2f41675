# Warnings are per target: varlearn's own code only (consumers and dependencies keep theirs).
# VARLEARN_WERROR=ON (scripts/test.sh, CI) makes them errors.
#
# GCC before 12.3 (Debian 12 ships 12.2) reports false positives inside its own AVX-512
# intrinsics: avx512fintrin.h's _mm512_undefined_*() is `__m512d __Y = __Y;` on purpose, and
# inlining Eigen's AVX-512 packet math (e.g. exp of a double array under -march=native) gives
# "'__Y' is used uninitialized" (-Wuninitialized) or "may be used uninitialized"
# (-Wmaybe-uninitialized) with a location in that header (GCC PR105593, fixed in 12.3). With
# those compilers only, both warnings are off; every other compiler keeps them.
function(varlearn_warnings target)
  set(old_gcc $<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,12.3>>)
  target_compile_options(${target} PRIVATE -Wall -Wextra
    $<${old_gcc}:-Wno-uninitialized -Wno-maybe-uninitialized>
    $<$<BOOL:${VARLEARN_WERROR}>:-Werror>)
endfunction()
