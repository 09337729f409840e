;; LearnedDropout's element loops in WebAssembly SIMD (f64x2: two float32 elements per step, the
;; arithmetic in float64 exactly as learnedDropout.ts/kernels.ts do it, with the same polynomials).
;; Imports tfjs-wasm's own memory: every pointer is a byte offset into its heap.
;; Built by scripts/build-wasm.mjs (wabt) into engine/src/ops/ldWasmBinary.ts.
(module
  (import "env" "mem" (memory 1 MEMMAX))
  ;; outputs besides the buffers: the entropy and L1 sums, and the largest |k| of the sin/cos
  ;; reduction (the caller redoes the site in JS when it exceeds 1e6, as sinCos() falls back to Math)
  (global $hsum (export "hsum") (mut f64) (f64.const 0))
  (global $l1sum (export "l1sum") (mut f64) (f64.const 0))
  (global $kmax (export "kmax") (mut f64) (f64.const 0))

  ;; ln v for positive normal float32 values (two lanes), tables at $tab: LOG_C[128] then INV_C[128]
  (func $flog (param $v v128) (param $tab i32) (result v128)
    (local $b v128) (local $i v128) (local $t v128) (local $lc v128) (local $ic v128) (local $p i32)
    (local.set $b (f32x4.demote_f64x2_zero (local.get $v)))
    (local.set $i (v128.and (i32x4.shr_s (local.get $b) (i32.const 16)) (i32x4.splat (i32.const 127))))
    (local.set $p (i32.add (local.get $tab) (i32.shl (i32x4.extract_lane 0 (local.get $i)) (i32.const 3))))
    (local.set $lc (f64x2.splat (f64.load (local.get $p))))
    (local.set $ic (f64x2.splat (f64.load offset=1024 (local.get $p))))
    (local.set $p (i32.add (local.get $tab) (i32.shl (i32x4.extract_lane 1 (local.get $i)) (i32.const 3))))
    (local.set $lc (f64x2.replace_lane 1 (local.get $lc) (f64.load (local.get $p))))
    (local.set $ic (f64x2.replace_lane 1 (local.get $ic) (f64.load offset=1024 (local.get $p))))
    (local.set $t
      (f64x2.sub
        (f64x2.mul
          (f64x2.add (f64x2.splat (f64.const 1))
            (f64x2.mul (f64x2.convert_low_i32x4_s (v128.and (local.get $b) (i32x4.splat (i32.const 0x7fffff))))
                       (f64x2.splat (f64.const 1.1920928955078125e-7))))
          (local.get $ic))
        (f64x2.splat (f64.const 1))))
    (f64x2.add
      (f64x2.add
        (f64x2.mul (f64x2.convert_low_i32x4_s (i32x4.sub (i32x4.shr_s (local.get $b) (i32.const 23)) (i32x4.splat (i32.const 127))))
                   (f64x2.splat (f64.const 0.6931471805599453)))
        (local.get $lc))
      (f64x2.mul (local.get $t)
        (f64x2.sub (f64x2.splat (f64.const 1))
          (f64x2.mul (local.get $t)
            (f64x2.sub (f64x2.splat (f64.const 0.5))
              (f64x2.mul (local.get $t)
                (f64x2.sub (f64x2.splat (f64.const 0.3333333333333333))
                  (f64x2.mul (local.get $t) (f64x2.splat (f64.const 0.25)))))))))))

  ;; sin and cos of z (two lanes): Cody–Waite by π/2, polynomials on [−π/4, π/4], quadrant by
  ;; arithmetic. Updates $kmax.
  (func $sincos (param $z v128) (result v128 v128)
    (local $k v128) (local $r v128) (local $r2 v128) (local $r4 v128) (local $sn v128) (local $cs v128)
    (local $h v128) (local $odd v128) (local $even v128) (local $ss v128) (local $cc v128)
    (local.set $k (f64x2.floor (f64x2.add (f64x2.mul (local.get $z) (f64x2.splat (f64.const 0.6366197723675814))) (f64x2.splat (f64.const 0.5)))))
    (global.set $kmax (f64.max (global.get $kmax)
      (f64.max (f64.abs (f64x2.extract_lane 0 (local.get $k))) (f64.abs (f64x2.extract_lane 1 (local.get $k))))))
    (local.set $r (f64x2.sub (f64x2.sub (local.get $z) (f64x2.mul (local.get $k) (f64x2.splat (f64.const 1.5707963267341256))))
                             (f64x2.mul (local.get $k) (f64x2.splat (f64.const 6.077100506506192e-11)))))
    (local.set $r2 (f64x2.mul (local.get $r) (local.get $r)))
    (local.set $r4 (f64x2.mul (local.get $r2) (local.get $r2)))
    (local.set $sn (f64x2.mul (local.get $r)
      (f64x2.add (f64x2.sub (f64x2.splat (f64.const 1)) (f64x2.div (local.get $r2) (f64x2.splat (f64.const 6))))
        (f64x2.mul (local.get $r4)
          (f64x2.add (f64x2.sub (f64x2.splat (f64.const 0.008333333333333333)) (f64x2.div (local.get $r2) (f64x2.splat (f64.const 5040))))
                     (f64x2.div (local.get $r4) (f64x2.splat (f64.const 362880))))))))
    (local.set $cs
      (f64x2.add (f64x2.sub (f64x2.splat (f64.const 1)) (f64x2.mul (f64x2.splat (f64.const 0.5)) (local.get $r2)))
        (f64x2.mul (local.get $r4)
          (f64x2.add (f64x2.sub (f64x2.splat (f64.const 0.041666666666666664)) (f64x2.div (local.get $r2) (f64x2.splat (f64.const 720))))
                     (f64x2.div (local.get $r4) (f64x2.splat (f64.const 40320)))))))
    ;; odd = k mod 2; sin sign from floor(k/2) mod 2, cos sign from floor((k+1)/2) mod 2
    (local.set $h (f64x2.floor (f64x2.mul (local.get $k) (f64x2.splat (f64.const 0.5)))))
    (local.set $odd (f64x2.sub (local.get $k) (f64x2.add (local.get $h) (local.get $h))))
    (local.set $even (f64x2.sub (f64x2.splat (f64.const 1)) (local.get $odd)))
    (local.set $ss (f64x2.sub (f64x2.splat (f64.const 1))
      (f64x2.mul (f64x2.splat (f64.const 2))
        (f64x2.sub (local.get $h) (f64x2.mul (f64x2.splat (f64.const 2)) (f64x2.floor (f64x2.mul (local.get $h) (f64x2.splat (f64.const 0.5)))))))))
    (local.set $h (f64x2.floor (f64x2.mul (f64x2.add (local.get $k) (f64x2.splat (f64.const 1))) (f64x2.splat (f64.const 0.5)))))
    (local.set $cc (f64x2.sub (f64x2.splat (f64.const 1))
      (f64x2.mul (f64x2.splat (f64.const 2))
        (f64x2.sub (local.get $h) (f64x2.mul (f64x2.splat (f64.const 2)) (f64x2.floor (f64x2.mul (local.get $h) (f64x2.splat (f64.const 0.5)))))))))
    (f64x2.mul (local.get $ss) (f64x2.add (f64x2.mul (local.get $odd) (local.get $cs)) (f64x2.mul (local.get $even) (local.get $sn))))
    (f64x2.mul (local.get $cc) (f64x2.add (f64x2.mul (local.get $odd) (local.get $sn)) (f64x2.mul (local.get $even) (local.get $cs)))))

  ;; One element pair's mask at z: stores m (at $m if nonzero), q = −½ sin z and r = q·∂P/∂m (at $q, $r
  ;; if nonzero; r = 0 without penalties) and adds the penalty terms to $hacc/$lacc (via globals).
  ;; Returns m.
  (func $mask2 (param $z v128) (param $mo i32) (param $qo i32) (param $ro i32)
               (param $gH f64) (param $gL1 f64) (param $compl i32) (param $pen i32) (param $tab i32) (param $two i32) (result v128)
    (local $s v128) (local $c v128) (local $m v128) (local $qv v128) (local $p v128) (local $v v128)
    (local $lg v128) (local $dh v128) (local $g v128)
    (call $sincos (local.get $z))
    (local.set $c) (local.set $s)
    (local.set $m (f64x2.add (f64x2.mul (f64x2.splat (f64.const 0.5)) (local.get $c)) (f64x2.splat (f64.const 0.5))))
    (local.set $qv (f64x2.mul (f64x2.splat (f64.const -0.5)) (local.get $s)))
    (if (local.get $mo) (then (call $st (local.get $mo) (local.get $m) (local.get $two))))
    (if (local.get $pen)
      (then
        (local.set $p (select (result v128) (f64x2.sub (f64x2.splat (f64.const 1)) (local.get $m)) (local.get $m) (local.get $compl)))
        (local.set $v (f64x2.add (local.get $p) (f64x2.splat (f64.const 1e-9))))
        (local.set $lg (call $flog (local.get $v) (local.get $tab)))
        (global.set $hsum (f64.add (global.get $hsum)
          (f64x2.extract_lane 0 (local.tee $s (f64x2.mul (f64x2.neg (local.get $p)) (local.get $lg))))))
        (global.set $l1sum (f64.add (global.get $l1sum) (f64x2.extract_lane 0 (local.get $m))))
        (if (local.get $two) (then
          (global.set $hsum (f64.add (global.get $hsum) (f64x2.extract_lane 1 (local.get $s))))
          (global.set $l1sum (f64.add (global.get $l1sum) (f64x2.extract_lane 1 (local.get $m))))))
        (local.set $dh (f64x2.neg (f64x2.add (local.get $lg) (f64x2.div (local.get $p) (local.get $v)))))
        (local.set $g (f64x2.add
          (f64x2.mul (f64x2.splat (local.get $gH)) (select (result v128) (f64x2.neg (local.get $dh)) (local.get $dh) (local.get $compl)))
          (f64x2.splat (local.get $gL1)))))
      (else (local.set $g (f64x2.splat (f64.const 0)))))
    (if (local.get $qo)
      (then
        (call $st (local.get $qo) (local.get $qv) (local.get $two))
        (call $st (local.get $ro) (f64x2.mul (local.get $qv) (local.get $g)) (local.get $two))))
    (local.get $m))

;; stores two lanes (or lane 0 only) as float32 at $p
  (func $st (param $p i32) (param $v v128) (param $two i32)
    (if (local.get $two)
      (then (v128.store64_lane 0 (local.get $p) (f32x4.demote_f64x2_zero (local.get $v))))
      (else (f32.store (local.get $p) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $v)))))))

  (func $promote (param $p i32) (result v128)
    (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))

  ;; fusedLearnedDropout's forward: N elements (N/n rows of n, n even); m, q, r may be 0 (absent).
  (func (export "fwd") (param $x i32) (param $a i32) (param $b i32) (param $y i32) (param $m i32) (param $q i32) (param $r i32)
                       (param $N i32) (param $n i32) (param $gH f64) (param $gL1 f64) (param $compl i32) (param $pen i32) (param $tab i32)
    (local $e i32) (local $j i32) (local $xv v128) (local $mv v128)
    (global.set $hsum (f64.const 0)) (global.set $l1sum (f64.const 0)) (global.set $kmax (f64.const 0))
    (block $done
      (loop $lp
        (br_if $done (i32.ge_u (local.get $e) (local.get $N)))
        (local.set $xv (call $promote (i32.add (local.get $x) (i32.shl (local.get $e) (i32.const 2)))))
        (local.set $mv (call $mask2
          (f64x2.add (f64x2.mul (call $promote (i32.add (local.get $a) (i32.shl (local.get $j) (i32.const 2)))) (local.get $xv))
                     (call $promote (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2)))))
          (select (i32.add (local.get $m) (i32.shl (local.get $e) (i32.const 2))) (i32.const 0) (local.get $m))
          (select (i32.add (local.get $q) (i32.shl (local.get $e) (i32.const 2))) (i32.const 0) (local.get $q))
          (i32.add (local.get $r) (i32.shl (local.get $e) (i32.const 2)))
          (local.get $gH) (local.get $gL1) (local.get $compl) (local.get $pen) (local.get $tab) (i32.const 1)))
        (v128.store64_lane 0 (i32.add (local.get $y) (i32.shl (local.get $e) (i32.const 2)))
          (f32x4.demote_f64x2_zero (f64x2.mul (local.get $xv) (local.get $mv))))
        (local.set $e (i32.add (local.get $e) (i32.const 2)))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (if (i32.eq (local.get $j) (local.get $n)) (then (local.set $j (i32.const 0))))
        (br $lp))))

  ;; fusedLearnedDropout's backward: dx = dy ⊙ m; t = dy·x·q + r; dA[j] += t·x, dB[j] += t (float64
  ;; accumulators at $dA, $dB, n each, zeroed by the caller).
  (func (export "bwd") (param $dy i32) (param $x i32) (param $m i32) (param $q i32) (param $r i32) (param $dx i32)
                       (param $dA i32) (param $dB i32) (param $N i32) (param $n i32)
    (local $e i32) (local $j i32) (local $o i32) (local $xv v128) (local $g v128) (local $t v128) (local $pa i32) (local $pb i32)
    (block $done
      (loop $lp
        (br_if $done (i32.ge_u (local.get $e) (local.get $N)))
        (local.set $o (i32.shl (local.get $e) (i32.const 2)))
        (local.set $xv (call $promote (i32.add (local.get $x) (local.get $o))))
        (local.set $g (call $promote (i32.add (local.get $dy) (local.get $o))))
        (local.set $t (f64x2.add (f64x2.mul (f64x2.mul (local.get $g) (local.get $xv)) (call $promote (i32.add (local.get $q) (local.get $o))))
                                 (call $promote (i32.add (local.get $r) (local.get $o)))))
        (local.set $pa (i32.add (local.get $dA) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $pb (i32.add (local.get $dB) (i32.shl (local.get $j) (i32.const 3))))
        (v128.store (local.get $pa) (f64x2.add (v128.load (local.get $pa)) (f64x2.mul (local.get $t) (local.get $xv))))
        (v128.store (local.get $pb) (f64x2.add (v128.load (local.get $pb)) (local.get $t)))
        (v128.store64_lane 0 (i32.add (local.get $dx) (local.get $o))
          (f32x4.demote_f64x2_zero (f64x2.mul (local.get $g) (call $promote (i32.add (local.get $m) (local.get $o))))))
        (local.set $e (i32.add (local.get $e) (i32.const 2)))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (if (i32.eq (local.get $j) (local.get $n)) (then (local.set $j (i32.const 0))))
        (br $lp))))
;; e^x for x ≤ 0 (two lanes), as kernels.ts fexp; below −708 it returns 0 (fexp: subnormal
  ;; values that vanish in float32)
  (func $fexp (param $x v128) (result v128)
    (local $t v128) (local $n v128) (local $f v128) (local $p v128)
    (local.set $t (f64x2.mul (f64x2.pmax (local.get $x) (f64x2.splat (f64.const -708))) (f64x2.splat (f64.const 1.4426950408889634))))
    (local.set $n (f64x2.floor (f64x2.add (local.get $t) (f64x2.splat (f64.const 0.5)))))
    (local.set $f (f64x2.mul (f64x2.sub (local.get $t) (local.get $n)) (f64x2.splat (f64.const 0.6931471805599453))))
    (local.set $p
      (f64x2.add (f64x2.splat (f64.const 1)) (f64x2.mul (local.get $f)
      (f64x2.add (f64x2.splat (f64.const 1)) (f64x2.mul (local.get $f)
      (f64x2.add (f64x2.splat (f64.const 0.5)) (f64x2.mul (local.get $f)
      (f64x2.add (f64x2.splat (f64.const 0.16666666666666666)) (f64x2.mul (local.get $f)
      (f64x2.add (f64x2.splat (f64.const 0.041666666666666664)) (f64x2.mul (local.get $f)
      (f64x2.add (f64x2.splat (f64.const 0.008333333333333333)) (f64x2.mul (local.get $f)
      (f64x2.add (f64x2.splat (f64.const 0.001388888888888889)) (f64x2.mul (local.get $f) (f64x2.splat (f64.const 0.0001984126984126984)))))))))))))))))
    ;; 2^n from the exponent bits
    (v128.and
      (f64x2.mul (local.get $p)
        (i64x2.shl (i64x2.add (i64x2.extend_low_i32x4_s (i32x4.trunc_sat_f64x2_s_zero (local.get $n))) (i64x2.splat (i64.const 1023))) (i32.const 52)))
      (f64x2.ge (local.get $x) (f64x2.splat (f64.const -708)))))

  ;; attentionProbs' forward over rows of T (query position i = row mod T sees keys 0..i):
  ;; p = softmax(scale·s) on the visible part, then the mask at z = A·p + B; above the diagonal
  ;; y = 0 and m = m0 (float32, T). p, q, r and m may be 0 (absent). $ex: T + 1 float64 of scratch
  ;; (the last pair of an odd row writes one past its end).
  ;; The penalty sums start from h0, l0 (the caller's closed-form part).
  (func (export "attnFwd") (param $s i32) (param $a i32) (param $b i32) (param $y i32) (param $m i32) (param $pp i32) (param $q i32) (param $r i32)
        (param $rows i32) (param $T i32) (param $scale f64) (param $gH f64) (param $gL1 f64) (param $compl i32) (param $pen i32) (param $tab i32)
        (param $ex i32) (param $m0 i32) (param $h0 f64) (param $l0 f64)
    (local $row i32) (local $i i32) (local $j i32) (local $o i32) (local $mx f64) (local $sum f64) (local $two i32)
    (local $e v128) (local $pv v128) (local $mv v128) (local $inv v128) (local $rest i32)
    (global.set $hsum (local.get $h0)) (global.set $l1sum (local.get $l0)) (global.set $kmax (f64.const 0))
    (block $rdone (loop $rlp
      (br_if $rdone (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $i (i32.rem_u (local.get $row) (local.get $T)))
      (local.set $o (i32.shl (i32.mul (local.get $row) (local.get $T)) (i32.const 2))) ;; byte offset of the row
      ;; max over the visible keys
      (local.set $mx (f64.const -inf))
      (local.set $j (i32.const 0))
      (loop $mlp
        (local.set $mx (f64.max (local.get $mx) (f64.promote_f32 (f32.load (i32.add (local.get $s) (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2))))))))
        (br_if $mlp (i32.le_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $i))))
      ;; exponentials and their sum (in key order)
      (local.set $sum (f64.const 0))
      (local.set $j (i32.const 0))
      (loop $elp
        (local.set $two (i32.lt_u (local.get $j) (local.get $i)))
        (local.set $e (call $fexp (f64x2.mul (f64x2.sub (call $promote (i32.add (local.get $s) (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2)))))
                                                        (f64x2.splat (local.get $mx))) (f64x2.splat (local.get $scale)))))
        (v128.store (i32.add (local.get $ex) (i32.shl (local.get $j) (i32.const 3))) (local.get $e))
        (local.set $sum (f64.add (local.get $sum) (f64x2.extract_lane 0 (local.get $e))))
        (if (local.get $two) (then (local.set $sum (f64.add (local.get $sum) (f64x2.extract_lane 1 (local.get $e))))))
        (br_if $elp (i32.le_u (local.tee $j (i32.add (local.get $j) (i32.const 2))) (local.get $i))))
      (local.set $inv (f64x2.splat (f64.div (f64.const 1) (local.get $sum))))
      ;; probabilities and the mask
      (local.set $j (i32.const 0))
      (loop $plp
        (local.set $two (i32.lt_u (local.get $j) (local.get $i)))
        (local.set $pv (f64x2.mul (v128.load (i32.add (local.get $ex) (i32.shl (local.get $j) (i32.const 3)))) (local.get $inv)))
        (local.set $mv (call $mask2
          (f64x2.add (f64x2.mul (call $promote (i32.add (local.get $a) (i32.shl (local.get $j) (i32.const 2)))) (local.get $pv))
                     (call $promote (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2)))))
          (select (i32.add (local.get $m) (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2)))) (i32.const 0) (local.get $m))
          (select (i32.add (local.get $q) (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2)))) (i32.const 0) (local.get $pp))
          (i32.add (local.get $r) (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2))))
          (local.get $gH) (local.get $gL1) (local.get $compl) (local.get $pen) (local.get $tab) (local.get $two)))
        (call $st (i32.add (local.get $y) (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2)))) (f64x2.mul (local.get $pv) (local.get $mv)) (local.get $two))
        (if (local.get $pp) (then (call $st (i32.add (local.get $pp) (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2)))) (local.get $pv) (local.get $two))))
        (br_if $plp (i32.le_u (local.tee $j (i32.add (local.get $j) (i32.const 2))) (local.get $i))))
      ;; above the diagonal
      (local.set $j (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 2)))
      (local.set $rest (i32.sub (i32.shl (local.get $T) (i32.const 2)) (local.get $j)))
      (memory.fill (i32.add (local.get $y) (i32.add (local.get $o) (local.get $j))) (i32.const 0) (local.get $rest))
      (if (local.get $m) (then (memory.copy (i32.add (local.get $m) (i32.add (local.get $o) (local.get $j))) (i32.add (local.get $m0) (local.get $j)) (local.get $rest))))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rlp))))
;; attentionProbs' backward: through the mask (t = dy·p·q + r; dA[j] += t·p, dB[j] += t) and the
  ;; softmax (dS = scale·p ⊙ (dp − Σ dp·p), dp = dy ⊙ m); 0 above the diagonal. dA, dB: float64
  ;; accumulators (T + 1 each, set by the caller); $dp: T + 1 float64 of scratch.
  (func (export "attnBwd") (param $dy i32) (param $pp i32) (param $m i32) (param $q i32) (param $r i32) (param $ds i32)
        (param $dA i32) (param $dB i32) (param $dp i32) (param $rows i32) (param $T i32) (param $scale f64)
    (local $row i32) (local $i i32) (local $j i32) (local $o i32) (local $two i32) (local $dot f64) (local $rest i32)
    (local $x v128) (local $g v128) (local $t v128) (local $d v128) (local $lanes v128) (local $pa i32) (local $pb i32) (local $eo i32)
    (block $rdone (loop $rlp
      (br_if $rdone (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $i (i32.rem_u (local.get $row) (local.get $T)))
      (local.set $o (i32.shl (i32.mul (local.get $row) (local.get $T)) (i32.const 2)))
      (local.set $dot (f64.const 0))
      (local.set $j (i32.const 0))
      (loop $lp
        (local.set $two (i32.lt_u (local.get $j) (local.get $i)))
        (local.set $lanes (select (result v128) (v128.const i64x2 -1 -1) (v128.const i64x2 -1 0) (local.get $two)))
        (local.set $eo (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2))))
        (local.set $x (v128.and (call $promote (i32.add (local.get $pp) (local.get $eo))) (local.get $lanes)))
        (local.set $g (v128.and (call $promote (i32.add (local.get $dy) (local.get $eo))) (local.get $lanes)))
        (local.set $t (v128.and (local.get $lanes)
          (f64x2.add (f64x2.mul (f64x2.mul (local.get $g) (local.get $x)) (call $promote (i32.add (local.get $q) (local.get $eo))))
                     (call $promote (i32.add (local.get $r) (local.get $eo))))))
        (local.set $pa (i32.add (local.get $dA) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $pb (i32.add (local.get $dB) (i32.shl (local.get $j) (i32.const 3))))
        (v128.store (local.get $pa) (f64x2.add (v128.load (local.get $pa)) (f64x2.mul (local.get $t) (local.get $x))))
        (v128.store (local.get $pb) (f64x2.add (v128.load (local.get $pb)) (local.get $t)))
        (local.set $d (v128.and (local.get $lanes) (f64x2.mul (local.get $g) (call $promote (i32.add (local.get $m) (local.get $eo))))))
        (v128.store (i32.add (local.get $dp) (i32.shl (local.get $j) (i32.const 3))) (local.get $d))
        (local.set $t (f64x2.mul (local.get $d) (local.get $x)))
        (local.set $dot (f64.add (local.get $dot) (f64x2.extract_lane 0 (local.get $t))))
        (if (local.get $two) (then (local.set $dot (f64.add (local.get $dot) (f64x2.extract_lane 1 (local.get $t))))))
        (br_if $lp (i32.le_u (local.tee $j (i32.add (local.get $j) (i32.const 2))) (local.get $i))))
      (local.set $j (i32.const 0))
      (loop $slp
        (local.set $two (i32.lt_u (local.get $j) (local.get $i)))
        (local.set $eo (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2))))
        (call $st (i32.add (local.get $ds) (local.get $eo))
          (f64x2.mul (f64x2.mul (f64x2.splat (local.get $scale)) (call $promote (i32.add (local.get $pp) (local.get $eo))))
                     (f64x2.sub (v128.load (i32.add (local.get $dp) (i32.shl (local.get $j) (i32.const 3)))) (f64x2.splat (local.get $dot))))
          (local.get $two))
        (br_if $slp (i32.le_u (local.tee $j (i32.add (local.get $j) (i32.const 2))) (local.get $i))))
      (local.set $j (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 2)))
      (memory.fill (i32.add (local.get $ds) (i32.add (local.get $o) (local.get $j))) (i32.const 0)
                   (i32.sub (i32.shl (local.get $T) (i32.const 2)) (local.get $j)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rlp))))
)
