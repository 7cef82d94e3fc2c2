import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
  },
  {
    // The CLI carries the workspace packages' code with it, so `node dist/cli.js` runs both when
    // published and inside the workspace (whose packages export TypeScript sources).
    entry: ['src/cli.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    target: 'node20',
    noExternal: [/^@anchorage\//],
  },
]);
