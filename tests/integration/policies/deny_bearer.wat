;; Refuses handshakes that carry an Authorization header (the canary tests use it as a
;; candidate: its disagreements must name the header, never its value, the client's token).
(module
  (import "arqon_host_v1" "host_get_header" (func $header (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "authorization")
  (func (export "arqon_on_connect") (result i32)
    (if (result i32)
      (i32.ge_s (call $header (i32.const 0) (i32.const 13) (i32.const 64) (i32.const 64)) (i32.const 0))
      (then (i32.const 403))
      (else (i32.const 0)))))
