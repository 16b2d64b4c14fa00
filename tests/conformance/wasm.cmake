# WebAssembly core spec tests (wast2json output) through `arq wasm spectest`: one ctest
# case per command file. Exclusions (--skip LINE,...) are justified in README.md, section
# "WebAssembly core spec tests".
if(NOT ARQ_FUZZ)
  set(ARQ_WASM_SPEC ${CMAKE_SOURCE_DIR}/../shared/conformance/wasm-spec)
  # file name -> lines whose commands are excluded
  set(ARQ_WASM_SKIP_json_data "89,90,178,183,188,195")
  set(ARQ_WASM_SKIP_json_call_indirect "623,650,651,652,654,655,656,657,659,660,661,662,663")
  set(ARQ_WASM_SKIP_mvp_func "493,497")
  foreach(sub json mvp-2019/json)
    if(sub STREQUAL "json")
      set(prefix conformance_wasm_)
      set(key json)
    else()
      set(prefix conformance_wasm_mvp2019_)
      set(key mvp)
    endif()
    file(GLOB files ${ARQ_WASM_SPEC}/${sub}/*.json)
    if(NOT files)
      # A missing suite must fail, not pass by running nothing.
      add_test(NAME ${prefix}suite_missing
               COMMAND sh -c "echo 'no spec tests in ${ARQ_WASM_SPEC}/${sub}' >&2; exit 1")
      set_tests_properties(${prefix}suite_missing PROPERTIES LABELS conformance)
    endif()
    foreach(f ${files})
      get_filename_component(name ${f} NAME_WE)
      # only text-format modules: nothing a binary-only engine can check
      if(name STREQUAL "utf8-invalid-encoding")
        continue()
      endif()
      set(args ${f})
      if(DEFINED ARQ_WASM_SKIP_${key}_${name})
        list(APPEND args --skip ${ARQ_WASM_SKIP_${key}_${name}})
      endif()
      add_test(NAME ${prefix}${name} COMMAND $<TARGET_FILE:arq> wasm spectest ${args})
      set_tests_properties(${prefix}${name} PROPERTIES LABELS conformance TIMEOUT 300)
    endforeach()
  endforeach()
endif()
