# The TOML parser and tagged-JSON writer, seeded with toml-test's valid documents.
arq_fuzz_target(NAME fuzz_toml SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_toml.c LIBS arqon_common
                CORPUS ${CMAKE_SOURCE_DIR}/../shared/conformance/toml-test/valid)
