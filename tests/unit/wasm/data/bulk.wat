;; Bulk memory (memory.fill/copy/init, data.drop) and the data count section.
(module
  (memory (export "memory") 1)
  (data $active (i32.const 0) "ABCD")
  (data $passive "hello")
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init") (param i32 i32 i32)
    (memory.init $passive (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init_active") (param i32 i32 i32)
    (memory.init $active (local.get 0) (local.get 1) (local.get 2)))
  (func (export "drop") (data.drop $passive))
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
)
