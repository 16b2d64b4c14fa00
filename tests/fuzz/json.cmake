# The JSON parser and writer (src/common/json.h), and the Envelope JSON mapping of the
# Shield (src/shield/envelope_json.h), which the fuzz build defines for itself because it
# does not configure src/shield.
arq_fuzz_target(NAME fuzz_json SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_json.c
                LIBS arqon_common CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/json_seeds)
if(ARQ_FUZZ)
  include(${CMAKE_SOURCE_DIR}/src/shield/envelope.cmake)
  arq_fuzz_target(NAME fuzz_envelope_json SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_envelope_json.c
                  LIBS arqon_envelope CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/json_seeds)
endif()
