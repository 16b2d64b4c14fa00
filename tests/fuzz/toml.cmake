# The TOML parser and tagged-JSON writer, seeded with toml-test's valid documents when the
# conformance suites are there (cmake/conformance_dir.cmake); from nothing otherwise.
include(${CMAKE_SOURCE_DIR}/cmake/conformance_dir.cmake)
set(seeds "")
if(IS_DIRECTORY ${ARQ_CONFORMANCE_DIR}/toml-test/valid)
  set(seeds CORPUS ${ARQ_CONFORMANCE_DIR}/toml-test/valid)
endif()
arq_fuzz_target(NAME fuzz_toml SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_toml.c LIBS arqon_common ${seeds})
