;; Logs 100 lines of 64 bytes per message, far over the host_log budget, then decides by
;; the payload: data starting with "deny" is refused with 403, anything else is allowed.
;; The limit must never change the decision. About 3 200 fuel per evaluation.
(module
  (import "arqon_host_v1" "host_log" (func $log (param i32 i32 i32)))
  (import "arqon_host_v1" "host_get_payload" (func $payload (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "flood line from the policy fixture .............................")
  (func (export "arqon_on_message") (result i32)
    (local $i i32)
    (loop $again
      (call $log (i32.const 2) (i32.const 0) (i32.const 64))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 100))))
    (drop (call $payload (i32.const 1024) (i32.const 4)))
    ;; "deny" read as a little-endian i32
    (if (result i32) (i32.eq (i32.load (i32.const 1024)) (i32.const 0x796e6564))
      (then (i32.const 403))
      (else (i32.const 0)))))
