import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnchorIndex } from './anchor/index.js';
import { syntheticClusters } from './cli/quick-bench.js';
import { loadIndex } from './load-index.js';
import { evaluateAnchorIndex, evaluateRetrieval } from './metrics/index.js';
import { writeNpy } from './npy/index.js';

const packageRoot = dirname(dirname(fileURLToPath(import.meta.url)));
const run = promisify(execFile);

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: packageRoot,
      maxBuffer: 1 << 26,
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

// Each case starts node processes; on a loaded CI machine that takes seconds.
describe('anchorage-index CLI', () => {
  let dir: string;
  const dim = 8;
  const classes = 4;
  const data = syntheticClusters({ n: 400, dim, classes, queries: 5, seed: 3 });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anchorage-cli-'));
    await writeNpy(join(dir, 'vectors.npy'), data.database.vectors, [400, dim]);
    await writeNpy(join(dir, 'labels.npy'), data.database.labels, [400]);
    await writeNpy(join(dir, 'queries.npy'), data.queries, [5, dim]);
    const rows = Array.from({ length: classes }, (_, c) =>
      Array.from(data.anchors.subarray(c * dim, (c + 1) * dim)),
    );
    await writeFile(join(dir, 'anchors.json'), JSON.stringify({ dim, anchors: rows }));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('builds an AnchorIndex from .npy with labels and anchors.json, then stats and queries it', async () => {
    const out = join(dir, 'a.anchorage');
    const built = await cli(
      'build',
      '--vectors',
      join(dir, 'vectors.npy'),
      '--labels',
      join(dir, 'labels.npy'),
      '--anchors',
      dir,
      '-o',
      out,
      '--json',
    );
    expect(built.code).toBe(0);
    expect(JSON.parse(built.stdout)).toMatchObject({ kind: 'anchor', dim, size: 400, classes });

    const stats = JSON.parse((await cli('stats', '--index', out, '--json')).stdout);
    expect(stats).toMatchObject({
      kind: 'anchor',
      size: 400,
      labelled: 400,
      classes,
      buckets: { min: 100, max: 100, empty: 0 },
    });

    const queryArgs = [
      'query',
      '--index',
      out,
      '--queries',
      join(dir, 'queries.npy'),
      '-k',
      '7',
      '--probe',
      '2',
      '--json',
    ];
    const query = await cli(...queryArgs);
    expect(query.code).toBe(0);
    const expected = new AnchorIndex({ dim, anchors: data.anchors });
    expected.add({
      ids: Array.from({ length: 400 }, (_, i) => i),
      vectors: data.database.vectors,
      labels: data.database.labels,
    });
    expect(JSON.parse(query.stdout)).toEqual(expected.searchBatch(data.queries, { k: 7, probe: 2 }));
    // the int8 stage 2 re-ranking more candidates than it scans gives the same answer
    const compressed = await cli(...queryArgs, '--compression', 'int8', '--rerank', '1000');
    expect(compressed.code).toBe(0);
    expect(JSON.parse(compressed.stdout)).toEqual(JSON.parse(query.stdout));

    await writeFile(join(dir, 'query-labels.json'), JSON.stringify([0, 1, 2, 3, 0]));
    const queryLabels = [0, 1, 2, 3, 0];
    const labelsFile = join(dir, 'query-labels.json');
    const queriesFile = join(dir, 'queries.npy');
    const evaluated = await cli(
      'evaluate',
      '--index',
      out,
      '--queries',
      queriesFile,
      '--labels',
      labelsFile,
      '--probe',
      '1',
      '--ks',
      '1,5',
      '--json',
    );
    expect(evaluated.code).toBe(0);
    expect(JSON.parse(evaluated.stdout)).toEqual(
      evaluateAnchorIndex(expected, { queries: data.queries, queryLabels, probe: 1, ks: [1, 5] }),
    );
    const exhaustive = await cli(
      'evaluate',
      '--index',
      out,
      '--queries',
      queriesFile,
      '--labels',
      labelsFile,
      '--json',
    );
    expect(JSON.parse(exhaustive.stdout)).toEqual(
      evaluateRetrieval({
        queries: data.queries,
        queryLabels,
        database: data.database.vectors,
        databaseLabels: data.database.labels,
        dim,
      }),
    );

    const text = await cli(
      'query',
      '--index',
      out,
      '--vector',
      Array.from(data.queries.subarray(0, dim)).join(','),
      '-k',
      '2',
    );
    expect(text.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('builds a FlatIndex from JSONL with ids and labels, and from raw float32 with --dim', async () => {
    const lines = [0, 1, 2].map((i) =>
      JSON.stringify({
        id: `img-${i}`,
        vector: Array.from(data.database.vectors.subarray(i * dim, (i + 1) * dim)),
        label: i,
      }),
    );
    await writeFile(join(dir, 'items.jsonl'), `${lines.join('\n')}\n`);
    const out = join(dir, 'f.anchorage');
    expect((await cli('build', '--vectors', join(dir, 'items.jsonl'), '--flat', '-o', out)).code).toBe(0);
    const index = await loadIndex(out);
    expect([...index.items()].map((item) => [item.id, item.label])).toEqual([
      ['img-0', 0],
      ['img-1', 1],
      ['img-2', 2],
    ]);

    const raw = data.database.vectors.subarray(0, 10 * dim);
    await writeFile(join(dir, 'raw.f32'), new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
    await writeFile(join(dir, 'ids.txt'), `${Array.from({ length: 10 }, (_, i) => `r${i}`).join('\n')}\n`);
    const rawOut = join(dir, 'r.anchorage');
    const built = await cli(
      'build',
      '--vectors',
      join(dir, 'raw.f32'),
      '--dim',
      String(dim),
      '--ids',
      join(dir, 'ids.txt'),
      '--flat',
      '-o',
      rawOut,
    );
    expect(built.code).toBe(0);
    const rawIndex = await loadIndex(rawOut);
    expect(rawIndex.size).toBe(10);
    expect(rawIndex.get('r3')!.vector).toEqual(raw.slice(3 * dim, 4 * dim));
  });

  it('bench prints Flat against probe 1, 2, 3 with recall and scanned fraction', async () => {
    const result = await cli(
      'bench',
      '--n',
      '2000',
      '--dim',
      '16',
      '--classes',
      '10',
      '--queries',
      '20',
      '--json',
    );
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.rows.map((r: { index: string }) => r.index)).toEqual([
      'FlatIndex',
      'AnchorIndex probe=1',
      'AnchorIndex probe=2',
      'AnchorIndex probe=3',
    ]);
    expect(report.rows[0]).toMatchObject({ recallAtK: 1, scannedFraction: 1, speedup: 1 });
    expect(report.rows[1].scannedFraction).toBeCloseTo(0.1, 10);
    expect(report.rows[3].recallAtK).toBeGreaterThanOrEqual(report.rows[1].recallAtK);
  });

  it('fails with a clear message and exit code 1 on bad input', async () => {
    await writeFile(join(dir, 'broken.anchorage'), 'not an index');
    const broken = await cli('stats', '--index', join(dir, 'broken.anchorage'));
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/wrong magic/);
    const both = await cli('build', '--vectors', join(dir, 'vectors.npy'), '-o', join(dir, 'x'));
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/--anchors or --flat/);
    await writeFile(join(dir, 'ten-floats.f32'), new Uint8Array(40));
    const mismatch = await cli(
      'build',
      '--vectors',
      join(dir, 'ten-floats.f32'),
      '--dim',
      '3',
      '--flat',
      '-o',
      join(dir, 'x'),
    );
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(/not whole rows/);
  });

  it('names the missing or unwritable file in one line, exit 1, for every file option', async () => {
    const missing = join(dir, 'nonexistent');
    const vectors = join(dir, 'vectors.npy');
    const index = join(dir, 'a.anchorage');
    const cases: [string[], string][] = [
      [['build', '--vectors', `${missing}.npy`, '--flat', '-o', join(dir, 'x')], `${missing}.npy`],
      [
        ['build', '--vectors', `${missing}.f32`, '--dim', '8', '--flat', '-o', join(dir, 'x')],
        `${missing}.f32`,
      ],
      [['build', '--vectors', vectors, '--anchors', missing, '-o', join(dir, 'x')], missing],
      [['build', '--vectors', vectors, '--flat', '--labels', missing, '-o', join(dir, 'x')], missing],
      [['build', '--vectors', vectors, '--flat', '--ids', missing, '-o', join(dir, 'x')], missing],
      [
        ['build', '--vectors', vectors, '--flat', '-o', join(missing, 'out.anchorage')],
        join(missing, 'out.anchorage'),
      ],
      [['stats', '--index', missing], missing],
      [['query', '--index', missing, '--vector', '1,2'], missing],
      [['query', '--index', index, '--queries', `${missing}.npy`], `${missing}.npy`],
      [['evaluate', '--index', missing, '--queries', vectors], missing],
      [['bench', '--index', missing], missing],
    ];
    for (const [args, file] of cases) {
      const result = await cli(...args);
      expect(result.code, args.join(' ')).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines, result.stderr).toHaveLength(1);
      expect(lines[0]).toContain(file);
      expect(lines[0]).toMatch(/^anchorage-index: cannot (read|write)/);
    }
  });

  it('refuses a .npy that is not one with a line naming it', async () => {
    const fake = join(dir, 'fake.npy');
    await writeFile(fake, 'hello');
    const result = await cli('build', '--vectors', fake, '--flat', '-o', join(dir, 'x'));
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`anchorage-index: ${fake}: not a .npy file (wrong magic bytes)`);
  });
});
