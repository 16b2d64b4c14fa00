# The demo page in a real browser (Debian's chromium, driven by playwright-core from
# tests/browser/). browser_npm_ci installs that folder's node_modules from its lock file
# before the test; it is cheap once installed, and safe when build/ and build-asan/ run it
# at the same time.
if(TARGET arqon-shield)
  find_program(ARQ_NODE node)
  find_program(ARQ_NPM npm)
  if(ARQ_NODE AND ARQ_NPM)
    add_test(NAME browser_npm_ci COMMAND ${CMAKE_SOURCE_DIR}/scripts/npm-ci.sh ${CMAKE_SOURCE_DIR}/tests/browser)
    set_tests_properties(browser_npm_ci PROPERTIES TIMEOUT 300 LABELS integration
      FIXTURES_SETUP browser_node_modules)
    add_test(NAME integration_demo_page
             COMMAND ${ARQ_PYTHON} -m unittest -v test_demo_page
             WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    set_tests_properties(integration_demo_page PROPERTIES TIMEOUT 300 LABELS integration
      FIXTURES_REQUIRED browser_node_modules
      ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/harness:${ARQ_PROTO_PYTHONPATH};ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin;ARQ_NODE=${ARQ_NODE}")
  else()
    # Fail where it shows rather than drop the test: scripts/bootstrap.sh installs Node.
    message(WARNING "node or npm not found: integration_demo_page will fail (run scripts/bootstrap.sh)")
    add_test(NAME integration_demo_page COMMAND ${CMAKE_COMMAND} -E false)
    set_tests_properties(integration_demo_page PROPERTIES LABELS integration)
  endif()
endif()
