# TOML 1.0: every case of toml-test's files-toml-1.0.0 through `arq toml-decode`.
if(NOT ARQ_FUZZ)
  if(IS_DIRECTORY ${ARQ_CONFORMANCE_DIR}/toml-test)
    add_test(NAME conformance_toml
             COMMAND ${ARQ_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/toml_test_runner.py
                     $<TARGET_FILE:arq> ${ARQ_CONFORMANCE_DIR}/toml-test)
    set_tests_properties(conformance_toml PROPERTIES LABELS conformance TIMEOUT 600)
  else()
    arq_conformance_absent(NAME conformance_toml SUITE toml-test)
  endif()
endif()
