/**
 * Stage-2 kernel experiment: the scan every index uses (`squaredL2` on each row, then the heap)
 * against the same scan with partial-distance abandonment — stop summing a row once its partial
 * sum already exceeds the heap's worst kept distance. Squares are non-negative and float64
 * rounding is monotone, so an abandoned row could never have entered the heap: the results are
 * identical (checked here), only the work changes.
 *
 *   pnpm --filter @anchorage/retrieval exec tsx bench/kernel.ts -- --n 100000 --queries 200
 */
import { parseArgs } from 'node:util';
import { squaredL2 } from '../src/distance.js';
import { TopK } from '../src/top-k.js';
import { clusteredData } from './data.js';
import { latency, timeEach } from './measure.js';

const argv = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--'));
const { values: flags } = parseArgs({
  args: argv,
  options: {
    n: { type: 'string', default: '100000' },
    queries: { type: 'string', default: '200' },
    dim: { type: 'string', default: '128' },
    spread: { type: 'string', default: '1.5' },
    /** Dimensions summed between two checks against the heap's worst distance. */
    every: { type: 'string', default: '16' },
  },
});

const n = Number(flags.n);
const dim = Number(flags.dim);
const every = Number(flags.every);
const data = clusteredData({
  n,
  dim,
  classes: 100,
  queries: Number(flags.queries),
  spread: Number(flags.spread),
  seed: 1,
});
const q = data.queries.length / dim;
const k = 10;

function scanPlain(query: number, heap: TopK): void {
  const { vectors } = data;
  for (let row = 0, offset = 0; row < n; row++, offset += dim) {
    const d = squaredL2(data.queries, query * dim, vectors, offset, dim);
    if (d <= heap.worst) heap.push(d, row, 0, row);
  }
}

/** The same four partial sums as `squaredL2`, checked against `worst` every `every` dimensions. */
function scanAbandon(query: number, heap: TopK): void {
  const { vectors, queries } = data;
  const qo = query * dim;
  for (let row = 0, offset = 0; row < n; row++, offset += dim) {
    const worst = heap.worst;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let j = 0;
    let abandoned = false;
    while (j < dim) {
      const stop = Math.min(dim, j + every);
      for (; j < stop; j += 4) {
        const d0 = queries[qo + j]! - vectors[offset + j]!;
        const d1 = queries[qo + j + 1]! - vectors[offset + j + 1]!;
        const d2 = queries[qo + j + 2]! - vectors[offset + j + 2]!;
        const d3 = queries[qo + j + 3]! - vectors[offset + j + 3]!;
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
      }
      if (s0 + s1 + (s2 + s3) > worst) {
        abandoned = true;
        break;
      }
    }
    if (abandoned) continue;
    const d = s0 + s1 + (s2 + s3);
    if (d <= worst) heap.push(d, row, 0, row);
  }
}

if (dim % 4 !== 0 || every % 4 !== 0)
  throw new Error('this experiment assumes dim and --every are multiples of 4');
const run = (scan: (query: number, heap: TopK) => void) => {
  const heap = new TopK(k);
  const results: { distances: Float64Array; slots: Int32Array }[] = new Array(q);
  for (let i = 0; i < 10; i++) {
    heap.reset(k);
    scan(i, heap);
    heap.drain();
  }
  const times = timeEach(q, (i) => {
    heap.reset(k);
    scan(i, heap);
    results[i] = heap.drain();
  });
  return { ...latency(times.cpu), results };
};

// Interleave the two so that load from other processes hits both alike.
const plain = [];
const abandon = [];
for (let round = 0; round < 3; round++) {
  plain.push(run(scanPlain));
  abandon.push(run(scanAbandon));
}
for (let i = 0; i < q; i++) {
  const a = plain[0]!.results[i]!;
  const b = abandon[0]!.results[i]!;
  if (a.slots.join() !== b.slots.join() || a.distances.join() !== b.distances.join()) {
    throw new Error(`query ${i}: abandonment changed the result`);
  }
}
const best = (runs: { medianUs: number }[]) => Math.min(...runs.map((r) => r.medianUs));
console.log(
  `n=${n} d=${dim} queries=${q} k=${k} check every ${every} dims; results identical for every query`,
);
console.log(`plain scan:     median ${best(plain).toFixed(0)} µs CPU per query (best of 3 rounds)`);
console.log(`abandoning scan: median ${best(abandon).toFixed(0)} µs CPU per query (best of 3 rounds)`);
console.log(`speed-up ${(best(plain) / best(abandon)).toFixed(2)}×`);
