;; Denies everything: new handshakes, every message, and (when pushed) the tenant's
;; open connections, which are closed with 1008.
(module
  (import "arqon_host_v1" "host_reject" (func $reject (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "banned")
  (func (export "arqon_on_connect") (result i32)
    (call $reject (i32.const 403) (i32.const 0) (i32.const 6))
    (i32.const 403))
  (func (export "arqon_on_message") (result i32)
    (call $reject (i32.const 403) (i32.const 0) (i32.const 6))
    (i32.const 403)))
