;; Asks the host to write far outside its one page of memory: must trap, never touch the host.
(module
  (import "arqon_host_v1" "host_get_payload" (func $payload (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "arqon_on_message") (result i32)
    (drop (call $payload (i32.const 0x7fffff00) (i32.const 1024)))
    (i32.const 0)))
