import { defineConfig } from 'vitest/config';

// turbo runs every package's tests at once on as few as two cores: the limits only catch a hang
// (the browser check itself takes seconds; building a missing site takes about a minute).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
