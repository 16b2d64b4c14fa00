# The edge's protocol codecs (src/net): HTTP request heads and the WebSocket frame reader.
arq_fuzz_target(NAME fuzz_http_request SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_http_request.c
                LIBS arqon_net CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/http_seeds)
arq_fuzz_target(NAME fuzz_ws_reader SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_ws_reader.c
                LIBS arqon_net CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/ws_seeds)
