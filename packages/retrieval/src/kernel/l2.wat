;; The distance kernels of every anchorage index, in WebAssembly with 128-bit SIMD: exact squared L2
;; over float32 rows (`l2`) and its int8 estimate over coded rows (`int8`, the compressed stage 2).
;; l2.ts embeds the binary of this module; rebuild it with wabt after an edit:
;;   wat2wasm --enable-simd --enable-threads l2.wat -o l2.wasm && base64 -w0 l2.wasm
;; and keep l2.ts's squaredL2 (the same arithmetic in JavaScript) in step: a test checks they agree bit for bit.
;; The memory is shared, so worker threads run the same kernel over the same rows (each thread
;; passes its own query and output areas).
(module
  (import "env" "memory" (memory 1 65536 shared))
  ;; out[r] = Σ_j (q[j] - x[r·dim + j])² for r in 0..rows-1, in f32 lanes: j ≡ lane (mod 4), then (l0 + l1) + (l2 + l3), then the tail.
  (func (export "l2") (param $q i32) (param $x i32) (param $rows i32) (param $dim i32) (param $out i32)
    (local $r i32) (local $j i32) (local $end4 i32) (local $acc v128) (local $acc2 v128) (local $d v128) (local $s f32) (local $t f32) (local $end8 i32)
    (local.set $end8 (i32.shl (i32.and (local.get $dim) (i32.const -8)) (i32.const 2)))
    (local.set $end4 (i32.shl (i32.and (local.get $dim) (i32.const -4)) (i32.const 2)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $acc2 (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $b8 (loop $l8
          (br_if $b8 (i32.ge_u (local.get $j) (local.get $end8)))
          (local.set $d (f32x4.sub (v128.load (i32.add (local.get $q) (local.get $j))) (v128.load (i32.add (local.get $x) (local.get $j)))))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $d) (local.get $d))))
          (local.set $d (f32x4.sub (v128.load offset=16 (i32.add (local.get $q) (local.get $j))) (v128.load offset=16 (i32.add (local.get $x) (local.get $j)))))
          (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (local.get $d) (local.get $d))))
          (local.set $j (i32.add (local.get $j) (i32.const 32)))
          (br $l8)))
        (block $b4 (loop $l4
          (br_if $b4 (i32.ge_u (local.get $j) (local.get $end4)))
          (local.set $d (f32x4.sub (v128.load (i32.add (local.get $q) (local.get $j))) (v128.load (i32.add (local.get $x) (local.get $j)))))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $d) (local.get $d))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $l4)))
        (local.set $acc (f32x4.add (local.get $acc) (local.get $acc2)))
        (local.set $s (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
          (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (block $bt (loop $lt
          (br_if $bt (i32.ge_u (local.get $j) (i32.shl (local.get $dim) (i32.const 2))))
          (local.set $t (f32.sub (f32.load (i32.add (local.get $q) (local.get $j))) (f32.load (i32.add (local.get $x) (local.get $j)))))
          (local.set $s (f32.add (local.get $s) (f32.mul (local.get $t) (local.get $t))))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $lt)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2))) (local.get $s))
        (local.set $x (i32.add (local.get $x) (i32.shl (local.get $dim) (i32.const 2))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows)))
  )
  ;; The estimated squared distance of int8-coded rows (the compressed stage 2). A row is `stride` bytes:
  ;; [f32 scale, f32 squared norm, 8 spare bytes, stride - 16 int8 codes (zero padded)]; the query is
  ;; stride - 16 int16 values. out[r] = (qn + norm[r]) - (qs2 · scale[r]) · f32(Σ_j q[j]·code[r][j]),
  ;; the dot product exact in i32 lanes (the caller bounds the query so it cannot overflow).
  (func (export "int8") (param $q i32) (param $x i32) (param $rows i32) (param $stride i32) (param $out i32) (param $qn f32) (param $qs2 f32)
    (local $r i32) (local $j i32) (local $bytes i32) (local $acc v128) (local $c v128) (local $codes i32) (local $acc2 v128) (local $c2 v128) (local $p i32)
    (local.set $bytes (i32.sub (local.get $stride) (i32.const 16)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $codes (i32.add (local.get $x) (i32.const 16)))
        (local.set $j (i32.const 0))
        ;; 32 codes per step while they last (two independent accumulators), then 16
        (local.set $acc2 (v128.const i32x4 0 0 0 0))
        (local.set $p (local.get $q))
        (block $b32 (loop $l32
          (br_if $b32 (i32.gt_u (i32.add (local.get $j) (i32.const 32)) (local.get $bytes)))
          (local.set $c (v128.load (i32.add (local.get $codes) (local.get $j))))
          (local.set $c2 (v128.load offset=16 (i32.add (local.get $codes) (local.get $j))))
          (local.set $acc (i32x4.add (local.get $acc)
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $c)) (v128.load (local.get $p)))))
          (local.set $acc2 (i32x4.add (local.get $acc2)
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $c)) (v128.load offset=16 (local.get $p)))))
          (local.set $acc (i32x4.add (local.get $acc)
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $c2)) (v128.load offset=32 (local.get $p)))))
          (local.set $acc2 (i32x4.add (local.get $acc2)
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $c2)) (v128.load offset=48 (local.get $p)))))
          (local.set $j (i32.add (local.get $j) (i32.const 32)))
          (local.set $p (i32.add (local.get $p) (i32.const 64)))
          (br $l32)))
        (if (i32.lt_u (local.get $j) (local.get $bytes))
          (then
            (local.set $c (v128.load (i32.add (local.get $codes) (local.get $j))))
            (local.set $acc (i32x4.add (local.get $acc)
              (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $c)) (v128.load (local.get $p)))))
            (local.set $acc2 (i32x4.add (local.get $acc2)
              (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $c)) (v128.load offset=16 (local.get $p)))))))
        (local.set $acc (i32x4.add (local.get $acc) (local.get $acc2)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2)))
          (f32.sub
            (f32.add (local.get $qn) (f32.load offset=4 (local.get $x)))
            (f32.mul
              (f32.mul (local.get $qs2) (f32.load (local.get $x)))
              (f32.convert_i32_s (i32.add
                (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
                (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc))))))))
        (local.set $x (i32.add (local.get $x) (local.get $stride)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows)))
  )
)
