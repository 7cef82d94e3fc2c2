/**
 * Evaluation benchmark: what the trainer's `eval` protocol costs per query — the exhaustive ranking
 * alone, the exhaustive one plus six two-stage ones (probe 1/2/3 × label and nearest-anchor buckets)
 * in one `evaluateRetrievalMany` pass, and the same seven rankings each through `evaluateRetrieval`
 * alone — against NumPy (a stable argsort of every query's distances, the usual Python way) when
 * python3 can import numpy. The NumPy mAP must agree with ours to 1e-6; the run fails otherwise.
 *
 *   pnpm --filter @anchorage/retrieval bench:evaluation -- --database 60000 --queries 1000
 *
 * Flags: --database (60000), --queries (1000), --dim (64), --classes (10), --spread (1.6),
 * --repeats (3: medians are reported), --seed (1), --python <interpreter>, --skip-numpy.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  evaluateRetrieval,
  evaluateRetrievalMany,
  type TwoStageEvaluation,
} from '../src/metrics/evaluate.js';
import { clusteredData } from './data.js';
import { timeOnce } from './measure.js';

const argv = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--'));
const { values: flags } = parseArgs({
  args: argv,
  options: {
    database: { type: 'string', default: '60000' },
    queries: { type: 'string', default: '1000' },
    dim: { type: 'string', default: '64' },
    classes: { type: 'string', default: '10' },
    spread: { type: 'string', default: '1.6' },
    repeats: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    python: { type: 'string' },
    'skip-numpy': { type: 'boolean', default: false },
  },
});

const n = Number(flags.database);
const q = Number(flags.queries);
const dim = Number(flags.dim);
const classes = Number(flags.classes);
const repeats = Number(flags.repeats);

// one draw of n + q items (balanced classes); the last q are the queries
const data = clusteredData({
  n: n + q,
  dim,
  classes,
  queries: 0,
  spread: Number(flags.spread),
  seed: Number(flags.seed),
});
const input = {
  database: data.vectors.subarray(0, n * dim),
  databaseLabels: data.labels.subarray(0, n),
  queries: data.vectors.subarray(n * dim),
  queryLabels: data.labels.subarray(n),
  dim,
  ks: [10, 100],
};
const twoStage: TwoStageEvaluation[] = (['labels', 'nearestAnchor'] as const).flatMap((buckets) =>
  [1, 2, 3].map((probe) => ({
    anchors: data.anchors,
    probe,
    ...(buckets === 'nearestAnchor' ? { buckets } : {}),
  })),
);

interface Row {
  name: string;
  /** Median CPU seconds per 1,000 queries. */
  cpuPerThousand: number;
  mAP: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function measure(name: string, run: () => number): Row {
  const cpu: number[] = [];
  let mAP = 0;
  for (let r = 0; r < repeats; r++) {
    const t = timeOnce(run);
    cpu.push(t.cpuSeconds);
    mAP = t.value;
  }
  return { name, cpuPerThousand: (median(cpu) * 1000) / q, mAP };
}

function numpyRow(): Row | string {
  if (flags['skip-numpy']) return 'NumPy: skipped (--skip-numpy)';
  const python = flags.python ?? 'python3';
  if (spawnSync(python, ['-c', 'import numpy'], { stdio: 'ignore' }).status !== 0)
    return `NumPy: skipped (${python} cannot import numpy)`;
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-eval-bench-'));
  try {
    const save = (file: string, array: Float32Array | Int32Array) =>
      writeFileSync(join(dir, file), new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
    save('db.f32', input.database);
    save('dbl.i32', input.databaseLabels);
    save('q.f32', input.queries);
    save('ql.i32', input.queryLabels);
    // squared L2 in float32 (as the indexes), a stable argsort per query, AP from the ranking
    const script = `
import numpy as np, time, sys, os
d = ${dim}; folder = sys.argv[1]; repeats = ${repeats}
db = np.fromfile(os.path.join(folder, 'db.f32'), dtype=np.float32).reshape(-1, d)
dbl = np.fromfile(os.path.join(folder, 'dbl.i32'), dtype=np.int32)
qs = np.fromfile(os.path.join(folder, 'q.f32'), dtype=np.float32).reshape(-1, d)
ql = np.fromfile(os.path.join(folder, 'ql.i32'), dtype=np.int32)
times = []
for _ in range(repeats):
    t = time.process_time(); total = 0.0
    for i in range(qs.shape[0]):
        dist = ((db - qs[i]) ** 2).sum(axis=1, dtype=np.float32)
        rel = dbl[np.argsort(dist, kind='stable')] == ql[i]
        hits = np.cumsum(rel)
        total += (hits[rel] / (np.nonzero(rel)[0] + 1)).sum() / rel.sum()
    times.append(time.process_time() - t)
times.sort()
print(times[(len(times) - 1) // 2], total / qs.shape[0])
`;
    const out = spawnSync(python, ['-c', script, dir], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
    });
    if (out.status !== 0) return `NumPy: failed (${out.stderr.trim().split('\n').pop()})`;
    const [seconds, mAP] = out.stdout.trim().split(/\s+/).map(Number) as [number, number];
    return {
      name: 'NumPy: squared L2 + stable argsort per query (exhaustive)',
      cpuPerThousand: (seconds * 1000) / q,
      mAP,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: Row[] = [
  measure(
    'exhaustive ranking only',
    () => evaluateRetrievalMany(input, [undefined])[0]!.meanAveragePrecision,
  ),
  measure(
    'the eval protocol: exhaustive + 6 two-stage rankings, one pass (evaluateRetrievalMany)',
    () => evaluateRetrievalMany(input, [undefined, ...twoStage])[0]!.meanAveragePrecision,
  ),
  measure('the same 7 rankings, each through evaluateRetrieval alone', () => {
    const exhaustive = evaluateRetrieval(input).meanAveragePrecision;
    for (const stage of twoStage) evaluateRetrieval({ ...input, twoStage: stage });
    return exhaustive;
  }),
];
const numpy = numpyRow();
const notes: string[] = [];
if (typeof numpy === 'string') notes.push(numpy);
else {
  rows.push(numpy);
  if (Math.abs(numpy.mAP - rows[0]!.mAP) > 1e-6) {
    console.error(`NumPy's mAP ${numpy.mAP} differs from ours ${rows[0]!.mAP}`);
    process.exitCode = 1;
  }
}

const base = rows[0]!.cpuPerThousand;
console.log(
  `evaluation: ${q} queries × ${n} items, d = ${dim}, C = ${classes}; median of ${repeats}, CPU time`,
);
console.log(`mAP ${rows[0]!.mAP.toFixed(6)}\n`);
console.log('| ranking | CPU s per 1,000 queries | × exhaustive alone |');
console.log('|---|---:|---:|');
for (const row of rows)
  console.log(
    `| ${row.name} | ${row.cpuPerThousand.toFixed(2)} | ${(row.cpuPerThousand / base).toFixed(2)} |`,
  );
for (const note of notes) console.log(`\n${note}`);
