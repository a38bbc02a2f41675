# `cmake --install build --prefix P` installs:
#   P/include/varlearn/...                  public headers (+ the generated version.hpp)
#   P/lib/libvarlearn_<concern>.a           one static library per concern
#   P/bin/varlearn                          the command line
#   P/lib/cmake/varlearn/                   varlearnConfig.cmake, ...ConfigVersion.cmake,
#                                           varlearnTargets.cmake (targets varlearn::<concern>
#                                           and the umbrella varlearn::varlearn)
# so that another project does find_package(varlearn) and links varlearn::varlearn.
set(VARLEARN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/varlearn)
get_property(VARLEARN_CONCERNS GLOBAL PROPERTY VARLEARN_CONCERNS)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/varlearn DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/include/varlearn/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/varlearn)
install(TARGETS varlearn_all EXPORT varlearnTargets)
install(TARGETS varlearn RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(EXPORT varlearnTargets NAMESPACE varlearn:: DESTINATION ${VARLEARN_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/varlearnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/varlearnConfig.cmake INSTALL_DESTINATION ${VARLEARN_CMAKE_DIR})
# 0.x: a new minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/varlearnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/varlearnConfig.cmake ${PROJECT_BINARY_DIR}/cmake/varlearnConfigVersion.cmake
        DESTINATION ${VARLEARN_CMAKE_DIR})
