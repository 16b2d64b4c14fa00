# The JavaScript SDK (sdk/js). Unit tests: node's own test runner against a fake Shield, no
# dependency (label unit). Integration: test_sdk_js.py runs the SDK in node against the real
# stack; sdk_js_npm_ci installs sdk/js/node_modules (the ws package, for Node 18/20 without
# a global WebSocket) from its lock file first, once for every build tree.
find_program(ARQ_NODE node)
find_program(ARQ_NPM npm)
file(GLOB ARQ_SDK_JS_UNIT CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/sdk/js/test/unit/*.test.js)
if(ARQ_NODE)
  add_test(NAME sdk_js_unit COMMAND ${ARQ_NODE} --test ${ARQ_SDK_JS_UNIT}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/sdk/js)
  set_tests_properties(sdk_js_unit PROPERTIES TIMEOUT 120 LABELS unit)
else()
  message(WARNING "node not found: sdk_js_unit will fail (run scripts/bootstrap.sh)")
  add_test(NAME sdk_js_unit COMMAND ${CMAKE_COMMAND} -E false)
  set_tests_properties(sdk_js_unit PROPERTIES LABELS unit)
endif()

if(TARGET arqon-shield AND TARGET arqon-brain)
  if(ARQ_NODE AND ARQ_NPM)
    add_test(NAME sdk_js_npm_ci COMMAND ${CMAKE_SOURCE_DIR}/scripts/npm-ci.sh ${CMAKE_SOURCE_DIR}/sdk/js)
    set_tests_properties(sdk_js_npm_ci PROPERTIES TIMEOUT 300 LABELS integration
      FIXTURES_SETUP sdk_js_node_modules)
    add_test(NAME integration_sdk_js COMMAND ${ARQ_PYTHON} -m unittest -v test_sdk_js
             WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    set_tests_properties(integration_sdk_js PROPERTIES TIMEOUT 300 LABELS integration
      FIXTURES_REQUIRED sdk_js_node_modules
      ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/harness:${ARQ_PROTO_PYTHONPATH};ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin;ARQ_NODE=${ARQ_NODE}")
  else()
    message(WARNING "node or npm not found: integration_sdk_js will fail (run scripts/bootstrap.sh)")
    add_test(NAME integration_sdk_js COMMAND ${CMAKE_COMMAND} -E false)
    set_tests_properties(integration_sdk_js PROPERTIES LABELS integration)
  endif()
endif()
