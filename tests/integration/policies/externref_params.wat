;; Functions with externref parameters, called inside the module with ref.null extern (the
;; only reference to an external object a policy can make: no host function returns one).
;; $verdict refuses payloads starting with "spam" (403 with a reason) and answers 500 when
;; its context is not null, so a wrong ref.is_null, typed select or externref table read
;; would deny every message.
(module
  (import "arqon_host_v1" "host_get_payload" (func $payload (param i32 i32) (result i32)))
  (import "arqon_host_v1" "host_reject" (func $reject (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "no spam here")
  (table $contexts 1 externref)
  (global $none (mut externref) (ref.null extern))
  ;; the first of two references when $first is non-zero, else the second
  (func $pick (param $a externref) (param $b externref) (param $first i32) (result externref)
    (select (result externref) (local.get $a) (local.get $b) (local.get $first)))
  (func $verdict (param $context externref) (param $spam i32) (result i32)
    (if (i32.eqz (ref.is_null (local.get $context)))
      (then (return (i32.const 500))))
    (if (local.get $spam)
      (then
        (call $reject (i32.const 403) (i32.const 0) (i32.const 12))
        (return (i32.const 403))))
    (i32.const 0))
  (func (export "arqon_on_message") (result i32)
    (drop (call $payload (i32.const 1024) (i32.const 4)))
    (call $verdict
      (call $pick (table.get $contexts (i32.const 0)) (global.get $none) (i32.const 1))
      ;; "spam" read as a little-endian i32
      (i32.eq (i32.load (i32.const 1024)) (i32.const 0x6d617073)))))
