import { defineConfig } from 'tsup';

export default defineConfig({
  // src/pool/worker.ts → dist/pool/worker.js, started by SearchPool
  entry: ['src/index.ts', 'src/cli.ts', 'src/pool/worker.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // import.meta.url locates the search worker; give the CJS build one
  shims: true,
});
