# `arq bench` driven against a real nats-server and arqon-shield (a smoke test of the tool;
# the benchmark itself is bench/shield.sh, outside `make test`).
if(TARGET arqon-shield)
  add_test(NAME integration_bench
           COMMAND ${ARQ_PYTHON} -m unittest -v test_bench
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration_bench PROPERTIES TIMEOUT 180 LABELS integration
    ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/harness:${ARQ_PROTO_PYTHONPATH};ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endif()
