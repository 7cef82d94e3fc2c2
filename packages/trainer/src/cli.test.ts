import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fashionMnistDir } from '@anchorage/loss-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeIdxSlice } from './data/idx-test-support';

// Fashion-MNIST from $FASHION_MNIST_DIR or Debian's package; CI requires it (ANCHORAGE_REQUIRE_FIXTURES)
const hasData = fashionMnistDir() !== undefined;
const root = await mkdtemp(join(tmpdir(), 'anchorage-cli-'));
const data = join(root, 'fashion-mnist');
afterAll(() => rm(root, { recursive: true, force: true }));

/** A small Fashion-MNIST folder cut from the real one: 320 training and 60 test images. */
beforeAll(async () => {
  if (hasData) await writeIdxSlice({ name: 'fashion-mnist', out: data, train: 320, test: 60 });
});

function cli(
  args: string[],
): ChildProcess & { done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: join(import.meta.dirname, '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return Object.assign(child, { done });
}

async function steps(out: string): Promise<number> {
  try {
    const text = await readFile(join(out, 'metrics.jsonl'), 'utf8');
    return text.split('\n').filter((line) => line.includes('"type":"step"')).length;
  } catch {
    return 0;
  }
}

const trainArgs = (out: string) => [
  'train',
  '--dataset',
  'fashion-mnist',
  '--data',
  data,
  '--backbone',
  'refcnn',
  '--loss',
  'cam',
  '--epochs',
  '2',
  '--batch-size',
  '16',
  '--lr',
  '0.002',
  '--anchor-lr',
  '0.01',
  '--dim',
  '8',
  '--seed',
  '3',
  '--backend',
  'wasm',
  '--out',
  out,
];

describe.skipIf(!hasData)('anchorage-train', () => {
  const straight = join(root, 'straight');

  it('train: SIGINT mid-epoch writes a checkpoint and --resume ends on the uninterrupted weights', async () => {
    const full = await cli(trainArgs(straight)).done;
    expect(full.code, full.stderr).toBe(0);
    expect(await steps(straight)).toBe(40);

    const interrupted = join(root, 'interrupted');
    const child = cli(trainArgs(interrupted));
    while ((await steps(interrupted)) < 3) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGINT');
    const stopped = await child.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/resume with --resume/);
    const state = JSON.parse(await readFile(join(interrupted, 'checkpoint', 'state.json'), 'utf8'));
    expect(state.progress.step).toBeGreaterThanOrEqual(3);
    expect(state.progress.step).toBeLessThan(40);

    const resumed = await cli(['train', '--dataset', 'fashion-mnist', '--out', interrupted, '--resume']).done;
    expect(resumed.code, resumed.stderr).toBe(0);
    const a = await readFile(join(straight, 'checkpoint', 'weights.bin'));
    const b = await readFile(join(interrupted, 'checkpoint', 'weights.bin'));
    expect(b.equals(a)).toBe(true);
    const anchorsA = await readFile(join(straight, 'checkpoint', 'anchors.json'), 'utf8');
    expect(await readFile(join(interrupted, 'checkpoint', 'anchors.json'), 'utf8')).toBe(anchorsA);
  });

  it('eval --json prints one object with the protocol metrics and the two-stage search', async () => {
    const result = await cli(['eval', '--checkpoint', straight, '--data', data, '--json']).done;
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    for (const key of ['mAP', 'mapAt100', 'precisionAt10', 'precisionAt100']) {
      expect(report[key]).toBeGreaterThan(0);
      expect(report[key]).toBeLessThanOrEqual(1);
    }
    expect(report).toMatchObject({ dataset: 'fashion-mnist', databaseSize: 320, querySize: 60, dim: 8 });
    expect(report.twoStage.map((t: { probe: number }) => t.probe)).toEqual([1, 2, 3]);
    expect(report.twoStage[0].fractionScanned).toBeLessThan(0.3);

    const table = await cli([
      'eval',
      '--checkpoint',
      straight,
      '--data',
      data,
      '--probes',
      '1,3',
      '--buckets',
      'labels,nearest-anchor',
    ]).done;
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/mAP@100/);
    expect(table.stdout).toMatch(/probe 3/);
    expect(table.stdout).toMatch(/bucketed by its labels[\s\S]*bucketed by each item's nearest anchor/);

    const wrong = await cli(['eval', '--checkpoint', straight, '--buckets', 'clusters']).done;
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/"clusters" is not one of labels, nearest-anchor/);
  });

  it('eval of a few-shot model: its own reduced split as the database, or with --database full the whole training split', async () => {
    const fewShot = join(root, 'few-shot');
    const trained = await cli([...trainArgs(fewShot), '--shots', '2']).done;
    expect(trained.code, trained.stderr).toBe(0);
    const own = await cli(['eval', '--checkpoint', fewShot, '--json', '--probes', '1']).done;
    expect(own.code, own.stderr).toBe(0);
    expect(JSON.parse(own.stdout)).toMatchObject({ databaseSize: 20, querySize: 60 });
    const full = await cli(['eval', '--checkpoint', fewShot, '--json', '--probes', '1', '--database', 'full'])
      .done;
    expect(full.code, full.stderr).toBe(0);
    expect(JSON.parse(full.stdout)).toMatchObject({ databaseSize: 320, querySize: 60 });
    const wrong = await cli(['eval', '--checkpoint', fewShot, '--database', 'all']).done;
    expect(wrong.code).not.toBe(0);
  });

  it('eval --baseline pixels scores raw pixels with the same protocol', async () => {
    const result = await cli([
      'eval',
      '--baseline',
      'pixels',
      '--dataset',
      'fashion-mnist',
      '--data',
      data,
      '--json',
    ]).done;
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      method: 'pixels',
      dim: 784,
      databaseSize: 320,
      querySize: 60,
      twoStage: [],
    });
    expect(report.mAP).toBeGreaterThan(0.1);
  });

  it('reports bad input as one error line and exit status 1', async () => {
    const result = await cli(['eval', '--checkpoint', join(root, 'nowhere')]).done;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: no checkpoint/m);
    const existing = await cli(trainArgs(straight)).done;
    expect(existing.code).toBe(1);
    expect(existing.stderr).toMatch(/already holds a checkpoint/);
  });
});
