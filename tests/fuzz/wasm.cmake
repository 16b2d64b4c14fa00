# The Overseer engine: load (decode, validate, compile), instantiate and call under tight
# limits, seeded with the binary modules of the WebAssembly spec tests (1.0 versions).
arq_fuzz_target(NAME fuzz_wasm_load SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_wasm_load.c
                LIBS arqon_wasm
                CORPUS ${CMAKE_SOURCE_DIR}/../shared/conformance/wasm-spec/mvp-2019/json)
