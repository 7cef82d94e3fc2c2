import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fashionMnistDir, fixture } from '@anchorage/loss-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readResults, repairResults } from './results.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), 'cli.ts');
const data = fixture(
  'Fashion-MNIST',
  fashionMnistDir(),
  'apt-get install dataset-fashion-mnist, or set FASHION_MNIST_DIR',
);

function experiments(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@anchorage/source', '--import', 'tsx', cli, ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.runIf(data !== undefined)('pnpm experiments --quick', () => {
  let work: string;
  let results: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'anchorage-experiments-'));
    results = join(work, 'quick.jsonl');
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('trains, evaluates and records each run once, then skips them', async () => {
    const base = ['--quick', '--work-dir', work, '--data', `fashion-mnist=${data}`];
    const first = await experiments(['run', ...base, '--only', '/cam/']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/ran 1, skipped 0/);
    const second = await experiments([...base, '--jobs', '2']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/ran 1, skipped 1/);
    expect(second.stdout).toMatch(/\[1\/1\] mAP/); // with --jobs > 1 a finished run names its place

    const lines = await readResults(results);
    expect(lines.map((r) => r.spec.loss)).toEqual(['cam', 'cross-entropy']);
    for (const r of lines) {
      expect(r.report.databaseSize).toBe(100); // 10 shots × 10 classes: the few-shot database
      expect(r.report.querySize).toBe(10_000);
      expect(r.report.mAP).toBeGreaterThan(0.1); // above chance (0.1), whatever two epochs on 100 images learn
      expect(r.report.twoStage.map((t) => `${t.buckets}:${t.probe}`)).toEqual([
        'labels:1',
        'labels:2',
        'labels:3',
        'nearest-anchor:1',
        'nearest-anchor:2',
        'nearest-anchor:3',
      ]);
      expect(r.config).toMatchObject({ shots: 10, epochs: 2, dim: 16 });
      expect(r.config).not.toHaveProperty('data'); // the folder given with --data stays on this machine
      expect(r.versions['@anchorage/trainer']).toMatch(/^\d+\.\d+\.\d+/);
      expect(r.backend).toBe('wasm');
    }
    const again = await experiments(base);
    expect(again.stdout).toMatch(/ran 0, skipped 2/);
  });

  it('prints the comparison and two-stage tables from the result file', async () => {
    const report = await experiments(['report', '--quick', '--work-dir', work]);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toMatch(/### quick: fashion-mnist · refcnn · shots-10/);
    expect(report.stdout).toMatch(/\| cam \|/);
    expect(report.stdout).toMatch(/\| cross-entropy \|/);
    expect(report.stdout).toMatch(/bucketed by nearest-anchor/);
    const plan = await experiments(['plan', '--quick', '--work-dir', work]);
    expect(plan.stdout).toMatch(/quick\s+refcnn\s+shots-10\s+2\s+0/);
  });

  it('drops a torn last line and refuses a corrupt one with its line number', async () => {
    const text = await readFile(results, 'utf8');
    await writeFile(results, `${text}{"id":"quick/fash`);
    expect(await repairResults(results)).toBe(true);
    expect(await readFile(results, 'utf8')).toBe(text);
    await writeFile(results, `${text}{"id": 1}\n`);
    const report = await experiments(['report', '--quick', '--work-dir', work]);
    expect(report.code).toBe(1);
    expect(report.stderr).toMatch(/quick\.jsonl:3 is not a run result: id/);
  });
});
