// Run by kernels.test.ts in a child `node --experimental-wasm-relaxed-simd` (Node 20 needs the
// flag for relaxed SIMD): prints which kernel build bound and its errors against the cpu backend.
import * as tf from '@tensorflow/tfjs';
import { registerTrainingKernels } from '../training-kernels';
import { prepareWasmBackend } from '../wasm';
import { errorsAgainstCpu } from './conv-check';
import { convKernelsFor, convKernelVariant } from './kernels';

await prepareWasmBackend();
registerTrainingKernels();
await tf.setBackend('wasm');
const bound = convKernelsFor(tf.backend()) !== null;
const errors = [
  await errorsAgainstCpu({ x: [2, 14, 14, 32], filter: [3, 3, 32, 64], pad: 'same' }),
  await errorsAgainstCpu({ x: [2, 3, 9, 16], filter: [3, 3, 16, 8], pad: 'valid' }),
  await errorsAgainstCpu({ x: [2, 28, 28, 1], filter: [3, 3, 1, 32], pad: 'same' }),
];
process.stdout.write(`${JSON.stringify({ variant: convKernelVariant(), bound, errors })}\n`);
