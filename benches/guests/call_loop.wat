;; Makes `n` sequential IOmod calls, each with the same method and input, waiting in the host for each.
;; Input: [u32 n][u32 path length][path][call input]. Output: [u32 calls that succeeded].
(module
  (import "iomod" "call_start" (func $start (param i32 i32 i32 i32) (result i64)))
  (import "iomod" "call_poll" (func $poll (param i64) (result i64)))
  (import "iomod" "call_read" (func $read (param i64 i32 i32) (result i32)))
  (import "iomod" "wait" (func $wait (result i64)))
  (memory (export "memory") 4)
  (func (export "iomod_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "iomod_main") (param $ptr i32) (param $len i32) (result i64)
    (local $n i32) (local $plen i32) (local $input i32) (local $input_len i32)
    (local $i i32) (local $ok i32) (local $id i64) (local $st i64)
    (local.set $n (i32.load (local.get $ptr)))
    (local.set $plen (i32.load (i32.add (local.get $ptr) (i32.const 4))))
    (local.set $input (i32.add (i32.add (local.get $ptr) (i32.const 8)) (local.get $plen)))
    (local.set $input_len (i32.sub (i32.sub (local.get $len) (i32.const 8)) (local.get $plen)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $id (call $start (i32.add (local.get $ptr) (i32.const 8)) (local.get $plen) (local.get $input) (local.get $input_len)))
        (block $finished
          (loop $again
            (local.set $st (call $poll (local.get $id)))
            (br_if $finished (i64.ne (local.get $st) (i64.const -1)))
            (drop (call $wait))
            (br $again)))
        (if (i64.eq (i64.and (local.get $st) (i64.const 1)) (i64.const 0))
          (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
        (drop (call $read (local.get $id) (i32.const 131072) (i32.wrap_i64 (i64.shr_u (local.get $st) (i64.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.store (i32.const 2048) (local.get $ok))
    (i64.const 8796093022212)))
