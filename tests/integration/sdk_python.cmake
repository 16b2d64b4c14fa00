# The Python SDK (sdk/python, package arqonbus): its unit tests (the state machine against a
# fake transport, no server) and its integration tests against the real stack. Both run
# with Debian's /usr/bin/python3 (python3-websockets, python3-protobuf), importing the
# package from the source tree.
set(ARQ_SDK_PY ${CMAKE_SOURCE_DIR}/sdk/python)
foreach(module connection delivery envelope_module)
  add_test(NAME sdk_python_unit_${module}
           COMMAND ${ARQ_PYTHON} -m unittest -v test_${module}
           WORKING_DIRECTORY ${ARQ_SDK_PY}/tests)
  set_tests_properties(sdk_python_unit_${module} PROPERTIES TIMEOUT 120 LABELS unit
    ENVIRONMENT "PYTHONPATH=${ARQ_SDK_PY}")
endforeach()

if(TARGET arqon-brain AND TARGET arqon-shield)
  add_test(NAME sdk_python_integration COMMAND ${ARQ_PYTHON} -m unittest -v test_sdk_python
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(sdk_python_integration PROPERTIES TIMEOUT 300 LABELS integration
    ENVIRONMENT "PYTHONPATH=${ARQ_SDK_PY}:${CMAKE_SOURCE_DIR}/tests/harness:${ARQ_PROTO_PYTHONPATH};ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endif()
