;; Allows every handshake and message, after reading the header x-mood (absent or not):
;; the active policy of the canary tests, whose audit records name the headers read.
(module
  (import "arqon_host_v1" "host_get_header" (func $header (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-mood")
  (func (export "arqon_on_connect") (result i32)
    (drop (call $header (i32.const 0) (i32.const 6) (i32.const 64) (i32.const 64)))
    (i32.const 0))
  (func (export "arqon_on_message") (result i32)
    (drop (call $header (i32.const 0) (i32.const 6) (i32.const 64) (i32.const 64)))
    (i32.const 0)))
