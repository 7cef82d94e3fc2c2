import { defineConfig } from 'vitest/config';

// Inside the workspace the packages import each other's TypeScript sources through the
// "@anchorage/source" export condition; published packages (and built code) resolve dist.
// Tests resolve the condition in vite, in vitest's worker processes (worker_threads started by the
// trainer inherit their execArgv) and in every child process a test spawns (NODE_OPTIONS).
const conditions = ['@anchorage/source'];
const flags = conditions.map((c) => `--conditions=${c}`);

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    // turbo runs the packages' suites at once on as few as two cores, often beside other work: a
    // per-test wall-clock limit there fails by chance, not by defect. Tests bound their work
    // instead (sizes and iteration counts); these limits only catch a hang.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    execArgv: flags,
    env: { NODE_OPTIONS: [process.env.NODE_OPTIONS, ...flags].filter(Boolean).join(' ') },
  },
});
