import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // onnxruntime-node is an optional peer, imported only when an image is embedded
  external: ['onnxruntime-node'],
});
