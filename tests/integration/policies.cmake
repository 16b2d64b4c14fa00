# Tenant Wasm policies in a real Shield with NATS KV.
if(TARGET arqon-shield AND TARGET arqon_policies)
  add_test(NAME integration_policies
           COMMAND ${ARQ_PYTHON} -m unittest -v test_policies
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration_policies PROPERTIES TIMEOUT 300 LABELS integration
    ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/harness:${ARQ_PROTO_PYTHONPATH};ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endif()

# The policy benchmark keeps building and running (a few iterations; figures come from bench/).
if(TARGET policy_eval_bench)
  add_test(NAME bench_smoke_policy_eval COMMAND policy_eval_bench ${CMAKE_BINARY_DIR}/policies 200)
  set_tests_properties(bench_smoke_policy_eval PROPERTIES TIMEOUT 60 LABELS bench-smoke)
endif()
