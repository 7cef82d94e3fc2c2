import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '@anchorage/loss-core';
import { mnistDir } from '@anchorage/loss-core/testing';
import { afterAll, describe, expect, it } from 'vitest';

const cli = join(import.meta.dirname, '..', 'cli.ts');
const root = mkdtempSync(join(tmpdir(), 'anchorage-kill-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const KILLS = 20;
// 160 images in batches of 16 for 4 epochs: 40 steps, a checkpoint after each
const RUN = ['--dataset', 'mnist', '--limit', '160', '--batch-size', '16', '--epochs', '4', '--dim', '8'];
const FLAGS = ['--backend', 'wasm', '--quiet', '--checkpoint-every', '1'];

function start(out: string): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', cli, 'train', ...RUN, ...FLAGS, '--out', out, '--resume'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

/** The bytes that define where training stands: weights, loss variables and both optimisers. */
function trainedBytes(run: string): Buffer {
  const dir = join(run, 'checkpoint');
  const files = ['weights.bin', 'loss.bin', 'optimizer-model.bin', 'optimizer-loss.bin', 'optimizer.json'];
  return Buffer.concat(files.map((f) => readFileSync(join(dir, f))));
}

const hasMnist = mnistDir() !== undefined;

describe.runIf(hasMnist)('checkpoints under SIGKILL', () => {
  it(`${KILLS} kills during saves, each resumed: the final weights equal an uninterrupted run's bit for bit`, async () => {
    const reference = join(root, 'reference');
    const plain = start(reference);
    expect((await exited(plain)).code).toBe(0);

    const run = join(root, 'killed');
    const rng = new Random(20);
    let kills = 0;
    let lives = 0;
    const steps: (number | undefined)[] = [];
    while (kills < KILLS) {
      lives++;
      const child = start(run);
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const done = exited(child);
      let finished: { code: number | null } | undefined;
      void done.then((r) => {
        finished = r;
      });
      // wait for one of this child's saves to begin (its own temporary folder appears; leftovers of
      // earlier lives carry their pids), then kill it at a seeded moment in that save
      const own = `checkpoint.tmp-${child.pid}`;
      while (finished === undefined && !safeList(run).includes(own)) {
        await new Promise((r) => setTimeout(r, 1));
      }
      if (finished !== undefined) {
        throw new Error(
          finished.code === 0
            ? `the run finished after ${kills} kills; make it longer`
            : `life ${lives} (resumed after ${kills} kills) failed with status ${finished.code}: ${stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, rng.nextInt(25)));
      child.kill('SIGKILL');
      const result = await done;
      if (result.signal === 'SIGKILL') kills++;
      steps.push(savedStep(run));
    }
    const last = start(run);
    const { code } = await exited(last);
    expect(code).toBe(0);
    expect(lives).toBe(KILLS);
    // how far the killed lives got depends on the machine's speed (a kill can land before a life's
    // first save completes), so it is reported, not asserted; what is asserted does not depend on it
    console.info(`checkpoint steps on disk after each kill: ${steps.map((step) => step ?? '-').join(' ')}`);
    expect(
      readdirSync(run)
        .filter((n) => n.startsWith('checkpoint'))
        .sort(),
    ).toEqual(['checkpoint']);
    const state = JSON.parse(readFileSync(join(run, 'checkpoint', 'state.json'), 'utf8'));
    expect(state.progress.step).toBe(40);
    expect(trainedBytes(run).equals(trainedBytes(reference))).toBe(true);
  });
});

/** The step of the newest complete checkpoint state in `run` (any copy), if one exists. */
function savedStep(run: string): number | undefined {
  let best: number | undefined;
  for (const name of safeList(run)) {
    try {
      const state = JSON.parse(readFileSync(join(run, name, 'state.json'), 'utf8'));
      best = Math.max(best ?? 0, state.progress.step);
    } catch {
      // incomplete copy
    }
  }
  return best;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
