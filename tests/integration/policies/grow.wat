;; Tries to grow memory past the limit and logs what memory.grow answered.
(module
  (import "arqon_host_v1" "host_log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "grow refused")
  (data (i32.const 32) "grow allowed")
  (func (export "arqon_on_message") (result i32)
    (if (i32.eq (memory.grow (i32.const 1000)) (i32.const -1))
      (then (call $log (i32.const 2) (i32.const 0) (i32.const 12)))
      (else (call $log (i32.const 2) (i32.const 32) (i32.const 12))))
    (i32.const 0)))
