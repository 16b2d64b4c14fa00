# The schema validator (src/registry) against Python protobuf: random valid messages must
# validate, and mutations that Python rejects must be rejected (test_registry_diff.py).
# The schemas, Python modules and the batch program come from tests/unit/registry.
if(NOT ARQ_FUZZ AND TARGET registry_schema_batch)
  add_test(NAME integration_registry_diff
           COMMAND /usr/bin/python3 -m unittest -v test_registry_diff
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration_registry_diff PROPERTIES TIMEOUT 600 LABELS integration
    ENVIRONMENT "ARQ_SCHEMA_BATCH=$<TARGET_FILE:registry_schema_batch>;ARQ_REGISTRY_DATA=${ARQ_REGISTRY_TEST_DATA}")
endif()
