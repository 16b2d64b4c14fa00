# The Overseer engine: load (decode, validate, compile), instantiate and call under tight
# limits, seeded with the binary modules of the WebAssembly spec tests (1.0 versions) when
# the conformance suites are there (cmake/conformance_dir.cmake); from nothing otherwise.
include(${CMAKE_SOURCE_DIR}/cmake/conformance_dir.cmake)
set(seeds "")
if(IS_DIRECTORY ${ARQ_CONFORMANCE_DIR}/wasm-spec/mvp-2019/json)
  set(seeds CORPUS ${ARQ_CONFORMANCE_DIR}/wasm-spec/mvp-2019/json)
endif()
arq_fuzz_target(NAME fuzz_wasm_load SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_wasm_load.c
                LIBS arqon_wasm ${seeds})
