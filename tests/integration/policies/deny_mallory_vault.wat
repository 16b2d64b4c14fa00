;; Reads only the headers the Shield stamps: denies messages whose sender is "mallory" and
;; any command or event aimed at the room "vault". A client that sends its own
;; x-arqon-sender or x-arqon-room header must not change either verdict.
(module
  (import "arqon_host_v1" "host_get_header" (func $get_header (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-arqon-sender")
  (data (i32.const 16) "mallory")
  (data (i32.const 32) "x-arqon-room")
  (data (i32.const 48) "vault")
  ;; 1 when the header named at (name, name_len) equals the bytes at (want, want_len)
  (func $header_is (param $name i32) (param $name_len i32) (param $want i32) (param $want_len i32) (result i32)
    (local $len i32) (local $i i32)
    (local.set $len (call $get_header (local.get $name) (local.get $name_len) (i32.const 128) (i32.const 64)))
    (if (i32.ne (local.get $len) (local.get $want_len)) (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.ne (i32.load8_u (i32.add (i32.const 128) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $want) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))
  (func (export "arqon_on_message") (result i32)
    (if (call $header_is (i32.const 0) (i32.const 14) (i32.const 16) (i32.const 7))
      (then (return (i32.const 403))))
    (if (call $header_is (i32.const 32) (i32.const 12) (i32.const 48) (i32.const 5))
      (then (return (i32.const 403))))
    (i32.const 0)))
