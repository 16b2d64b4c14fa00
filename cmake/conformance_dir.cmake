# Where the conformance suites' files are (toml-test, wasm-spec), resolved once at configure
# time, for the conformance tests and the fuzz targets' seeds:
#   1. ARQON_CONFORMANCE_DIR, the CMake cache variable (-DARQON_CONFORMANCE_DIR=...),
#   2. else the environment variable ARQON_CONFORMANCE_DIR,
#   3. else ${CMAKE_SOURCE_DIR}/../shared/conformance.
# Sets ARQ_CONFORMANCE_DIR (absolute) and ARQ_CONFORMANCE_EXPLICIT (1 or 2).
include_guard(GLOBAL)
set(ARQON_CONFORMANCE_DIR "" CACHE PATH
    "folder holding the conformance suites (toml-test, wasm-spec); empty: $ENV{ARQON_CONFORMANCE_DIR} or ../shared/conformance")
if(ARQON_CONFORMANCE_DIR)
  set(ARQ_CONFORMANCE_DIR ${ARQON_CONFORMANCE_DIR})
  set(ARQ_CONFORMANCE_EXPLICIT TRUE)
elseif(DEFINED ENV{ARQON_CONFORMANCE_DIR} AND NOT "$ENV{ARQON_CONFORMANCE_DIR}" STREQUAL "")
  set(ARQ_CONFORMANCE_DIR $ENV{ARQON_CONFORMANCE_DIR})
  set(ARQ_CONFORMANCE_EXPLICIT TRUE)
else()
  set(ARQ_CONFORMANCE_DIR ${CMAKE_SOURCE_DIR}/../shared/conformance)
  set(ARQ_CONFORMANCE_EXPLICIT FALSE)
endif()
get_filename_component(ARQ_CONFORMANCE_DIR ${ARQ_CONFORMANCE_DIR} ABSOLUTE)
