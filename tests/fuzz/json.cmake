# The JSON parser and writer (src/common/json.h), and the Envelope JSON mapping
# (src/protocol/envelope_json.h).
arq_fuzz_target(NAME fuzz_json SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_json.c
                LIBS arqon_common CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/json_seeds)
if(ARQ_FUZZ)
  arq_fuzz_target(NAME fuzz_envelope_json SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_envelope_json.c
                  LIBS arqon_protocol CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/json_seeds)
endif()
