import { defineConfig } from 'vitest/config';

// turbo runs the four packages' suites at once on as few as two cores, often beside other work:
// a per-test wall-clock limit there fails by chance, not by defect. Tests bound their work instead
// (sizes and iteration counts), and the limits below only catch a hang.
export default defineConfig({
  test: {
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
