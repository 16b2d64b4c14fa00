;; The table half of bulk memory on one funcref table: table.init from a passive segment,
;; elem.drop, table.copy (overlapping), and the dropped state of active and declarative
;; segments. Entries are called through call_indirect to see what the table holds.
(module
  (type $ret (func (result i32)))
  (table 4 funcref)
  (func $f0 (result i32) (i32.const 10))
  (func $f1 (result i32) (i32.const 11))
  (func $f2 (result i32) (i32.const 12))
  (func $f3 (result i32) (i32.const 13))
  (elem $passive func $f2 $f3 $f0)
  (elem $active (i32.const 0) func $f0)
  (elem $declared declare func $f1)
  (func (export "init") (param i32 i32 i32)
    (table.init $passive (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init_active") (param i32 i32 i32)
    (table.init $active (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init_declared") (param i32 i32 i32)
    (table.init $declared (local.get 0) (local.get 1) (local.get 2)))
  (func (export "drop") (elem.drop $passive))
  (func (export "copy") (param i32 i32 i32)
    (table.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "call") (param i32) (result i32)
    (call_indirect (type $ret) (local.get 0))))
