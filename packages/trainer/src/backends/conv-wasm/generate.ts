/**
 * Generates the WebAssembly text of the trainer's convolution kernels (128-bit SIMD, imports the
 * wasm backend's own memory, no data segments, no stack): a strided GEMM micro-kernel, Winograd
 * F(2×2, 3×3) and F(4×4, 3×3) transforms, a column sum and a 2×2 max-pool gradient.
 *
 * The transforms are written out from their matrices here, so the arithmetic is visible in one
 * place; `build.ts` compiles the text with wabt into `module.ts`, and a test checks that the
 * embedded bytes are this generator's output.
 */

/** The Winograd matrices of F(m×m, 3×3): input transform Bᵀ (α×α), filter G (α×3), output Aᵀ (m×α). */
export interface WinogradMatrices {
  readonly m: number;
  readonly alpha: number;
  readonly BT: readonly (readonly number[])[];
  readonly G: readonly (readonly number[])[];
  readonly AT: readonly (readonly number[])[];
}

export const WINOGRAD_2: WinogradMatrices = {
  m: 2,
  alpha: 4,
  BT: [
    [1, 0, -1, 0],
    [0, 1, 1, 0],
    [0, -1, 1, 0],
    [0, 1, 0, -1],
  ],
  G: [
    [1, 0, 0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0, 0, 1],
  ],
  AT: [
    [1, 1, 1, 0],
    [0, 1, -1, -1],
  ],
};

export const WINOGRAD_4: WinogradMatrices = {
  m: 4,
  alpha: 6,
  BT: [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
  ],
  G: [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ],
  AT: [
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 0],
    [0, 1, 1, 4, 4, 0],
    [0, 1, -1, 8, -8, 1],
  ],
};

const get = (name: string) => `(local.get $${name})`;
const splat = (c: number) => {
  const s = Math.fround(c).toPrecision(9);
  return `(v128.const f32x4 ${s} ${s} ${s} ${s})`;
};

/** Σ coefs[i]·terms[i] as one f32x4 expression, skipping zero coefficients. */
function lin(coefs: readonly number[], terms: readonly string[]): string {
  let expr: string | null = null;
  coefs.forEach((c, i) => {
    if (c === 0) return;
    const t = terms[i]!;
    const mag = Math.abs(c) === 1 ? t : `(f32x4.mul ${t} ${splat(Math.abs(c))})`;
    if (expr === null) expr = c < 0 ? `(f32x4.neg ${mag})` : mag;
    else expr = `(${c < 0 ? 'f32x4.sub' : 'f32x4.add'} ${expr} ${mag})`;
  });
  return expr ?? '(v128.const i32x4 0 0 0 0)';
}

const locals = (prefix: string, count: number, type = 'v128') =>
  Array.from({ length: count }, (_, i) => `(local $${prefix}${i} ${type})`).join(' ');
const column = (matrix: readonly (readonly number[])[], j: number) => matrix.map((row) => row[j]!);

/** Decomposes tile index t0 + t into (n, ty, tx) and sets $n, $ty, $tx. */
const tileIndex = `
      (local.set $tt (i32.add (local.get $t0) (local.get $t)))
      (local.set $n (i32.div_u (local.get $tt) (local.get $per)))
      (local.set $r (i32.sub (local.get $tt) (i32.mul (local.get $n) (local.get $per))))
      (local.set $ty (i32.div_u (local.get $r) (local.get $tw)))
      (local.set $tx (i32.sub (local.get $r) (i32.mul (local.get $ty) (local.get $tw))))`;
const tileLocals =
  '(local $t i32) (local $tt i32) (local $n i32) (local $r i32) (local $ty i32) (local $tx i32) (local $per i32) (local $c i32) (local $cb i32) (local $rs i32) (local $p i32) (local $q i32)';

/**
 * A function that loops over tiles t < count (tile t0 + t is decomposed into $n, $ty, $tx) and,
 * per tile, over channel groups $c (bytes, step 16) up to $cb = C·4; $rs = rowWidth·$cb.
 */
function tiledFunction(spec: {
  name: string;
  params: string;
  locals: string;
  rowWidth: string;
  perTile: string;
  body: string;
}): string {
  return `
  (func (export "${spec.name}") ${spec.params}
    ${tileLocals} ${spec.locals}
    (local.set $per (i32.mul (local.get $th) (local.get $tw)))
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $rs (i32.mul (local.get $${spec.rowWidth}) (local.get $cb)))
    (block $tilesDone (loop $tiles
      (br_if $tilesDone (i32.ge_u (local.get $t) (local.get $count)))${tileIndex}${spec.perTile}
      (local.set $c (i32.const 0))
      (block $chDone (loop $ch
        (br_if $chDone (i32.ge_u (local.get $c) (local.get $cb)))${spec.body}
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $ch)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tiles))))`;
}

/**
 * win{m}_in(P, C, Wp, Hp, th, tw, t0, count, V, vs): for tiles t0..t0+count of the zero-padded
 * NHWC input P (N×Hp×Wp×C, C a multiple of 4), V[ξ][t][c] = (Bᵀ d B)[ξ] at V + ξ·vs + t·C·4.
 */
function inputTransform(w: WinogradMatrices): string {
  const { m, alpha: a, BT } = w;
  const d = Array.from({ length: a }, (_, j) => get(`d${j}`));
  let body = '';
  for (let i = 0; i < a; i++) {
    body += `\n          (local.set $p (i32.add (local.get $org) (i32.add (local.get $c) (i32.mul (i32.const ${i}) (local.get $rs)))))`;
    for (let j = 0; j < a; j++) {
      body += `\n          (local.set $d${j} (v128.load ${j === 0 ? get('p') : `(i32.add ${get('p')} (i32.mul (i32.const ${j}) (local.get $cb)))`}))`;
    }
    for (let b = 0; b < a; b++) body += `\n          (local.set $T${i * a + b} ${lin(BT[b]!, d)})`;
  }
  body += `\n          (local.set $q (i32.add (local.get $dst) (local.get $c)))`;
  for (let x = 0; x < a; x++) {
    for (let b = 0; b < a; b++) {
      const col = Array.from({ length: a }, (_, i) => get(`T${i * a + b}`));
      body += `\n          (v128.store (local.get $q) ${lin(BT[x]!, col)})`;
      body += `\n          (local.set $q (i32.add (local.get $q) (local.get $vs)))`;
    }
  }
  return tiledFunction({
    name: `win${m}_in`,
    params:
      '(param $P i32) (param $C i32) (param $Wp i32) (param $Hp i32) (param $th i32) (param $tw i32) (param $t0 i32) (param $count i32) (param $V i32) (param $vs i32)',
    locals: `(local $org i32) (local $dst i32) ${locals('d', a)} ${locals('T', a * a)}`,
    rowWidth: 'Wp',
    perTile: `
      (local.set $org (i32.add (local.get $P) (i32.mul (local.get $cb)
        (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $Hp)) (i32.mul (local.get $ty) (i32.const ${m}))) (local.get $Wp))
                 (i32.mul (local.get $tx) (i32.const ${m}))))))
      (local.set $dst (i32.add (local.get $V) (i32.mul (local.get $t) (local.get $cb))))`,
    body,
  });
}

/** Sets $rv/$cv (rows/columns of the m×m tile inside H×W) and $full, for tile (ty, tx). */
function tileExtent(m: number): string {
  return `
      (local.set $rv (i32.sub (local.get $H) (i32.mul (local.get $ty) (i32.const ${m}))))
      (if (i32.gt_s (local.get $rv) (i32.const ${m})) (then (local.set $rv (i32.const ${m}))))
      (local.set $cv (i32.sub (local.get $W) (i32.mul (local.get $tx) (i32.const ${m}))))
      (if (i32.gt_s (local.get $cv) (i32.const ${m})) (then (local.set $cv (i32.const ${m}))))
      (local.set $full (i32.and (i32.eq (local.get $rv) (i32.const ${m})) (i32.eq (local.get $cv) (i32.const ${m}))))
      (local.set $base (i32.add (local.get $Y) (i32.mul (local.get $cb)
        (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $H)) (i32.mul (local.get $ty) (i32.const ${m}))) (local.get $W))
                 (i32.mul (local.get $tx) (i32.const ${m}))))))`;
}
const extentLocals = '(local $rv i32) (local $cv i32) (local $full i32) (local $base i32)';
const elementAddress = (i: number, j: number) =>
  `(i32.add (i32.add (local.get $base) (local.get $c)) (i32.add (i32.mul (i32.const ${i}) (local.get $rs)) (i32.mul (i32.const ${j}) (local.get $cb))))`;
const inside = (i: number, j: number) =>
  `(i32.and (i32.gt_s (local.get $rv) (i32.const ${i})) (i32.gt_s (local.get $cv) (i32.const ${j})))`;

/**
 * win{m}_out(M, ms, C, t0, count, th, tw, H, W, Y): Y (N×H×W×C NHWC) gets Aᵀ M A for every tile,
 * where M[ξ][t][c] lies at M + ξ·ms + t·C·4; the parts of edge tiles outside H×W are dropped.
 */
function outputTransform(w: WinogradMatrices): string {
  const { m, alpha: a, AT } = w;
  let body = `\n          (local.set $q (i32.add (local.get $src) (local.get $c)))`;
  for (let x = 0; x < a; x++) {
    for (let b = 0; b < a; b++) {
      body += `\n          (local.set $d${b} (v128.load (local.get $q)))`;
      body += `\n          (local.set $q (i32.add (local.get $q) (local.get $ms)))`;
    }
    const row = Array.from({ length: a }, (_, b) => get(`d${b}`));
    for (let j = 0; j < m; j++) body += `\n          (local.set $S${x * m + j} ${lin(AT[j]!, row)})`;
  }
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      const col = Array.from({ length: a }, (_, x) => get(`S${x * m + j}`));
      body += `\n          (local.set $O${i * m + j} ${lin(AT[i]!, col)})`;
    }
  }
  let full = '';
  let edge = '';
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      const store = `(v128.store ${elementAddress(i, j)} (local.get $O${i * m + j}))`;
      full += `\n            ${store}`;
      edge += `\n            (if ${inside(i, j)} (then ${store}))`;
    }
  }
  body += `\n          (if (local.get $full) (then${full}) (else${edge}))`;
  return tiledFunction({
    name: `win${m}_out`,
    params:
      '(param $M i32) (param $ms i32) (param $C i32) (param $t0 i32) (param $count i32) (param $th i32) (param $tw i32) (param $H i32) (param $W i32) (param $Y i32)',
    locals: `${extentLocals} (local $src i32) ${locals('d', a)} ${locals('S', a * m)} ${locals('O', m * m)}`,
    rowWidth: 'W',
    perTile: `${tileExtent(m)}
      (local.set $src (i32.add (local.get $M) (i32.mul (local.get $t) (local.get $cb))))`,
    body,
  });
}

/**
 * win{m}_dy(Y, C, H, W, th, tw, t0, count, V, vs): the filter-gradient transform of an output
 * gradient: V[ξ][t][c] = (A g Aᵀ)[ξ] for the m×m tiles g of Y (N×H×W×C), zero outside H×W.
 */
function gradientTransform(w: WinogradMatrices): string {
  const { m, alpha: a, AT } = w;
  let loadsFull = '';
  let loadsEdge = '';
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      loadsFull += `\n            (local.set $g${i * m + j} (v128.load ${elementAddress(i, j)}))`;
      loadsEdge += `\n            (local.set $g${i * m + j} (if (result v128) ${inside(i, j)} (then (v128.load ${elementAddress(i, j)})) (else (v128.const i32x4 0 0 0 0))))`;
    }
  }
  let body = `\n          (if (local.get $full) (then${loadsFull}) (else${loadsEdge}))`;
  for (let i = 0; i < m; i++) {
    const row = Array.from({ length: m }, (_, j) => get(`g${i * m + j}`));
    for (let b = 0; b < a; b++) body += `\n          (local.set $R${i * a + b} ${lin(column(AT, b), row)})`;
  }
  body += `\n          (local.set $q (i32.add (local.get $dst) (local.get $c)))`;
  for (let x = 0; x < a; x++) {
    for (let b = 0; b < a; b++) {
      const col = Array.from({ length: m }, (_, i) => get(`R${i * a + b}`));
      body += `\n          (v128.store (local.get $q) ${lin(column(AT, x), col)})`;
      body += `\n          (local.set $q (i32.add (local.get $q) (local.get $vs)))`;
    }
  }
  return tiledFunction({
    name: `win${m}_dy`,
    params:
      '(param $Y i32) (param $C i32) (param $H i32) (param $W i32) (param $th i32) (param $tw i32) (param $t0 i32) (param $count i32) (param $V i32) (param $vs i32)',
    locals: `${extentLocals} (local $dst i32) ${locals('g', m * m)} ${locals('R', m * a)}`,
    rowWidth: 'W',
    perTile: `${tileExtent(m)}
      (local.set $dst (i32.add (local.get $V) (i32.mul (local.get $t) (local.get $cb))))`,
    body,
  });
}

/**
 * win{m}_filter(F, Ci, Co, U): U[ξ][ci][co] = (G f Gᵀ)[ξ] for the 3×3×Ci×Co filter F (Co a
 * multiple of 4). win{m}_filter_grad(dU, Ci, Co, dF): dF = Gᵀ dU G, the filter gradient.
 */
function filterTransforms(w: WinogradMatrices): string {
  const { m, alpha: a, G } = w;
  // Forward: f (3×3) → H = G f (α×3) → U = H Gᵀ (α×α).
  let fwd = '';
  for (let k = 0; k < 9; k++) {
    fwd += `\n        (local.set $f${k} (v128.load (i32.add (local.get $src) (i32.mul (i32.const ${k}) (local.get $tap)))))`;
  }
  for (let x = 0; x < a; x++) {
    for (let j = 0; j < 3; j++) {
      const col = [0, 1, 2].map((i) => get(`f${i * 3 + j}`));
      fwd += `\n        (local.set $H${x * 3 + j} ${lin(G[x]!, col)})`;
    }
  }
  fwd += `\n        (local.set $q (local.get $dst))`;
  for (let x = 0; x < a; x++) {
    const row = [0, 1, 2].map((j) => get(`H${x * 3 + j}`));
    for (let b = 0; b < a; b++) {
      fwd += `\n        (v128.store (local.get $q) ${lin(G[b]!, row)})`;
      fwd += `\n        (local.set $q (i32.add (local.get $q) (local.get $xs)))`;
    }
  }
  // Gradient: dU (α×α) → K = Gᵀ dU (3×α) → dF = K G (3×3).
  let grad = `\n        (local.set $q (local.get $dst))`;
  for (let k = 0; k < a * a; k++) {
    grad += `\n        (local.set $u${k} (v128.load (local.get $q)))`;
    grad += `\n        (local.set $q (i32.add (local.get $q) (local.get $xs)))`;
  }
  for (let i = 0; i < 3; i++) {
    for (let b = 0; b < a; b++) {
      const col = Array.from({ length: a }, (_, x) => get(`u${x * a + b}`));
      grad += `\n        (local.set $K${i * a + b} ${lin(column(G, i), col)})`;
    }
  }
  for (let i = 0; i < 3; i++) {
    const row = Array.from({ length: a }, (_, b) => get(`K${i * a + b}`));
    for (let j = 0; j < 3; j++) {
      grad += `\n        (v128.store (i32.add (local.get $src) (i32.mul (i32.const ${i * 3 + j}) (local.get $tap))) ${lin(column(G, j), row)})`;
    }
  }
  const loop = (name: string, inner: string, extra: string) => `
  (func (export "win${m}_${name}") (param $F i32) (param $Ci i32) (param $Co i32) (param $U i32)
    (local $e i32) (local $count i32) (local $tap i32) (local $xs i32) (local $src i32) (local $dst i32) (local $q i32) ${extra}
    (local.set $count (i32.shl (i32.mul (local.get $Ci) (local.get $Co)) (i32.const 2)))
    (local.set $tap (local.get $count))
    (local.set $xs (local.get $count))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $e) (local.get $count)))
        (local.set $src (i32.add (local.get $F) (local.get $e)))
        (local.set $dst (i32.add (local.get $U) (local.get $e)))${inner}
      (local.set $e (i32.add (local.get $e) (i32.const 16)))
      (br $each))))`;
  return (
    loop('filter', fwd, `${locals('f', 9)} ${locals('H', a * 3)}`) +
    loop('filter_grad', grad, `${locals('u', a * a)} ${locals('K', 3 * a)}`)
  );
}

/**
 * gemm(a, sg, si, sk, b, ldb, c, ldc, M, N, K, G, acc): for i < M, j < N (N a multiple of 8),
 *   C[i][j] = (acc ? C[i][j] : 0) + Σ_{g<G} Σ_{k<K} A(g, i, k) · B[g·K + k][j]
 * with A(g, i, k) at a + g·sg + i·si + k·sk, B[r][j] at b + r·ldb + 4j and C[i][j] at c + i·ldc + 4j
 * (all byte offsets). Register tiles of 4 rows × 8 columns, then single rows.
 */
function gemm(fma: boolean): string {
  const rowsOf = (rows: number) => {
    const acc = (i: number, h: number) => `c${i}${h}`;
    let init = '';
    let kBody = `
              (local.set $b0 (v128.load (local.get $pb)))
              (local.set $b1 (v128.load offset=16 (local.get $pb)))`;
    let store = '';
    for (let i = 0; i < rows; i++) {
      const cAddr = i === 0 ? get('pc') : `(i32.add (local.get $pc) (local.get $ldc${i}))`;
      init += `
          (local.set $${acc(i, 0)} (if (result v128) (local.get $acc) (then (v128.load ${cAddr})) (else (v128.const i32x4 0 0 0 0))))
          (local.set $${acc(i, 1)} (if (result v128) (local.get $acc) (then (v128.load offset=16 ${cAddr})) (else (v128.const i32x4 0 0 0 0))))`;
      const aAddr = i === 0 ? get('pa') : `(i32.add (local.get $pa) (local.get $si${i}))`;
      const madd = (c: string, b: string) =>
        fma
          ? `(f32x4.relaxed_madd (local.get $x) (local.get $${b}) (local.get $${c}))`
          : `(f32x4.add (local.get $${c}) (f32x4.mul (local.get $x) (local.get $${b})))`;
      kBody += `
              (local.set $x (v128.load32_splat ${aAddr}))
              (local.set $${acc(i, 0)} ${madd(acc(i, 0), 'b0')})
              (local.set $${acc(i, 1)} ${madd(acc(i, 1), 'b1')})`;
      store += `
          (v128.store ${cAddr} (local.get $${acc(i, 0)}))
          (v128.store offset=16 ${cAddr} (local.get $${acc(i, 1)}))`;
    }
    return `
      (block $rowsDone${rows} (loop $rows${rows}
        (br_if $rowsDone${rows} (i32.gt_u (i32.add (local.get $i) (i32.const ${rows})) (local.get $M)))
        (local.set $j (i32.const 0))
        (block $colsDone (loop $cols
          (br_if $colsDone (i32.ge_u (local.get $j) (local.get $N)))
          (local.set $pc (i32.add (local.get $c) (i32.add (i32.mul (local.get $i) (local.get $ldc)) (i32.shl (local.get $j) (i32.const 2)))))${init}
          (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
          (local.set $pag (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $si))))
          (local.set $g (i32.const 0))
          (loop $groups
            (local.set $pa (local.get $pag))
            (local.set $k (i32.const 0))
            (block $kDone (loop $ks
              (br_if $kDone (i32.ge_u (local.get $k) (local.get $K)))${kBody}
              (local.set $pa (i32.add (local.get $pa) (local.get $sk)))
              (local.set $pb (i32.add (local.get $pb) (local.get $ldb)))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br $ks)))
            (local.set $pag (i32.add (local.get $pag) (local.get $sg)))
            (local.set $g (i32.add (local.get $g) (i32.const 1)))
            (br_if $groups (i32.lt_u (local.get $g) (local.get $G))))${store}
          (local.set $j (i32.add (local.get $j) (i32.const 8)))
          (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const ${rows})))
        (br $rows${rows})))`;
  };
  return `
  (func (export "gemm") (param $a i32) (param $sg i32) (param $si i32) (param $sk i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32) (param $M i32) (param $N i32) (param $K i32) (param $G i32) (param $acc i32)
    (local $i i32) (local $j i32) (local $g i32) (local $k i32) (local $pa i32) (local $pb i32) (local $pc i32) (local $pag i32)
    (local $si1 i32) (local $si2 i32) (local $si3 i32) (local $ldc1 i32) (local $ldc2 i32) (local $ldc3 i32)
    (local $x v128) (local $b0 v128) (local $b1 v128) ${locals('c0', 2)} ${locals('c1', 2)} ${locals('c2', 2)} ${locals('c3', 2)}
    (local.set $si1 (local.get $si))
    (local.set $si2 (i32.shl (local.get $si) (i32.const 1)))
    (local.set $si3 (i32.mul (local.get $si) (i32.const 3)))
    (local.set $ldc1 (local.get $ldc))
    (local.set $ldc2 (i32.shl (local.get $ldc) (i32.const 1)))
    (local.set $ldc3 (i32.mul (local.get $ldc) (i32.const 3)))${rowsOf(4)}${rowsOf(1)})`;
}

/** Bulk helpers: zero a range, copy a batch of rows, sum the rows of a matrix, max-pool 2×2 gradient. */
const helpers = `
  (func (export "zero") (param $p i32) (param $bytes i32)
    (memory.fill (local.get $p) (i32.const 0) (local.get $bytes)))
  ;; copy_rows: for n < N, r < R: bytes from src + n·sImg + r·sRow to dst + n·dImg + r·dRow.
  (func (export "copy_rows") (param $src i32) (param $sRow i32) (param $sImg i32) (param $dst i32) (param $dRow i32) (param $dImg i32) (param $N i32) (param $R i32) (param $bytes i32)
    (local $n i32) (local $r i32) (local $s i32) (local $d i32)
    (block $nDone (loop $ns
      (br_if $nDone (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $s (i32.add (local.get $src) (i32.mul (local.get $n) (local.get $sImg))))
      (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $n) (local.get $dImg))))
      (local.set $r (i32.const 0))
      (block $rDone (loop $rs
        (br_if $rDone (i32.ge_u (local.get $r) (local.get $R)))
        (memory.copy (local.get $d) (local.get $s) (local.get $bytes))
        (local.set $s (i32.add (local.get $s) (local.get $sRow)))
        (local.set $d (i32.add (local.get $d) (local.get $dRow)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rs)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $ns))))
  ;; col_sum(src, rows, C, dst): dst[c] = Σ_r src[r·C + c] (C a multiple of 4), summed in row order.
  (func (export "col_sum") (param $src i32) (param $rows i32) (param $C i32) (param $dst i32)
    (local $r i32) (local $c i32) (local $cb i32) (local $p i32)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (memory.fill (local.get $dst) (i32.const 0) (local.get $cb))
    (local.set $p (local.get $src))
    (block $rDone (loop $rs
      (br_if $rDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (i32.const 0))
      (block $cDone (loop $cs
        (br_if $cDone (i32.ge_u (local.get $c) (local.get $cb)))
        (v128.store (i32.add (local.get $dst) (local.get $c))
          (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $c))) (v128.load (i32.add (local.get $p) (local.get $c)))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $cs)))
      (local.set $p (i32.add (local.get $p) (local.get $cb)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rs))))
  ;; bias_act(y, bias, rows, C, hasBias, relu): in place over rows × C (C a multiple of 4),
  ;; y += bias (when hasBias), then y = max(y, 0) (when relu; NaN stays NaN).
  (func (export "bias_act") (param $y i32) (param $bias i32) (param $rows i32) (param $C i32) (param $hasBias i32) (param $relu i32)
    (local $p i32) (local $end i32) (local $c i32) (local $cb i32) (local $v v128)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $p (local.get $y))
    (local.set $end (i32.add (local.get $y) (i32.mul (local.get $rows) (local.get $cb))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $c (i32.const 0))
      (block $cDone (loop $cs
        (br_if $cDone (i32.ge_u (local.get $c) (local.get $cb)))
        (local.set $v (v128.load (i32.add (local.get $p) (local.get $c))))
        (if (local.get $hasBias) (then
          (local.set $v (f32x4.add (local.get $v) (v128.load (i32.add (local.get $bias) (local.get $c)))))))
        (if (local.get $relu) (then
          (local.set $v (f32x4.max (local.get $v) (v128.const f32x4 0 0 0 0)))))
        (v128.store (i32.add (local.get $p) (local.get $c)) (local.get $v))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $cs)))
      (local.set $p (i32.add (local.get $p) (local.get $cb)))
      (br $each))))
  ;; relu_grad(x, dy, dx, n): dx = dy · step(x) for n floats (n a multiple of 4), tfjs's ReLU
  ;; gradient in one pass: step is 1 where x > 0, 0 elsewhere, NaN where x is NaN.
  (func (export "relu_grad") (param $x i32) (param $dy i32) (param $dx i32) (param $n i32)
    (local $i i32) (local $end i32) (local $v v128) (local $s v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $v (v128.load (i32.add (local.get $x) (local.get $i))))
      (local.set $s (v128.and (f32x4.gt (local.get $v) (v128.const f32x4 0 0 0 0)) (v128.const f32x4 1 1 1 1)))
      (local.set $s (v128.bitselect (local.get $v) (local.get $s) (f32x4.ne (local.get $v) (local.get $v))))
      (v128.store (i32.add (local.get $dx) (local.get $i))
        (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $i))) (local.get $s)))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $each))))
  ;; maxpool2_grad(x, dy, dx, N, H, W, C, OH, OW): 2×2 windows, stride 2, no padding; each dy goes
  ;; to the first maximum of its window in row-major order (strictly greater wins). Writes every
  ;; element of the OH·2 × OW·2 region of dx; the caller zeroes dx when H or W is odd.
  (func (export "maxpool2_grad") (param $x i32) (param $dy i32) (param $dx i32) (param $N i32) (param $H i32) (param $W i32) (param $C i32) (param $OH i32) (param $OW i32)
    (local $n i32) (local $oy i32) (local $ox i32) (local $c i32) (local $cb i32) (local $rs i32) (local $px i32) (local $pg i32) (local $p i32)
    (local $a v128) (local $b v128) (local $e v128) (local $f v128) (local $g v128) (local $m v128) (local $gb v128) (local $ge v128) (local $gf v128)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $rs (i32.mul (local.get $W) (local.get $cb)))
    (local.set $pg (local.get $dy))
    (block $nDone (loop $ns
      (br_if $nDone (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $oy (i32.const 0))
      (block $yDone (loop $ys
        (br_if $yDone (i32.ge_u (local.get $oy) (local.get $OH)))
        (local.set $ox (i32.const 0))
        (block $xDone (loop $xs
          (br_if $xDone (i32.ge_u (local.get $ox) (local.get $OW)))
          (local.set $px (i32.mul (local.get $cb)
            (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $H)) (i32.shl (local.get $oy) (i32.const 1))) (local.get $W))
                     (i32.shl (local.get $ox) (i32.const 1)))))
          (local.set $c (i32.const 0))
          (block $cDone (loop $cs
            (br_if $cDone (i32.ge_u (local.get $c) (local.get $cb)))
            (local.set $p (i32.add (i32.add (local.get $x) (local.get $px)) (local.get $c)))
            (local.set $a (v128.load (local.get $p)))
            (local.set $b (v128.load (i32.add (local.get $p) (local.get $cb))))
            (local.set $e (v128.load (i32.add (local.get $p) (local.get $rs))))
            (local.set $f (v128.load (i32.add (i32.add (local.get $p) (local.get $rs)) (local.get $cb))))
            (local.set $g (v128.load (i32.add (local.get $pg) (local.get $c))))
            (local.set $gb (f32x4.gt (local.get $b) (local.get $a)))
            (local.set $m (v128.bitselect (local.get $b) (local.get $a) (local.get $gb)))
            (local.set $ge (f32x4.gt (local.get $e) (local.get $m)))
            (local.set $m (v128.bitselect (local.get $e) (local.get $m) (local.get $ge)))
            (local.set $gf (f32x4.gt (local.get $f) (local.get $m)))
            (local.set $ge (v128.andnot (local.get $ge) (local.get $gf)))
            (local.set $gb (v128.andnot (v128.andnot (local.get $gb) (local.get $gf)) (local.get $ge)))
            (local.set $p (i32.add (i32.add (local.get $dx) (local.get $px)) (local.get $c)))
            (v128.store (local.get $p) (v128.andnot (local.get $g) (v128.or (v128.or (local.get $gb) (local.get $ge)) (local.get $gf))))
            (v128.store (i32.add (local.get $p) (local.get $cb)) (v128.and (local.get $g) (local.get $gb)))
            (v128.store (i32.add (local.get $p) (local.get $rs)) (v128.and (local.get $g) (local.get $ge)))
            (v128.store (i32.add (i32.add (local.get $p) (local.get $rs)) (local.get $cb)) (v128.and (local.get $g) (local.get $gf)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $cs)))
          (local.set $pg (i32.add (local.get $pg) (local.get $cb)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $xs)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $ys)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $ns))))`;

/**
 * The whole module's text. With `fma`, the GEMM accumulates with relaxed SIMD's
 * `f32x4.relaxed_madd` (one fused multiply-add where the CPU has it: Node ≥ 22, current browsers),
 * which only runtimes with relaxed SIMD accept; without it, with a multiply and an add.
 */
export function convKernelsWat(options: { fma?: boolean } = {}): string {
  const parts = [WINOGRAD_2, WINOGRAD_4].map(
    (w) => inputTransform(w) + outputTransform(w) + gradientTransform(w) + filterTransforms(w),
  );
  return `;; Generated by generate.ts — edit that file, then run \`pnpm gen:kernels\`.
(module
  (import "env" "memory" (memory 0))${gemm(options.fma ?? false)}${parts.join('')}${helpers})
`;
}
