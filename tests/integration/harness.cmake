# The test harness itself, from C (nats.c, hiredis) and from Python.
if(NOT ARQ_FUZZ)
  pkg_check_modules(NATS REQUIRED IMPORTED_TARGET libnats)
  pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
  arq_unit_test(NAME integration_harness_c TIMEOUT 180
                SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_harness_servers.c
                LIBS arq_test_harness PkgConfig::NATS PkgConfig::HIREDIS)
  set_tests_properties(integration_harness_c PROPERTIES LABELS integration)

  add_test(NAME integration_harness_py
           COMMAND ${ARQ_PYTHON} -m unittest -v test_harness_py
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration_harness_py PROPERTIES TIMEOUT 180 LABELS integration
    ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/harness;ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endif()
