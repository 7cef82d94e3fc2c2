/**
 * refcnn training steps on tfjs-webgpu, for a machine with a GPU (see the project's GPU notes:
 * bundle this entry, run it there). It stops with exit code 2 when it did not get the webgpu
 * backend rather than timing tfjs's cpu backend for hours. Every line also goes to the output file.
 *
 * Usage: gpu-step [--out FILE] [--steps N] [--warmup N]
 *   (default out: gpu-step-results.txt in the working directory)
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { registerConv2dGradient } from '../src/backends/conv2d-gradient';
import type { ModuleImporter } from '../src/backends/optional-import';
import { tryWebGpu } from '../src/backends/webgpu';
import { type StepShape, timeRefCnnSteps } from './refcnn-step';

const args = process.argv.slice(2);
function option(name: string): string | undefined {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
}
const outFile = resolve(option('out') ?? 'gpu-step-results.txt');
const steps = Number(option('steps') ?? 20);
const warmup = Number(option('warmup') ?? 5);

writeFileSync(outFile, '');
function say(line: string): void {
  console.log(line);
  appendFileSync(outFile, `${line}\n`);
}

// Literal specifiers so a bundler includes the backend; `webgpu` itself stays an external package.
const importModule: ModuleImporter = async (specifier) => {
  if (specifier === 'webgpu') return import('webgpu');
  if (specifier === '@tensorflow/tfjs-backend-webgpu') return import('@tensorflow/tfjs-backend-webgpu');
  throw Object.assign(new Error(`not bundled: ${specifier}`), { code: 'ERR_MODULE_NOT_FOUND' });
};

registerConv2dGradient();
const attempt = await tryWebGpu(importModule);
if (!attempt.ok || tf.getBackend() !== 'webgpu') {
  say(
    `gpu-step: no webgpu backend, stopping: ${attempt.ok ? `active backend is ${tf.getBackend()}` : attempt.reason}`,
  );
  process.exit(2);
}
say(`gpu-step: ${attempt.detail}; tfjs ${tf.version.tfjs}; Node ${process.versions.node}`);

const shapes: StepShape[] = [
  { height: 28, width: 28, channels: 1, batchSize: 128, dim: 64, classes: 10 },
  // the reference network of the GPU notes: refcnn with dim 128 and a 100-class head on 32×32×3
  { height: 32, width: 32, channels: 3, batchSize: 128, dim: 128, classes: 100 },
  { height: 32, width: 32, channels: 3, batchSize: 512, dim: 128, classes: 100 },
];
say('| input | B | dim | classes | median ms/step | images/s |');
say('| ----- | - | --- | ------- | -------------- | -------- |');
for (const shape of shapes) {
  const t = await timeRefCnnSteps(shape, warmup, steps);
  say(
    `| ${shape.height}×${shape.width}×${shape.channels} | ${shape.batchSize} | ${shape.dim} | ${shape.classes} | ` +
      `${t.medianMs.toFixed(1)} | ${t.imagesPerSecond.toFixed(0)} |`,
  );
}
say(`gpu-step: results in ${outFile}`);
