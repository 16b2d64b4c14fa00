(module
  (import "env" "cb" (func $cb (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "f") (param i32) (result i32)
    (i32.store8 (local.get 0) (i32.const 1))
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $cb (i32.sub (local.get 0) (i32.const 1))) (i32.const 1))))))
