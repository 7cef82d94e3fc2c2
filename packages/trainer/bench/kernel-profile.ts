/**
 * Where a training step's CPU time goes on wasm, kernel by kernel: every wasm kernel is wrapped
 * with a process CPU-time counter, one step's worth is printed sorted by time (kernels over
 * 0.5 ms), grouped by kernel name and first input's shape. Default: refcnn on 28×28×1.
 * Usage: tsx bench/kernel-profile.ts [--steps N] [--batch N] [--backbone NAME --size S --channels C]
 *   [--width W] (a backbone's numeric options: --width, --depth, …)
 */
import * as tf from '@tensorflow/tfjs';
import { convKernelVariant } from '../src/backends/conv-wasm/kernels';
import { useWasmBackend } from '../src/backends/wasm';
import { createBackbone } from '../src/models/index';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const steps = flag('steps', 5);
const batch = flag('batch', 128);
const at = args.indexOf('--backbone');
const backbone = at >= 0 ? args[at + 1]! : 'refcnn';
const size = flag('size', 28);
const channels = flag('channels', 1);
const own: Record<string, number> = {};
for (const name of ['width', 'depth', 'heads', 'patch'])
  if (args.includes(`--${name}`)) own[name] = flag(name, 0);

if (!(await useWasmBackend())) throw new Error('the wasm backend did not initialise');
const net = tf.sequential({
  layers: [
    createBackbone(backbone, { inputShape: [size, size, channels], dim: 64, seed: 1, ...own }),
    tf.layers.dense({ units: 10, name: 'head' }),
  ],
});
const optimizer = tf.train.adam(1e-3);
const x = tf.randomUniform([batch, size, size, channels], 0, 1, 'float32', 1);
const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 2) as tf.Tensor1D, 10);
const step = () => {
  const loss = optimizer.minimize(
    () => tf.losses.softmaxCrossEntropy(y, net.apply(x) as tf.Tensor) as tf.Scalar,
    true,
  );
  loss?.dataSync();
  loss?.dispose();
};
for (let i = 0; i < 3; i++) step();

const cpuMs = new Map<string, number>();
for (const kernel of tf.getKernelsForBackend('wasm')) {
  const inner = kernel.kernelFunc;
  (kernel as { kernelFunc: tf.KernelFunc }).kernelFunc = (call) => {
    const start = process.cpuUsage();
    const out = inner(call);
    const used = process.cpuUsage(start);
    const first = Object.values(call.inputs)[0];
    const key = `${kernel.kernelName} ${first ? JSON.stringify(first.shape) : ''}`;
    cpuMs.set(key, (cpuMs.get(key) ?? 0) + (used.user + used.system) / 1000);
    return out;
  };
}
const start = process.cpuUsage();
for (let i = 0; i < steps; i++) step();
const total = process.cpuUsage(start);
const rows = [...cpuMs].map(([key, ms]) => [key, ms / steps] as const).sort((a, b) => b[1] - a[1]);
const inKernels = rows.reduce((sum, [, ms]) => sum + ms, 0);
console.log(
  `${backbone} step on wasm (convolution kernels: ${convKernelVariant() ?? 'stock'}), B=${batch}, ${size}×${size}×${channels}, softmax head, Adam; CPU ms per step over ${steps} steps`,
);
console.log('| kernel (first input shape) | CPU ms/step |\n|---|---:|');
for (const [key, ms] of rows) if (ms >= 0.5) console.log(`| ${key} | ${ms.toFixed(1)} |`);
console.log(`| all kernels | ${inKernels.toFixed(1)} |`);
console.log(`| whole step | ${((total.user + total.system) / 1000 / steps).toFixed(1)} |`);
