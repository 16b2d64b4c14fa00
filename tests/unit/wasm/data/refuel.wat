;; The refuel hook (test_refuel.c): a counted loop, a call in a loop, a bulk fill, a host
;; charge and a loop that never ends, each spending fuel a different way.
(module
  (import "env" "charge" (func $charge (param i32)))
  (memory 1)
  (func (export "count") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $i))
  (func $one (result i32) (i32.const 1))
  (func (export "calls") (param $n i32) (result i32)
    (local $sum i32)
    (loop $l
      (local.set $sum (i32.add (local.get $sum) (call $one)))
      (br_if $l (i32.lt_u (local.get $sum) (local.get $n))))
    (local.get $sum))
  (func (export "fill") (param $len i32)
    (memory.fill (i32.const 0) (i32.const 7) (local.get $len)))
  (func (export "host") (param $units i32)
    (call $charge (local.get $units)))
  (func (export "spin")
    (loop $l (br $l))))
