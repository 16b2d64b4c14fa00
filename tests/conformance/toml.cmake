# TOML 1.0: every case of toml-test's files-toml-1.0.0 through `arq toml-decode`.
if(NOT ARQ_FUZZ)
  add_test(NAME conformance_toml
           COMMAND ${ARQ_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/toml_test_runner.py
                   $<TARGET_FILE:arq> ${CMAKE_SOURCE_DIR}/../shared/conformance/toml-test)
  set_tests_properties(conformance_toml PROPERTIES LABELS conformance TIMEOUT 600)
endif()
