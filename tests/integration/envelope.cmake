# The Envelope JSON mapping (arq envelope json2pb / pb2json) against an independent
# implementation: Python protobuf's json_format over the protoc-generated envelope_pb2.
if(NOT ARQ_FUZZ)
  # ctest cannot depend on a build target, so a fixture makes sure the generated Python
  # exists even when only some targets were built.
  add_test(NAME integration_envelope_json_gen
           COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target arqon_proto_python)
  set_tests_properties(integration_envelope_json_gen PROPERTIES TIMEOUT 120 LABELS integration
    FIXTURES_SETUP arq_envelope_pb2)

  add_test(NAME integration_envelope_json
           COMMAND /usr/bin/python3 -m unittest -v test_envelope_json
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration_envelope_json PROPERTIES TIMEOUT 300 LABELS integration
    FIXTURES_REQUIRED arq_envelope_pb2
    ENVIRONMENT "PYTHONPATH=${ARQ_PROTO_PYTHONPATH};ARQ_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endif()
