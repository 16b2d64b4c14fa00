# The schema registry: messages against a fixed rich schema (the registry's test protos,
# compiled here by protoc) and random descriptor sets through the loader.
if(ARQ_FUZZ)
  find_program(ARQ_PROTOC protoc REQUIRED)
  set(ARQ_FUZZ_SCHEMA ${CMAKE_BINARY_DIR}/fuzz/schema_rich.desc)
  add_custom_command(
    OUTPUT ${ARQ_FUZZ_SCHEMA}
    COMMAND ${ARQ_PROTOC} --include_imports --descriptor_set_out=${ARQ_FUZZ_SCHEMA}
            -I${CMAKE_SOURCE_DIR}/tests/unit/registry/protos rich3.proto
    DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/registry/protos/rich3.proto
            ${CMAKE_SOURCE_DIR}/tests/unit/registry/protos/common2.proto
    COMMENT "fuzz schema")
  add_custom_target(fuzz_schema_data ALL DEPENDS ${ARQ_FUZZ_SCHEMA})
endif()
arq_fuzz_target(NAME fuzz_schema_validate
                SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_schema_validate.c
                LIBS arqon_registry CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/schema_seeds)
if(ARQ_FUZZ)
  add_dependencies(fuzz_schema_validate fuzz_schema_data)
  target_compile_definitions(fuzz_schema_validate PRIVATE ARQ_FUZZ_SCHEMA="${ARQ_FUZZ_SCHEMA}")
endif()
