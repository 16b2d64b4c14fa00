;; Counts calls in a global: with a reset before every evaluation it is always 1, so the
;; module denies (code 409) if it ever sees state left by an earlier message.
(module
  (global $calls (mut i32) (i32.const 0))
  (memory (export "memory") 1)
  (func (export "arqon_on_message") (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (if (result i32) (i32.eq (global.get $calls) (i32.const 1))
      (then (i32.const 0))
      (else (i32.const 409)))))
