;; The embeddings scan of a JSON request body (json-body.ts): the rows of numbers of
;; `"embeddings": [[…], …]`, turned into float32 as JSON.parse followed by Math.fround would.
;;
;; Memory (json-scan.ts decides the offsets and grows the memory before a scan):
;;
;;   0          184    192                       body end          values (f32 × cap)      rows (i32 × rowCap)
;;   ├──────────┼──────┼─── body bytes ───────────┼── 8 zero bytes ──┼── … ─────────────────┼── … ──────────┤
;;   10^0..10^22 (f64,                             the eight-byte digit reads and every token
;;   set by $init)                                 test stop there without a bounds check
;;
;; `scan(p, values, cap, rows, rowCap)` starts right after the `[` that opens the embeddings,
;; reads rows up to and including the `]` that closes them, and returns how many values it
;; wrote (then the global `pos` is the byte after that `]` and `rowCount` the rows written), or
;; -1 for anything it does not expect (JSON.parse then takes the whole body: same value or the
;; same error).
;;
;; A number's first 18 significant digits are read into an i64 (exact; the digits left out
;; are below 10^-17 of the value), which becomes a double (one rounding) scaled by an exact power
;; of ten (one more): the double lies within 2^-51 of the exact decimal, relative. The float32
;; nearest to the decimal is then the float32 of every double within 2^-49 of this one unless a
;; float32 rounding midpoint lies that close, which is checked by rounding both ends of that
;; interval; in that case, and for exponents beyond 10^±22, the imported `exact(from, to)`
;; (Math.fround(Number(text)), as JSON.parse + Math.fround) decides. A value whose float32 is
;; not finite gives -1.

(module
  (import "js" "exact" (func $exact (param i32 i32) (result f64)))
  (memory (export "memory") 1)
  (global $pos (export "pos") (mut i32) (i32.const 0))
  (global $rowCount (export "rowCount") (mut i32) (i32.const 0))

  (func $init
    (local $i i32) (local $x f64)
    (local.set $x (f64.const 1))
    (loop $l
      (f64.store (i32.shl (local.get $i) (i32.const 3)) (local.get $x))
      (local.set $x (f64.mul (local.get $x) (f64.const 10)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.le_u (local.get $i) (i32.const 22)))))
  (start $init)

  ;; Skips JSON whitespace from p; returns the new p (the byte there is the next token's).
  (func $ws (param $p i32) (result i32)
    (local $c i32)
    (block $done
      (loop $l
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.eqz (i32.or
          (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 10)))
          (i32.or (i32.eq (local.get $c) (i32.const 13)) (i32.eq (local.get $c) (i32.const 9))))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l)))
    (local.get $p))

  ;; Reads the run of digits at p into the mantissa m, which holds d significant digits, keeping
  ;; at most 18 in all (exact in an i64, below 2^63; what they leave out is below 10^-17 of the
  ;; value), eight at a time where it can.
  ;; Returns the byte after the run, the mantissa and its digit count (d grows by the digits taken).
  (func $digitRun (param $p i32) (param $m i64) (param $d i32) (result i32 i64 i32)
    (local $w i64) (local $c i32)
    (block $bytes
      (loop $eights
        (br_if $bytes (i32.gt_s (local.get $d) (i32.const 10)))
        ;; Eight digits at once. A byte x is a digit exactly when its high nibble is 3 and that
        ;; of x + 6 is still 3; the digits (the first in the lowest byte) then combine in pairs,
        ;; the pairs in fours, the fours into one number 0..99,999,999.
        (local.set $w (i64.load align=1 (local.get $p)))
        (br_if $bytes (i64.ne
          (i64.or (i64.and (local.get $w) (i64.const 0xf0f0f0f0f0f0f0f0))
                  (i64.shr_u (i64.and (i64.add (local.get $w) (i64.const 0x0606060606060606)) (i64.const 0xf0f0f0f0f0f0f0f0)) (i64.const 4)))
          (i64.const 0x3333333333333333)))
        (local.set $w (i64.sub (local.get $w) (i64.const 0x3030303030303030)))
        (local.set $w (i64.and (i64.add (i64.mul (local.get $w) (i64.const 10)) (i64.shr_u (local.get $w) (i64.const 8)))
                               (i64.const 0x00ff00ff00ff00ff)))
        (local.set $w (i64.and (i64.add (i64.mul (local.get $w) (i64.const 100)) (i64.shr_u (local.get $w) (i64.const 16)))
                               (i64.const 0x0000ffff0000ffff)))
        (local.set $w (i64.and (i64.add (i64.mul (local.get $w) (i64.const 10000)) (i64.shr_u (local.get $w) (i64.const 32)))
                               (i64.const 0xffffffff)))
        (local.set $m (i64.add (i64.mul (local.get $m) (i64.const 100000000)) (local.get $w)))
        (local.set $d (i32.add (local.get $d) (i32.const 8)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $eights)))
    (block $done
      (loop $l
        (local.set $c (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
        (br_if $done (i32.ge_u (local.get $c) (i32.const 10)))
        (if (i32.lt_s (local.get $d) (i32.const 18))
          (then
            (local.set $m (i64.add (i64.mul (local.get $m) (i64.const 10)) (i64.extend_i32_u (local.get $c))))
            (local.set $d (i32.add (local.get $d) (i32.const 1)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l)))
    (local.get $p) (local.get $m) (local.get $d))

  ;; One JSON number at p: stores its float32 at out and returns the byte after it; 0 when it
  ;; is not a JSON number or its float32 is not finite.
  (func $number (param $p i32) (param $out i32) (result i32)
    (local $start i32) (local $c i32) (local $neg i32) (local $exp i32) (local $run i32)
    (local $m i64) (local $d i32) (local $before i32)
    (local $sign i32) (local $e i32) (local $x f64) (local $f f32)
    (local.set $start (local.get $p))
    (local.set $c (i32.load8_u (local.get $p)))
    (if (i32.eq (local.get $c) (i32.const 45)) ;; -
      (then
        (local.set $neg (i32.const 1))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $c (i32.load8_u (local.get $p)))))
    (if (i32.eqz (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10))) (then (return (i32.const 0))))
    (if (i32.eq (local.get $c) (i32.const 48)) ;; 0: no leading zeros in JSON
      (then
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $c (i32.load8_u (local.get $p)))
        (if (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10)) (then (return (i32.const 0)))))
      (else
        (local.set $run (local.get $p))
        (call $digitRun (local.get $p) (i64.const 0) (i32.const 0))
        (local.set $d)
        (local.set $m)
        (local.set $p)
        (local.set $c (i32.load8_u (local.get $p)))
        ;; integer digits beyond the 18 taken scale the value
        (local.set $exp (i32.sub (i32.sub (local.get $p) (local.get $run)) (local.get $d)))))
    (if (i32.eq (local.get $c) (i32.const 46)) ;; .
      (then
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $c (i32.load8_u (local.get $p)))
        (if (i32.eqz (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10))) (then (return (i32.const 0))))
        ;; leading zeros of a fraction (0.000123) are not significant digits
        (if (i64.eqz (local.get $m))
          (then
            (block $z
              (loop $l
                (br_if $z (i32.ne (local.get $c) (i32.const 48)))
                (local.set $exp (i32.sub (local.get $exp) (i32.const 1)))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (local.set $c (i32.load8_u (local.get $p)))
                (br $l)))))
        (local.set $before (local.get $d))
        (call $digitRun (local.get $p) (local.get $m) (local.get $d))
        (local.set $d)
        (local.set $m)
        (local.set $p)
        (local.set $c (i32.load8_u (local.get $p)))
        (local.set $exp (i32.sub (local.get $exp) (i32.sub (local.get $d) (local.get $before))))))
    (if (i32.eq (i32.or (local.get $c) (i32.const 32)) (i32.const 101)) ;; e or E
      (then
        (local.set $sign (i32.const 1))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $c (i32.load8_u (local.get $p)))
        (if (i32.or (i32.eq (local.get $c) (i32.const 45)) (i32.eq (local.get $c) (i32.const 43)))
          (then
            (if (i32.eq (local.get $c) (i32.const 45)) (then (local.set $sign (i32.const -1))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (local.set $c (i32.load8_u (local.get $p)))))
        (if (i32.eqz (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10))) (then (return (i32.const 0))))
        (block $done
          (loop $l
            (br_if $done (i32.eqz (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10))))
            (if (i32.lt_s (local.get $e) (i32.const 100000))
              (then (local.set $e (i32.add (i32.mul (local.get $e) (i32.const 10)) (i32.sub (local.get $c) (i32.const 48))))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (local.set $c (i32.load8_u (local.get $p)))
            (br $l)))
        ;; An exponent of 100,000 or more (its digits were not all added up) could be offset by as
        ;; many zeros or dropped digits back into ±22: such a number always goes to exact().
        (local.set $exp
          (if (result i32) (i32.ge_s (local.get $e) (i32.const 100000))
            (then (i32.const 1000000))
            (else (i32.add (local.get $exp) (i32.mul (local.get $sign) (local.get $e))))))))
    (if (i64.eqz (local.get $m))
      (then
        (f32.store (local.get $out) (select (f32.const -0) (f32.const 0) (local.get $neg)))
        (return (local.get $p))))
    (if (i32.gt_u (i32.add (local.get $exp) (i32.const 22)) (i32.const 44)) ;; exp < -22 or > 22
      (then (local.set $f (f32.demote_f64 (call $exact (local.get $start) (local.get $p)))))
      (else
        ;; the digits left out, then two roundings (the i64 to a double, the power of ten): within
        ;; 2^-51 of the exact decimal, relative (see the top of this file)
        (local.set $x
          (if (result f64) (i32.ge_s (local.get $exp) (i32.const 0))
            (then (f64.mul (f64.convert_i64_s (local.get $m)) (f64.load (i32.shl (local.get $exp) (i32.const 3)))))
            (else (f64.div (f64.convert_i64_s (local.get $m)) (f64.load (i32.shl (i32.sub (i32.const 0) (local.get $exp)) (i32.const 3)))))))
        ;; near a float32 rounding midpoint (or the edge of the range): the exact parse decides
        (if (f32.ne (f32.demote_f64 (f64.mul (local.get $x) (f64.const 0x1.ffffffffffff0p-1))) ;; 1 - 2^-49
                    (f32.demote_f64 (f64.mul (local.get $x) (f64.const 0x1.0000000000008p+0)))) ;; 1 + 2^-49
          (then (local.set $f (f32.demote_f64 (call $exact (local.get $start) (local.get $p)))))
          (else
            (local.set $f (f32.demote_f64 (local.get $x)))
            (if (local.get $neg) (then (local.set $f (f32.neg (local.get $f)))))))))
    ;; finite: |f| ≤ max float32 (false for NaN too)
    (if (i32.eqz (f32.le (f32.abs (local.get $f)) (f32.const 0x1.fffffep+127))) (then (return (i32.const 0))))
    (f32.store (local.get $out) (local.get $f))
    (local.get $p))

  (func (export "scan") (param $p i32) (param $values i32) (param $cap i32) (param $rows i32) (param $rowCap i32) (result i32)
    (local $n i32) (local $c i32) (local $rowStart i32) (local $rowCount i32)
    (block $fail
      (loop $row
        ;; (whitespace is rare between tokens: $ws is called only on a byte that may be some)
        (if (i32.le_u (i32.load8_u (local.get $p)) (i32.const 32)) (then (local.set $p (call $ws (local.get $p)))))
        (br_if $fail (i32.ne (i32.load8_u (local.get $p)) (i32.const 91))) ;; [
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.le_u (i32.load8_u (local.get $p)) (i32.const 32)) (then (local.set $p (call $ws (local.get $p)))))
        (local.set $rowStart (local.get $n))
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 93)) ;; ]
          (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
          (else
            (loop $value
              (if (i32.le_u (i32.load8_u (local.get $p)) (i32.const 32)) (then (local.set $p (call $ws (local.get $p)))))
              (br_if $fail (i32.ge_u (local.get $n) (local.get $cap)))
              (local.set $p (call $number (local.get $p) (i32.add (local.get $values) (i32.shl (local.get $n) (i32.const 2)))))
              (br_if $fail (i32.eqz (local.get $p)))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (if (i32.le_u (i32.load8_u (local.get $p)) (i32.const 32)) (then (local.set $p (call $ws (local.get $p)))))
              (local.set $c (i32.load8_u (local.get $p)))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br_if $value (i32.eq (local.get $c) (i32.const 44))) ;; ,
              (br_if $fail (i32.ne (local.get $c) (i32.const 93))))))
        (br_if $fail (i32.ge_u (local.get $rowCount) (local.get $rowCap)))
        (i32.store (i32.add (local.get $rows) (i32.shl (local.get $rowCount) (i32.const 2))) (i32.sub (local.get $n) (local.get $rowStart)))
        (local.set $rowCount (i32.add (local.get $rowCount) (i32.const 1)))
        (if (i32.le_u (i32.load8_u (local.get $p)) (i32.const 32)) (then (local.set $p (call $ws (local.get $p)))))
        (local.set $c (i32.load8_u (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br_if $row (i32.eq (local.get $c) (i32.const 44)))
        (br_if $fail (i32.ne (local.get $c) (i32.const 93))))
      (global.set $pos (local.get $p))
      (global.set $rowCount (local.get $rowCount))
      (return (local.get $n)))
    (i32.const -1))
)
