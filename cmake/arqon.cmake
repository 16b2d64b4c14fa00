# Compiler flags and helpers shared by every part.

add_compile_definitions(_GNU_SOURCE)
add_compile_options(-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
                    -Wno-unused-parameter)

if(CMAKE_BUILD_TYPE STREQUAL "Release" AND NOT ARQ_SANITIZE AND NOT ARQ_FUZZ)
  add_compile_options(-O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection)
  add_link_options(-pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)
endif()

if(ARQ_SANITIZE)
  add_compile_options(-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(ARQ_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ARQ_FUZZ needs clang (configure with CC=clang)")
  endif()
  add_compile_options(-O1 -g -fsanitize=fuzzer-no-link,address,undefined
                      -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# -Wconversion where practical: parts opt in with this.
function(arq_strict_conversions target)
  target_compile_options(${target} PRIVATE -Wconversion -Wsign-conversion)
endfunction()

# arq_unit_test(NAME n SOURCES a.c ... LIBS l ...): a cmocka test program, one ctest case.
function(arq_unit_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(ARQ_FUZZ)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS unit)
endfunction()

# arq_fuzz_target(NAME n SOURCES a.c ... LIBS l ... [CORPUS dir]): a libFuzzer program,
# run for ARQ_FUZZ_SECONDS under ctest in the fuzz build only.
function(arq_fuzz_target)
  cmake_parse_arguments(F "" "NAME" "SOURCES;LIBS;CORPUS" ${ARGN})
  if(NOT ARQ_FUZZ)
    return()
  endif()
  add_executable(${F_NAME} ${F_SOURCES})
  set_target_properties(${F_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
  set(work ${CMAKE_BINARY_DIR}/fuzz/${F_NAME}.corpus)
  file(MAKE_DIRECTORY ${work})
  add_test(NAME ${F_NAME}
           COMMAND ${F_NAME} -max_total_time=${ARQ_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048
                   -print_final_stats=1 ${work} ${F_CORPUS})
  set_tests_properties(${F_NAME} PROPERTIES TIMEOUT 600 LABELS fuzz)
endfunction()

# arq_part_include(target PUBLIC|PRIVATE part): `target` sees the headers of src/<part> (as
# "<part>/x.h") and, through PUBLIC, so does whatever links it. Each part gets an include
# root of its own (build/include/<part>/<part> -> src/<part>) instead of all of src/, so a
# source that includes a part it does not link fails to compile (docs/architecture.md).
function(arq_part_include target scope part)
  set(root ${CMAKE_BINARY_DIR}/include/${part})
  if(NOT EXISTS ${root}/${part})
    file(MAKE_DIRECTORY ${root})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/src/${part} ${root}/${part} SYMBOLIC)
  endif()
  target_include_directories(${target} ${scope} ${root})
endfunction()
