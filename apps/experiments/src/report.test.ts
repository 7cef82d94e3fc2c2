import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { committedReport } from './report.js';
import { readResults } from './results.js';
import { SUITE_RESULTS } from './select.js';

describe('the committed report', () => {
  it('is what the committed result file gives (regenerate it with `pnpm experiments report --out`)', async () => {
    const results = await readResults(SUITE_RESULTS);
    const committed = await readFile(join(dirname(SUITE_RESULTS), 'report.md'), 'utf8');
    expect(committed).toBe(committedReport(results));
    expect(committed).toMatch(/### verdict: /);
    expect(committed).toContain(`${results.length} runs`);
  });
});
