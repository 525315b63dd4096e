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
  (func $l2sq_batch (export "l2sq_batch")
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
  (func $dot_batch (export "dot_batch")
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
        (br_if $rows (local.get $n)))))

  ;; out[i] = sum_j (q[j] - row_i[j])^2  for i in [0, n), row_i at the byte offset offs[i] (u32).
  ;; Rows go four at a time through the three phases of l2sq_batch, in lockstep: four streams
  ;; of loads in flight instead of one, for rows scattered over the arena (graph candidates,
  ;; each a cache miss). Every row gets exactly the operations l2sq_batch gives it, in the same
  ;; order, so a vector's distance does not depend on which kernel measured it. The last n % 4
  ;; rows go through l2sq_batch itself.
  (func (export "l2sq_gather")
    (param $q i32) (param $offs i32) (param $dim i32) (param $n i32) (param $out i32)
    (local $stride i32) (local $end16 i32) (local $end4 i32) (local $j i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)  ;; the four rows' byte offsets
    (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32)
    (local $a00 v128) (local $a01 v128) (local $a02 v128) (local $a03 v128)  ;; row 0's accumulators
    (local $a10 v128) (local $a11 v128) (local $a12 v128) (local $a13 v128)  ;; row 1's accumulators
    (local $a20 v128) (local $a21 v128) (local $a22 v128) (local $a23 v128)  ;; row 2's accumulators
    (local $a30 v128) (local $a31 v128) (local $a32 v128) (local $a33 v128)  ;; row 3's accumulators
    (local $x v128) (local $d v128) (local $ds f32)

    (local.set $stride (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $end16 (i32.shl (i32.and (local.get $dim) (i32.const -16)) (i32.const 2)))
    (local.set $end4 (i32.shl (i32.and (local.get $dim) (i32.const -4)) (i32.const 2)))

    (block $groups_done
      (loop $groups
        (br_if $groups_done (i32.lt_u (local.get $n) (i32.const 4)))
        (local.set $r0 (i32.load offset=0 align=1 (local.get $offs)))
        (local.set $r1 (i32.load offset=4 align=1 (local.get $offs)))
        (local.set $r2 (i32.load offset=8 align=1 (local.get $offs)))
        (local.set $r3 (i32.load offset=12 align=1 (local.get $offs)))
        (local.set $a00 (v128.const i64x2 0 0)) (local.set $a01 (v128.const i64x2 0 0))
        (local.set $a02 (v128.const i64x2 0 0)) (local.set $a03 (v128.const i64x2 0 0))
        (local.set $a10 (v128.const i64x2 0 0)) (local.set $a11 (v128.const i64x2 0 0))
        (local.set $a12 (v128.const i64x2 0 0)) (local.set $a13 (v128.const i64x2 0 0))
        (local.set $a20 (v128.const i64x2 0 0)) (local.set $a21 (v128.const i64x2 0 0))
        (local.set $a22 (v128.const i64x2 0 0)) (local.set $a23 (v128.const i64x2 0 0))
        (local.set $a30 (v128.const i64x2 0 0)) (local.set $a31 (v128.const i64x2 0 0))
        (local.set $a32 (v128.const i64x2 0 0)) (local.set $a33 (v128.const i64x2 0 0))
        (local.set $j (i32.const 0))

        ;; phase 1: 16 floats per step, each row into its own four accumulators
        (block $p16_done
          (br_if $p16_done (i32.eqz (local.get $end16)))
          (loop $p16
            (local.set $x (v128.load align=1 (i32.add (local.get $q) (local.get $j))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load align=1 (i32.add (local.get $r0) (local.get $j)))))
            (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load align=1 (i32.add (local.get $r1) (local.get $j)))))
            (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load align=1 (i32.add (local.get $r2) (local.get $j)))))
            (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load align=1 (i32.add (local.get $r3) (local.get $j)))))
            (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $x (v128.load offset=16 align=1 (i32.add (local.get $q) (local.get $j))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load offset=16 align=1 (i32.add (local.get $r0) (local.get $j)))))
            (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load offset=16 align=1 (i32.add (local.get $r1) (local.get $j)))))
            (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load offset=16 align=1 (i32.add (local.get $r2) (local.get $j)))))
            (local.set $a21 (f32x4.add (local.get $a21) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load offset=16 align=1 (i32.add (local.get $r3) (local.get $j)))))
            (local.set $a31 (f32x4.add (local.get $a31) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $x (v128.load offset=32 align=1 (i32.add (local.get $q) (local.get $j))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load offset=32 align=1 (i32.add (local.get $r0) (local.get $j)))))
            (local.set $a02 (f32x4.add (local.get $a02) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load offset=32 align=1 (i32.add (local.get $r1) (local.get $j)))))
            (local.set $a12 (f32x4.add (local.get $a12) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load offset=32 align=1 (i32.add (local.get $r2) (local.get $j)))))
            (local.set $a22 (f32x4.add (local.get $a22) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load offset=32 align=1 (i32.add (local.get $r3) (local.get $j)))))
            (local.set $a32 (f32x4.add (local.get $a32) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $x (v128.load offset=48 align=1 (i32.add (local.get $q) (local.get $j))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load offset=48 align=1 (i32.add (local.get $r0) (local.get $j)))))
            (local.set $a03 (f32x4.add (local.get $a03) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load offset=48 align=1 (i32.add (local.get $r1) (local.get $j)))))
            (local.set $a13 (f32x4.add (local.get $a13) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load offset=48 align=1 (i32.add (local.get $r2) (local.get $j)))))
            (local.set $a23 (f32x4.add (local.get $a23) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load offset=48 align=1 (i32.add (local.get $r3) (local.get $j)))))
            (local.set $a33 (f32x4.add (local.get $a33) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $j (i32.add (local.get $j) (i32.const 64)))
            (br_if $p16 (i32.lt_u (local.get $j) (local.get $end16)))))

        (local.set $a00 (f32x4.add (f32x4.add (local.get $a00) (local.get $a01)) (f32x4.add (local.get $a02) (local.get $a03))))
        (local.set $a10 (f32x4.add (f32x4.add (local.get $a10) (local.get $a11)) (f32x4.add (local.get $a12) (local.get $a13))))
        (local.set $a20 (f32x4.add (f32x4.add (local.get $a20) (local.get $a21)) (f32x4.add (local.get $a22) (local.get $a23))))
        (local.set $a30 (f32x4.add (f32x4.add (local.get $a30) (local.get $a31)) (f32x4.add (local.get $a32) (local.get $a33))))

        ;; phase 2: 4 floats per step
        (block $p4_done
          (br_if $p4_done (i32.ge_u (local.get $j) (local.get $end4)))
          (loop $p4
            (local.set $x (v128.load align=1 (i32.add (local.get $q) (local.get $j))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load align=1 (i32.add (local.get $r0) (local.get $j)))))
            (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load align=1 (i32.add (local.get $r1) (local.get $j)))))
            (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load align=1 (i32.add (local.get $r2) (local.get $j)))))
            (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $d (f32x4.sub (local.get $x) (v128.load align=1 (i32.add (local.get $r3) (local.get $j)))))
            (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br_if $p4 (i32.lt_u (local.get $j) (local.get $end4)))))

        (local.set $s0 (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a00)) (f32x4.extract_lane 1 (local.get $a00)))
          (f32.add (f32x4.extract_lane 2 (local.get $a00)) (f32x4.extract_lane 3 (local.get $a00)))))
        (local.set $s1 (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a10)) (f32x4.extract_lane 1 (local.get $a10)))
          (f32.add (f32x4.extract_lane 2 (local.get $a10)) (f32x4.extract_lane 3 (local.get $a10)))))
        (local.set $s2 (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a20)) (f32x4.extract_lane 1 (local.get $a20)))
          (f32.add (f32x4.extract_lane 2 (local.get $a20)) (f32x4.extract_lane 3 (local.get $a20)))))
        (local.set $s3 (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a30)) (f32x4.extract_lane 1 (local.get $a30)))
          (f32.add (f32x4.extract_lane 2 (local.get $a30)) (f32x4.extract_lane 3 (local.get $a30)))))

        ;; phase 3: scalar tail
        (block $tail_done
          (br_if $tail_done (i32.ge_u (local.get $j) (local.get $stride)))
          (loop $tail
            (local.set $ds (f32.sub
              (f32.load align=1 (i32.add (local.get $q) (local.get $j)))
              (f32.load align=1 (i32.add (local.get $r0) (local.get $j)))))
            (local.set $s0 (f32.add (local.get $s0) (f32.mul (local.get $ds) (local.get $ds))))
            (local.set $ds (f32.sub
              (f32.load align=1 (i32.add (local.get $q) (local.get $j)))
              (f32.load align=1 (i32.add (local.get $r1) (local.get $j)))))
            (local.set $s1 (f32.add (local.get $s1) (f32.mul (local.get $ds) (local.get $ds))))
            (local.set $ds (f32.sub
              (f32.load align=1 (i32.add (local.get $q) (local.get $j)))
              (f32.load align=1 (i32.add (local.get $r2) (local.get $j)))))
            (local.set $s2 (f32.add (local.get $s2) (f32.mul (local.get $ds) (local.get $ds))))
            (local.set $ds (f32.sub
              (f32.load align=1 (i32.add (local.get $q) (local.get $j)))
              (f32.load align=1 (i32.add (local.get $r3) (local.get $j)))))
            (local.set $s3 (f32.add (local.get $s3) (f32.mul (local.get $ds) (local.get $ds))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br_if $tail (i32.lt_u (local.get $j) (local.get $stride)))))

        (f32.store offset=0 align=1 (local.get $out) (local.get $s0))
        (f32.store offset=4 align=1 (local.get $out) (local.get $s1))
        (f32.store offset=8 align=1 (local.get $out) (local.get $s2))
        (f32.store offset=12 align=1 (local.get $out) (local.get $s3))
        (local.set $offs (i32.add (local.get $offs) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $n (i32.sub (local.get $n) (i32.const 4)))
        (br $groups)))

    ;; the last n % 4 rows, one at a time
    (block $rest_done
      (loop $rest
        (br_if $rest_done (i32.eqz (local.get $n)))
        (call $l2sq_batch (local.get $q) (i32.load align=1 (local.get $offs)) (local.get $dim) (i32.const 1) (local.get $out))
        (local.set $offs (i32.add (local.get $offs) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $rest))))

  ;; out[i] = sum_j q[j] * row_i[j]  for i in [0, n): dot_batch's operations, four rows at a
  ;; time, as l2sq_gather.
  (func (export "dot_gather")
    (param $q i32) (param $offs i32) (param $dim i32) (param $n i32) (param $out i32)
    (local $stride i32) (local $end16 i32) (local $end4 i32) (local $j i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)  ;; the four rows' byte offsets
    (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32)
    (local $a00 v128) (local $a01 v128) (local $a02 v128) (local $a03 v128)  ;; row 0's accumulators
    (local $a10 v128) (local $a11 v128) (local $a12 v128) (local $a13 v128)  ;; row 1's accumulators
    (local $a20 v128) (local $a21 v128) (local $a22 v128) (local $a23 v128)  ;; row 2's accumulators
    (local $a30 v128) (local $a31 v128) (local $a32 v128) (local $a33 v128)  ;; row 3's accumulators
    (local $x v128)

    (local.set $stride (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $end16 (i32.shl (i32.and (local.get $dim) (i32.const -16)) (i32.const 2)))
    (local.set $end4 (i32.shl (i32.and (local.get $dim) (i32.const -4)) (i32.const 2)))

    (block $groups_done
      (loop $groups
        (br_if $groups_done (i32.lt_u (local.get $n) (i32.const 4)))
        (local.set $r0 (i32.load offset=0 align=1 (local.get $offs)))
        (local.set $r1 (i32.load offset=4 align=1 (local.get $offs)))
        (local.set $r2 (i32.load offset=8 align=1 (local.get $offs)))
        (local.set $r3 (i32.load offset=12 align=1 (local.get $offs)))
        (local.set $a00 (v128.const i64x2 0 0)) (local.set $a01 (v128.const i64x2 0 0))
        (local.set $a02 (v128.const i64x2 0 0)) (local.set $a03 (v128.const i64x2 0 0))
        (local.set $a10 (v128.const i64x2 0 0)) (local.set $a11 (v128.const i64x2 0 0))
        (local.set $a12 (v128.const i64x2 0 0)) (local.set $a13 (v128.const i64x2 0 0))
        (local.set $a20 (v128.const i64x2 0 0)) (local.set $a21 (v128.const i64x2 0 0))
        (local.set $a22 (v128.const i64x2 0 0)) (local.set $a23 (v128.const i64x2 0 0))
        (local.set $a30 (v128.const i64x2 0 0)) (local.set $a31 (v128.const i64x2 0 0))
        (local.set $a32 (v128.const i64x2 0 0)) (local.set $a33 (v128.const i64x2 0 0))
        (local.set $j (i32.const 0))

        ;; phase 1: 16 floats per step, each row into its own four accumulators
        (block $p16_done
          (br_if $p16_done (i32.eqz (local.get $end16)))
          (loop $p16
            (local.set $x (v128.load align=1 (i32.add (local.get $q) (local.get $j))))
            (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $x) (v128.load align=1 (i32.add (local.get $r0) (local.get $j))))))
            (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $x) (v128.load align=1 (i32.add (local.get $r1) (local.get $j))))))
            (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $x) (v128.load align=1 (i32.add (local.get $r2) (local.get $j))))))
            (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $x) (v128.load align=1 (i32.add (local.get $r3) (local.get $j))))))
            (local.set $x (v128.load offset=16 align=1 (i32.add (local.get $q) (local.get $j))))
            (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $x) (v128.load offset=16 align=1 (i32.add (local.get $r0) (local.get $j))))))
            (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $x) (v128.load offset=16 align=1 (i32.add (local.get $r1) (local.get $j))))))
            (local.set $a21 (f32x4.add (local.get $a21) (f32x4.mul (local.get $x) (v128.load offset=16 align=1 (i32.add (local.get $r2) (local.get $j))))))
            (local.set $a31 (f32x4.add (local.get $a31) (f32x4.mul (local.get $x) (v128.load offset=16 align=1 (i32.add (local.get $r3) (local.get $j))))))
            (local.set $x (v128.load offset=32 align=1 (i32.add (local.get $q) (local.get $j))))
            (local.set $a02 (f32x4.add (local.get $a02) (f32x4.mul (local.get $x) (v128.load offset=32 align=1 (i32.add (local.get $r0) (local.get $j))))))
            (local.set $a12 (f32x4.add (local.get $a12) (f32x4.mul (local.get $x) (v128.load offset=32 align=1 (i32.add (local.get $r1) (local.get $j))))))
            (local.set $a22 (f32x4.add (local.get $a22) (f32x4.mul (local.get $x) (v128.load offset=32 align=1 (i32.add (local.get $r2) (local.get $j))))))
            (local.set $a32 (f32x4.add (local.get $a32) (f32x4.mul (local.get $x) (v128.load offset=32 align=1 (i32.add (local.get $r3) (local.get $j))))))
            (local.set $x (v128.load offset=48 align=1 (i32.add (local.get $q) (local.get $j))))
            (local.set $a03 (f32x4.add (local.get $a03) (f32x4.mul (local.get $x) (v128.load offset=48 align=1 (i32.add (local.get $r0) (local.get $j))))))
            (local.set $a13 (f32x4.add (local.get $a13) (f32x4.mul (local.get $x) (v128.load offset=48 align=1 (i32.add (local.get $r1) (local.get $j))))))
            (local.set $a23 (f32x4.add (local.get $a23) (f32x4.mul (local.get $x) (v128.load offset=48 align=1 (i32.add (local.get $r2) (local.get $j))))))
            (local.set $a33 (f32x4.add (local.get $a33) (f32x4.mul (local.get $x) (v128.load offset=48 align=1 (i32.add (local.get $r3) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 64)))
            (br_if $p16 (i32.lt_u (local.get $j) (local.get $end16)))))

        (local.set $a00 (f32x4.add (f32x4.add (local.get $a00) (local.get $a01)) (f32x4.add (local.get $a02) (local.get $a03))))
        (local.set $a10 (f32x4.add (f32x4.add (local.get $a10) (local.get $a11)) (f32x4.add (local.get $a12) (local.get $a13))))
        (local.set $a20 (f32x4.add (f32x4.add (local.get $a20) (local.get $a21)) (f32x4.add (local.get $a22) (local.get $a23))))
        (local.set $a30 (f32x4.add (f32x4.add (local.get $a30) (local.get $a31)) (f32x4.add (local.get $a32) (local.get $a33))))

        ;; phase 2: 4 floats per step
        (block $p4_done
          (br_if $p4_done (i32.ge_u (local.get $j) (local.get $end4)))
          (loop $p4
            (local.set $x (v128.load align=1 (i32.add (local.get $q) (local.get $j))))
            (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $x) (v128.load align=1 (i32.add (local.get $r0) (local.get $j))))))
            (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $x) (v128.load align=1 (i32.add (local.get $r1) (local.get $j))))))
            (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $x) (v128.load align=1 (i32.add (local.get $r2) (local.get $j))))))
            (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $x) (v128.load align=1 (i32.add (local.get $r3) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br_if $p4 (i32.lt_u (local.get $j) (local.get $end4)))))

        (local.set $s0 (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a00)) (f32x4.extract_lane 1 (local.get $a00)))
          (f32.add (f32x4.extract_lane 2 (local.get $a00)) (f32x4.extract_lane 3 (local.get $a00)))))
        (local.set $s1 (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a10)) (f32x4.extract_lane 1 (local.get $a10)))
          (f32.add (f32x4.extract_lane 2 (local.get $a10)) (f32x4.extract_lane 3 (local.get $a10)))))
        (local.set $s2 (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a20)) (f32x4.extract_lane 1 (local.get $a20)))
          (f32.add (f32x4.extract_lane 2 (local.get $a20)) (f32x4.extract_lane 3 (local.get $a20)))))
        (local.set $s3 (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a30)) (f32x4.extract_lane 1 (local.get $a30)))
          (f32.add (f32x4.extract_lane 2 (local.get $a30)) (f32x4.extract_lane 3 (local.get $a30)))))

        ;; phase 3: scalar tail
        (block $tail_done
          (br_if $tail_done (i32.ge_u (local.get $j) (local.get $stride)))
          (loop $tail
            (local.set $s0 (f32.add (local.get $s0) (f32.mul
              (f32.load align=1 (i32.add (local.get $q) (local.get $j)))
              (f32.load align=1 (i32.add (local.get $r0) (local.get $j))))))
            (local.set $s1 (f32.add (local.get $s1) (f32.mul
              (f32.load align=1 (i32.add (local.get $q) (local.get $j)))
              (f32.load align=1 (i32.add (local.get $r1) (local.get $j))))))
            (local.set $s2 (f32.add (local.get $s2) (f32.mul
              (f32.load align=1 (i32.add (local.get $q) (local.get $j)))
              (f32.load align=1 (i32.add (local.get $r2) (local.get $j))))))
            (local.set $s3 (f32.add (local.get $s3) (f32.mul
              (f32.load align=1 (i32.add (local.get $q) (local.get $j)))
              (f32.load align=1 (i32.add (local.get $r3) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br_if $tail (i32.lt_u (local.get $j) (local.get $stride)))))

        (f32.store offset=0 align=1 (local.get $out) (local.get $s0))
        (f32.store offset=4 align=1 (local.get $out) (local.get $s1))
        (f32.store offset=8 align=1 (local.get $out) (local.get $s2))
        (f32.store offset=12 align=1 (local.get $out) (local.get $s3))
        (local.set $offs (i32.add (local.get $offs) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $n (i32.sub (local.get $n) (i32.const 4)))
        (br $groups)))

    ;; the last n % 4 rows, one at a time
    (block $rest_done
      (loop $rest
        (br_if $rest_done (i32.eqz (local.get $n)))
        (call $dot_batch (local.get $q) (i32.load align=1 (local.get $offs)) (local.get $dim) (i32.const 1) (local.get $out))
        (local.set $offs (i32.add (local.get $offs) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $rest)))))
