# The Brain end to end: nats-server, redis-server, arqon-shield and arqon-brain processes.
if(TARGET arqon-brain AND TARGET arqon-shield)
  add_test(NAME integration_brain
           COMMAND ${ARQ_PYTHON} -m unittest -v test_brain
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration_brain PROPERTIES TIMEOUT 300 LABELS integration
    ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/harness:${ARQ_PROTO_PYTHONPATH};ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endif()
