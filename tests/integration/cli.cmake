# The arq command-line tool, driven as a user would.
if(NOT ARQ_FUZZ)
  add_test(NAME integration_cli_auth
           COMMAND ${ARQ_PYTHON} -m unittest -v test_cli_auth
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration_cli_auth PROPERTIES TIMEOUT 120 LABELS integration
    ENVIRONMENT "ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endif()

if(NOT ARQ_FUZZ AND TARGET arqon-shield)
  add_test(NAME integration_cli_status
           COMMAND ${ARQ_PYTHON} -m unittest -v test_cli_status
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration_cli_status PROPERTIES TIMEOUT 120 LABELS integration
    ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/harness:${ARQ_PROTO_PYTHONPATH};ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endif()

if(NOT ARQ_FUZZ AND TARGET arqon-shield)
  add_test(NAME integration_cli_pubsub
           COMMAND ${ARQ_PYTHON} -m unittest -v test_cli_pubsub
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration_cli_pubsub PROPERTIES TIMEOUT 180 LABELS integration
    ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/harness:${ARQ_PROTO_PYTHONPATH};ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endif()

# make run's stack (arq dev up/down) end to end: NATS with deploy/nats users, Redis, Brain, Shield.
if(NOT ARQ_FUZZ AND TARGET arqon-shield AND TARGET arqon-brain)
  add_test(NAME integration_dev_stack
           COMMAND ${ARQ_PYTHON} -m unittest -v test_dev_stack
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration_dev_stack PROPERTIES TIMEOUT 240 LABELS integration
    ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/harness:${ARQ_PROTO_PYTHONPATH};ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endif()
