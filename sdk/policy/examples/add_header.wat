;; Every routed message gets the header x-policy: checked.
(module
  (import "arqon_host_v1" "host_add_header" (func $add (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-policy")
  (data (i32.const 16) "checked")
  (func (export "arqon_on_message") (result i32)
    (drop (call $add (i32.const 0) (i32.const 8) (i32.const 16) (i32.const 7)))
    (i32.const 0)))
