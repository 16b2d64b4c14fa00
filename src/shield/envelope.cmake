# arqon_envelope: the proto3 JSON mapping of arqon.v1.Envelope (envelope_json.c).
# Included by each directory that needs it (the Shield, the arq CLI, the fuzz build), in
# whatever order CMake visits them; the guard makes the first include define it.
include_guard(GLOBAL)
add_library(arqon_envelope STATIC ${CMAKE_CURRENT_LIST_DIR}/envelope_json.c)
target_link_libraries(arqon_envelope PUBLIC arqon_common arqon_proto)
arq_strict_conversions(arqon_envelope)
