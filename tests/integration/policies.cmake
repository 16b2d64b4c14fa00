# Tenant Wasm policies in a real Shield with NATS KV.
if(TARGET arqon-shield AND TARGET arqon_policies)
  arq_python_test(integration_policies test_policies 300)
endif()

# The policy benchmark keeps building and running (a few iterations; figures come from bench/).
if(TARGET policy_eval_bench)
  add_test(NAME bench_smoke_policy_eval COMMAND policy_eval_bench ${CMAKE_BINARY_DIR}/policies 200)
  set_tests_properties(bench_smoke_policy_eval PROPERTIES TIMEOUT 60 LABELS bench-smoke)
endif()

# The policy canary: candidates beside active policies, reports, promotion, shares, budgets.
if(TARGET arqon-shield AND TARGET arqon_policies)
  arq_python_test(integration_policy_canary test_policy_canary 300)
endif()
