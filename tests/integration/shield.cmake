# The Shield end to end against a real nats-server, with independent Python clients.
if(TARGET arqon-shield)
  add_test(NAME integration_shield
           COMMAND ${ARQ_PYTHON} -m unittest -v test_shield
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration_shield PROPERTIES TIMEOUT 600 LABELS integration
    ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/harness:${ARQ_PROTO_PYTHONPATH};ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endif()
