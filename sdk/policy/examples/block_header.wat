;; Handshakes carrying the header X-Block-Me are refused with 403.
(module
  (import "arqon_host_v1" "host_get_header" (func $get_header (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "X-Block-Me")
  (func (export "arqon_on_connect") (result i32)
    (if (result i32)
      (i32.ge_s (call $get_header (i32.const 0) (i32.const 10) (i32.const 64) (i32.const 0)) (i32.const 0))
      (then (i32.const 403))
      (else (i32.const 0)))))
