(module
  (import "arqon_host_v1" "host_log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello from the policy fixture")
  (func (export "arqon_on_message") (result i32)
    (call $log (i32.const 2) (i32.const 0) (i32.const 29))
    (i32.const 0)))
