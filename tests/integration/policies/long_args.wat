;; Names and values in bounds but longer than the host takes: not a fault of the module's.
;; Allows the message only if a 300-byte header name and claim key read as absent (-1) and a
;; 600-byte header value is refused (-1); any other answer denies with 418.
(module
  (import "arqon_host_v1" "host_get_header" (func $header (param i32 i32 i32 i32) (result i32)))
  (import "arqon_host_v1" "host_get_claim" (func $claim (param i32 i32 i32 i32) (result i32)))
  (import "arqon_host_v1" "host_add_header" (func $add (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-long")
  (func (export "arqon_on_message") (result i32)
    (if (i32.ne (call $header (i32.const 1024) (i32.const 300) (i32.const 4096) (i32.const 64))
                (i32.const -1))
      (then (return (i32.const 418))))
    (if (i32.ne (call $claim (i32.const 1024) (i32.const 300) (i32.const 4096) (i32.const 64))
                (i32.const -1))
      (then (return (i32.const 418))))
    (if (i32.ne (call $add (i32.const 0) (i32.const 6) (i32.const 1024) (i32.const 600))
                (i32.const -1))
      (then (return (i32.const 418))))
    (i32.const 0)))
