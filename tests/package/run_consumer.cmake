# cmake -P driver of the package.consumer test (tests/package/CMakeLists.txt):
#   1. cmake --install <build> --prefix WORK_DIR/prefix (a fresh prefix each run)
#   2. configure tests/package/consumer with CMAKE_PREFIX_PATH=WORK_DIR/prefix only
#      (no package registry, so it cannot pick up the build tree)
#   3. build it and run it; it exits 1 when its number is not the closed form.
foreach(var VARLEARN_BUILD_DIR WORK_DIR CONSUMER_SOURCE_DIR CMAKE_GENERATOR CMAKE_CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()

function(step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "package test: ${name} failed (${rc})")
  endif()
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${prefix})
step("install" ${CMAKE_COMMAND} --install ${VARLEARN_BUILD_DIR} --prefix ${prefix})

set(launcher)
if(CMAKE_CXX_COMPILER_LAUNCHER)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER})
endif()
step("configure the consumer" ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${build} -G ${CMAKE_GENERATOR}
     -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER} ${launcher} -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE}
     -DCMAKE_PREFIX_PATH=${prefix} -DVARLEARN_EXPECTED_PREFIX=${prefix}
     -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
step("build the consumer" ${CMAKE_COMMAND} --build ${build})
step("run the consumer" ${build}/varlearn_consumer)
