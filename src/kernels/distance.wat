;; Batched distance kernels over the shared vector arena.
;;
;; All pointers are byte offsets into the imported shared memory; vectors are float32
;; little-endian, row-major, and need not be aligned (v128.load tolerates any address, the
;; align= hints below only promise what we actually know: byte alignment).
;;
;; Per row the body runs three phases:
;;   1. 16 floats per step into four independent f32x4 accumulators, so consecutive adds do
;;      not wait on each other (an f32x4 add has ~4 cycles latency, throughput 1-2 per cycle);
;;   2. 4 floats per step into one accumulator for the rest of dim & ~3;
;;   3. a scalar tail for dim % 4.
;; Accumulating in float32 in 16 lanes keeps the rounding error close to pairwise summation
;; of dim/16 terms, well inside the 1e-5 relative bound the tests hold it to.
;;
;; The loops compare byte positions with unsigned compares: offsets can exceed 2^31 once the
;; memory grows past 2 GiB. The caller (src/kernels/wasm.ts) checks every range lies inside
;; the memory before calling, so no address computation wraps.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; out[i] = sum_j (q[j] - base[i*dim + j])^2  for i in [0, n)
  (func (export "l2sq_batch")
    (param $q i32) (param $base i32) (param $dim i32) (param $n i32) (param $out i32)
    (local $row i32)      ;; byte offset of the current row
    (local $stride i32)   ;; bytes per row
    (local $end16 i32)    ;; bytes covered by phase 1
    (local $end4 i32)     ;; bytes covered by phases 1 and 2
    (local $j i32)        ;; byte position within the row (and within q)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $d v128)
    (local $s f32)
    (local $ds f32)

    (local.set $stride (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $end16 (i32.shl (i32.and (local.get $dim) (i32.const -16)) (i32.const 2)))
    (local.set $end4 (i32.shl (i32.and (local.get $dim) (i32.const -4)) (i32.const 2)))
    (local.set $row (local.get $base))

    (block $rows_done
      (br_if $rows_done (i32.eqz (local.get $n)))
      (loop $rows
        (local.set $a0 (v128.const i64x2 0 0))
        (local.set $a1 (v128.const i64x2 0 0))
        (local.set $a2 (v128.const i64x2 0 0))
        (local.set $a3 (v128.const i64x2 0 0))
        (local.set $j (i32.const 0))

        ;; phase 1: 16 floats per step
        (block $p16_done
          (br_if $p16_done (i32.eqz (local.get $end16)))
          (loop $p16
            (local.set $d (f32x4.sub
              (v128.load align=1 (i32.add (local.get $q) (local.get $j)))
              (v128.load align=1 (i32.add (local.get $row) (local.get $j)))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub
              (v128.load offset=16 align=1 (i32.add (local.get $q) (local.get $j)))
              (v128.load offset=16 align=1 (i32.add (local.get $row) (local.get $j)))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub
              (v128.load offset=32 align=1 (i32.add (local.get $q) (local.get $j)))
              (v128.load offset=32 align=1 (i32.add (local.get $row) (local.get $j)))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub
              (v128.load offset=48 align=1 (i32.add (local.get $q) (local.get $j)))
              (v128.load offset=48 align=1 (i32.add (local.get $row) (local.get $j)))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $j (i32.add (local.get $j) (i32.const 64)))
            (br_if $p16 (i32.lt_u (local.get $j) (local.get $end16)))))

        (local.set $a0 (f32x4.add
          (f32x4.add (local.get $a0) (local.get $a1))
          (f32x4.add (local.get $a2) (local.get $a3))))

        ;; phase 2: 4 floats per step
        (block $p4_done
          (br_if $p4_done (i32.ge_u (local.get $j) (local.get $end4)))
          (loop $p4
            (local.set $d (f32x4.sub
              (v128.load align=1 (i32.add (local.get $q) (local.get $j)))
              (v128.load align=1 (i32.add (local.get $row) (local.get $j)))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br_if $p4 (i32.lt_u (local.get $j) (local.get $end4)))))

        (local.set $s (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
          (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))

        ;; phase 3: scalar tail
        (block $tail_done
          (br_if $tail_done (i32.ge_u (local.get $j) (local.get $stride)))
          (loop $tail
            (local.set $ds (f32.sub
              (f32.load align=1 (i32.add (local.get $q) (local.get $j)))
              (f32.load align=1 (i32.add (local.get $row) (local.get $j)))))
            (local.set $s (f32.add (local.get $s) (f32.mul (local.get $ds) (local.get $ds))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br_if $tail (i32.lt_u (local.get $j) (local.get $stride)))))

        (f32.store align=1 (local.get $out) (local.get $s))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $row (i32.add (local.get $row) (local.get $stride)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $rows (local.get $n)))))

  ;; out[i] = sum_j q[j] * base[i*dim + j]  for i in [0, n)
  (func (export "dot_batch")
    (param $q i32) (param $base i32) (param $dim i32) (param $n i32) (param $out i32)
    (local $row i32)
    (local $stride i32)
    (local $end16 i32)
    (local $end4 i32)
    (local $j i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $s f32)

    (local.set $stride (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $end16 (i32.shl (i32.and (local.get $dim) (i32.const -16)) (i32.const 2)))
    (local.set $end4 (i32.shl (i32.and (local.get $dim) (i32.const -4)) (i32.const 2)))
    (local.set $row (local.get $base))

    (block $rows_done
      (br_if $rows_done (i32.eqz (local.get $n)))
      (loop $rows
        (local.set $a0 (v128.const i64x2 0 0))
        (local.set $a1 (v128.const i64x2 0 0))
        (local.set $a2 (v128.const i64x2 0 0))
        (local.set $a3 (v128.const i64x2 0 0))
        (local.set $j (i32.const 0))

        (block $p16_done
          (br_if $p16_done (i32.eqz (local.get $end16)))
          (loop $p16
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul
              (v128.load align=1 (i32.add (local.get $q) (local.get $j)))
              (v128.load align=1 (i32.add (local.get $row) (local.get $j))))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul
              (v128.load offset=16 align=1 (i32.add (local.get $q) (local.get $j)))
              (v128.load offset=16 align=1 (i32.add (local.get $row) (local.get $j))))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul
              (v128.load offset=32 align=1 (i32.add (local.get $q) (local.get $j)))
              (v128.load offset=32 align=1 (i32.add (local.get $row) (local.get $j))))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul
              (v128.load offset=48 align=1 (i32.add (local.get $q) (local.get $j)))
              (v128.load offset=48 align=1 (i32.add (local.get $row) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 64)))
            (br_if $p16 (i32.lt_u (local.get $j) (local.get $end16)))))

        (local.set $a0 (f32x4.add
          (f32x4.add (local.get $a0) (local.get $a1))
          (f32x4.add (local.get $a2) (local.get $a3))))

        (block $p4_done
          (br_if $p4_done (i32.ge_u (local.get $j) (local.get $end4)))
          (loop $p4
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul
              (v128.load align=1 (i32.add (local.get $q) (local.get $j)))
              (v128.load align=1 (i32.add (local.get $row) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br_if $p4 (i32.lt_u (local.get $j) (local.get $end4)))))

        (local.set $s (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
          (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))

        (block $tail_done
          (br_if $tail_done (i32.ge_u (local.get $j) (local.get $stride)))
          (loop $tail
            (local.set $s (f32.add (local.get $s) (f32.mul
              (f32.load align=1 (i32.add (local.get $q) (local.get $j)))
              (f32.load align=1 (i32.add (local.get $row) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br_if $tail (i32.lt_u (local.get $j) (local.get $stride)))))

        (f32.store align=1 (local.get $out) (local.get $s))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $row (i32.add (local.get $row) (local.get $stride)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $rows (local.get $n))))))
