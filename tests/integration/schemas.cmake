# Schema governance in a real Shield with NATS KV (protoc builds the descriptor sets).
if(TARGET arqon-shield)
  add_test(NAME integration_schemas
           COMMAND ${ARQ_PYTHON} -m unittest -v test_schemas
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration_schemas PROPERTIES TIMEOUT 300 LABELS integration
    ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/harness:${ARQ_PROTO_PYTHONPATH};ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endif()
