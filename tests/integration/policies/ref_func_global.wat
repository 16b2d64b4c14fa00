;; ref.func in global initialisers: the mutable funcref global $rule starts as $at_most_16,
;; which on_message stores into table slot 0 (table.set) and calls there (call_indirect):
;; payloads over 16 bytes are refused with 413. Before the call it overwrites $rule with
;; $spare ($leaked) and leaves slot 0 filled, so an evaluation that did not start from the
;; module's initial globals and table would be refused with 500.
(module
  (import "arqon_host_v1" "host_get_payload" (func $payload (param i32 i32) (result i32)))
  (import "arqon_host_v1" "host_reject" (func $reject (param i32 i32 i32)))
  (type $rule (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "more than 16 bytes")
  (data (i32.const 32) "state left by an earlier evaluation")
  (table $slots 1 funcref)
  (global $rule (mut funcref) (ref.func $at_most_16))
  (global $spare funcref (ref.func $leaked))
  (func $at_most_16 (type $rule) (param $n i32) (result i32)
    (if (i32.gt_s (local.get $n) (i32.const 16))
      (then
        (call $reject (i32.const 413) (i32.const 0) (i32.const 18))
        (return (i32.const 413))))
    (i32.const 0))
  (func $leaked (type $rule) (param $n i32) (result i32)
    (call $reject (i32.const 500) (i32.const 32) (i32.const 35))
    (i32.const 500))
  (func (export "arqon_on_message") (result i32)
    (if (i32.eqz (ref.is_null (table.get $slots (i32.const 0))))
      (then
        (call $reject (i32.const 500) (i32.const 32) (i32.const 35))
        (return (i32.const 500))))
    (table.set $slots (i32.const 0) (global.get $rule))
    (global.set $rule (global.get $spare))
    (call_indirect $slots (type $rule) (call $payload (i32.const 0) (i32.const 0)) (i32.const 0))))
