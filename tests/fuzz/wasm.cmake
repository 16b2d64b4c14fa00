# The Overseer engine: load (decode, validate, compile), instantiate and call under tight
# limits, seeded with the binary modules of the WebAssembly spec tests (the 1.0 versions and
# the current ones, with reference types and several tables) when the conformance suites are
# there (cmake/conformance_dir.cmake); from nothing otherwise.
include(${CMAKE_SOURCE_DIR}/cmake/conformance_dir.cmake)
set(seeds "")
foreach(dir mvp-2019/json json)
  if(IS_DIRECTORY ${ARQ_CONFORMANCE_DIR}/wasm-spec/${dir})
    list(APPEND seeds ${ARQ_CONFORMANCE_DIR}/wasm-spec/${dir})
  endif()
endforeach()
if(seeds)
  list(PREPEND seeds CORPUS)
endif()
arq_fuzz_target(NAME fuzz_wasm_load SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_wasm_load.c
                LIBS arqon_wasm ${seeds})
