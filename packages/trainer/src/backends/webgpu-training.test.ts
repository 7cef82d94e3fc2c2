// The webgpu path, run where a WebGPU adapter exists: in CI that is Mesa's lavapipe (a Vulkan
// driver on the CPU), which runs the same WGSL as a GPU, slowly. Without an adapter these tests
// skip on a developer's machine and fail where ANCHORAGE_REQUIRE_FIXTURES is set.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, mnistDir } from '@anchorage/loss-core/testing';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { writeIdxSlice } from '../data/idx-test-support';
import { createLoss, listLosses } from '../losses';
import { createBackbone } from '../models';
import { selectBackend } from './select';
import { randomValues } from './test-support';

async function webgpuAdapter(): Promise<string | undefined> {
  let found: string | undefined;
  try {
    found = (await selectBackend('webgpu', { log: () => {} })).reason;
  } catch {
    found = undefined;
  }
  return fixture(
    'WebGPU adapter',
    found,
    "no WebGPU adapter: install Mesa 25's lavapipe (mesa-vulkan-drivers from bookworm-backports) or use a GPU",
  );
}

const adapter = await webgpuAdapter();
await tf.setBackend('cpu');
const root = await mkdtemp(join(tmpdir(), 'anchorage-webgpu-'));
afterAll(() => rm(root, { recursive: true, force: true }));

const BATCH = 8;
const CLASSES = 4;
const DIM = 8;

/** One training step's loss value and gradients (backbone weights, then the loss's trained variables). */
async function oneStep(lossName: string): Promise<{ value: number; grads: Float32Array[] }> {
  const model = createBackbone('refcnn', { inputShape: [28, 28, 1], dim: DIM, seed: 3 });
  const loss = createLoss(lossName, { classes: CLASSES, dim: DIM, seed: 5 });
  const x = tf.tensor4d(randomValues(BATCH * 28 * 28, 7), [BATCH, 28, 28, 1]);
  const y = tf.tensor1d(
    Int32Array.from({ length: BATCH }, (_, i) => i % CLASSES),
    'int32',
  );
  const variables = [
    ...model.trainableWeights.map((w) => w.read() as tf.Variable),
    ...Object.values(loss.variables).filter((v) => v.trainable),
  ];
  const { value, grads } = tf.variableGrads(
    () => loss.compute(model.apply(x) as tf.Tensor2D, y).loss,
    variables,
  );
  const out = {
    value: (await value.data())[0]!,
    grads: await Promise.all(variables.map(async (v) => (await grads[v.name]!.data()) as Float32Array)),
  };
  tf.dispose([value, ...Object.values(grads), x, y]);
  loss.dispose();
  model.dispose();
  return out;
}

describe.runIf(adapter !== undefined)(`training on webgpu (${adapter ?? 'no adapter'})`, () => {
  it.each(listLosses())(
    '%s: one step gives the loss and every gradient of the cpu backend (1e-4), and leaks no tensor',
    async (lossName) => {
      await selectBackend('cpu', { log: () => {} });
      const expected = await oneStep(lossName);
      await selectBackend('webgpu', { log: () => {} });
      await oneStep(lossName); // compiles the shaders; the count below is of a warm step
      const before = tf.memory().numTensors;
      const got = await oneStep(lossName);
      expect(tf.memory().numTensors).toBe(before);
      await tf.setBackend('cpu');

      expect(Math.abs(got.value - expected.value)).toBeLessThanOrEqual(
        1e-4 * Math.max(1, Math.abs(expected.value)),
      );
      expect(got.grads).toHaveLength(expected.grads.length);
      expected.grads.forEach((want, i) => {
        const scale = Math.max(1e-6, ...Array.from(want, Math.abs));
        let worst = 0;
        for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(got.grads[i]![k]! - want[k]!));
        expect(worst / scale).toBeLessThan(1e-4);
      });
    },
  );

  it('anchorage-train trains, resumes, evaluates and exports on webgpu', async () => {
    const data = join(root, 'mnist');
    await writeIdxSlice({ name: 'mnist', from: mnistDir(), out: data, train: 64, test: 24 });
    const out = join(root, 'run');
    const common = [
      '--dataset',
      'mnist',
      '--data',
      data,
      '--batch-size',
      '16',
      '--dim',
      '8',
      '--backend',
      'webgpu',
    ];
    const first = await cli(['train', ...common, '--epochs', '1', '--out', out, '--quiet']);
    expect(first.code, first.stderr).toBe(0);
    const resumed = await cli(['train', ...common, '--epochs', '2', '--out', out, '--resume', '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const state = JSON.parse(await readFile(join(out, 'checkpoint', 'state.json'), 'utf8'));
    expect(state.progress.step).toBe(8);
    expect(state.backend).toBe('webgpu');

    const evaluation = await cli(['eval', '--checkpoint', out, '--backend', 'webgpu', '--json']);
    expect(evaluation.code, evaluation.stderr).toBe(0);
    const report = JSON.parse(evaluation.stdout);
    expect(report.databaseSize).toBe(64);
    expect(report.mAP).toBeGreaterThan(0);
    expect(report.mAP).toBeLessThanOrEqual(1);

    const exported = await cli(['export', '--checkpoint', out, '--out', join(root, 'bundle')]);
    expect(exported.code, exported.stderr).toBe(0);
    const manifest = JSON.parse(await readFile(join(root, 'bundle', 'manifest.json'), 'utf8'));
    expect(manifest.dim).toBe(8);
  });
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: join(import.meta.dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
