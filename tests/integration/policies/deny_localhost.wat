;; Refuses handshakes whose client address (x-arqon-peer) is 127.0.0.1.
(module
  (import "arqon_host_v1" "host_get_header" (func $get_header (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-arqon-peer")
  (data (i32.const 16) "127.0.0.1")
  (func $same (param $a i32) (param $b i32) (param $n i32) (result i32)
    (block $equal
      (loop $next
        (br_if $equal (i32.eqz (local.get $n)))
        (if (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b)))
          (then (return (i32.const 0))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.const 1))
  (func (export "arqon_on_connect") (result i32)
    (if (result i32)
      (i32.and
        (i32.eq (call $get_header (i32.const 0) (i32.const 12) (i32.const 64) (i32.const 32)) (i32.const 9))
        (call $same (i32.const 64) (i32.const 16) (i32.const 9)))
      (then (i32.const 403))
      (else (i32.const 0)))))
