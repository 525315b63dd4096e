;; CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial and final xor 0xFFFFFFFF),
;; slicing-by-8: eight 256-entry tables let each step consume eight bytes with two unaligned
;; loads, which WebAssembly has and JavaScript does not.
;;
;; Memory (crc32c.ts copies the bytes in):
;;
;;   0                     8192                                   8192 + DATA_BYTES
;;   ├── tables t0..t7 ─────┼── bytes to checksum ─────────────────────┤
;;   t[k][n] at (k·256 + n)·4, built by $init

(module
  (memory (export "memory") 2)

  (func $init
    (local $n i32) (local $k i32) (local $c i32) (local $t i32)
    ;; t0: the byte-at-a-time table
    (loop $bytes
      (local.set $c (local.get $n))
      (local.set $k (i32.const 0))
      (loop $bits
        (local.set $c
          (select
            (i32.xor (i32.const 0x82f63b78) (i32.shr_u (local.get $c) (i32.const 1)))
            (i32.shr_u (local.get $c) (i32.const 1))
            (i32.and (local.get $c) (i32.const 1))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $bits (i32.lt_u (local.get $k) (i32.const 8))))
      (i32.store (i32.shl (local.get $n) (i32.const 2)) (local.get $c))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $bytes (i32.lt_u (local.get $n) (i32.const 256))))
    ;; t1..t7: t[k][n] = t0[t[k-1][n] & 0xff] ^ (t[k-1][n] >>> 8)
    (local.set $n (i32.const 0))
    (loop $entries
      (local.set $c (i32.load (i32.shl (local.get $n) (i32.const 2))))
      (local.set $t (i32.const 1))
      (loop $tables
        (local.set $c (i32.xor
          (i32.load (i32.shl (i32.and (local.get $c) (i32.const 0xff)) (i32.const 2)))
          (i32.shr_u (local.get $c) (i32.const 8))))
        (i32.store (i32.shl (i32.add (i32.shl (local.get $t) (i32.const 8)) (local.get $n)) (i32.const 2)) (local.get $c))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br_if $tables (i32.lt_u (local.get $t) (i32.const 8))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $entries (i32.lt_u (local.get $n) (i32.const 256)))))
  (start $init)

  ;; Continues `crc` (a finished CRC-32C, 0 to start) over the `len` bytes at `p`.
  (func (export "crc32c") (param $p i32) (param $len i32) (param $crc i32) (result i32)
    (local $c i32) (local $end8 i32) (local $end i32) (local $lo i32) (local $hi i32)
    (local.set $c (i32.xor (local.get $crc) (i32.const -1)))
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (local.set $end8 (i32.add (local.get $p) (i32.and (local.get $len) (i32.const -8))))
    (block $done8
      (loop $eight
        (br_if $done8 (i32.ge_u (local.get $p) (local.get $end8)))
        (local.set $lo (i32.xor (local.get $c) (i32.load align=1 (local.get $p))))
        (local.set $hi (i32.load offset=4 align=1 (local.get $p)))
        (local.set $c (i32.xor
          (i32.xor
            (i32.xor
              (i32.load offset=7168 (i32.shl (i32.and (local.get $lo) (i32.const 0xff)) (i32.const 2)))            ;; t7
              (i32.load offset=6144 (i32.shl (i32.and (i32.shr_u (local.get $lo) (i32.const 8)) (i32.const 0xff)) (i32.const 2))))  ;; t6
            (i32.xor
              (i32.load offset=5120 (i32.shl (i32.and (i32.shr_u (local.get $lo) (i32.const 16)) (i32.const 0xff)) (i32.const 2))) ;; t5
              (i32.load offset=4096 (i32.shl (i32.shr_u (local.get $lo) (i32.const 24)) (i32.const 2)))))        ;; t4
          (i32.xor
            (i32.xor
              (i32.load offset=3072 (i32.shl (i32.and (local.get $hi) (i32.const 0xff)) (i32.const 2)))            ;; t3
              (i32.load offset=2048 (i32.shl (i32.and (i32.shr_u (local.get $hi) (i32.const 8)) (i32.const 0xff)) (i32.const 2))))  ;; t2
            (i32.xor
              (i32.load offset=1024 (i32.shl (i32.and (i32.shr_u (local.get $hi) (i32.const 16)) (i32.const 0xff)) (i32.const 2))) ;; t1
              (i32.load (i32.shl (i32.shr_u (local.get $hi) (i32.const 24)) (i32.const 2)))))))                    ;; t0
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $eight)))
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.xor
          (i32.load (i32.shl (i32.and (i32.xor (local.get $c) (i32.load8_u (local.get $p))) (i32.const 0xff)) (i32.const 2)))
          (i32.shr_u (local.get $c) (i32.const 8))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $byte)))
    (i32.xor (local.get $c) (i32.const -1)))
)
