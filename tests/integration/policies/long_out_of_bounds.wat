;; A long header name that runs past the end of memory: out of bounds, so it traps (deny).
(module
  (import "arqon_host_v1" "host_get_header" (func $header (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "arqon_on_message") (result i32)
    (drop (call $header (i32.const 65400) (i32.const 300) (i32.const 0) (i32.const 64)))
    (i32.const 0)))
