# Deterministic mirroring, compared with an independent XXH64 (Debian's python3-xxhash).
if(TARGET arqon-shield)
  add_test(NAME integration_mirroring
           COMMAND ${ARQ_PYTHON} -m unittest -v test_mirroring
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration_mirroring PROPERTIES TIMEOUT 300 LABELS integration
    ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/harness:${ARQ_PROTO_PYTHONPATH};ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endif()
