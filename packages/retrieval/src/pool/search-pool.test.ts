import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnchorageError } from '@anchorage/loss-core';
import { describe, expect, it } from 'vitest';
import { AnchorIndex } from '../anchor/anchor-index.js';
import { SearchPool } from './search-pool.js';

describe('SearchPool', () => {
  it('refuses a bad worker count, an index it cannot search, and use after close', async () => {
    for (const workers of [0, 16, 1.5]) {
      expect(() => new SearchPool({ workers })).toThrow(AnchorageError);
    }
    const pool = new SearchPool({ workers: 1 });
    const index = new AnchorIndex({ dim: 2, anchors: Float32Array.of(0, 0, 5, 5) });
    index.add({ ids: ['a', 'b'], vectors: Float32Array.of(0, 1, 5, 4) });
    expect(() => pool.searchBatch({}, new Float32Array(2))).toThrow(/AnchorIndex and FlatIndex/);
    expect(() => pool.searchBatch(index, new Float32Array(3))).toThrow(AnchorageError);
    const [answer] = await pool.search(index, Float32Array.of(5, 5), { k: 1 });
    expect(answer!.hits[0]).toMatchObject({ id: 'b', distance: 1, bucket: 1 });
    await pool.close();
    await pool.close();
    await expect(pool.search(index, Float32Array.of(5, 5))).rejects.toThrow(/closed/);
    // the index writes again once nothing reads it
    index.remove('a');
    expect(index.size).toBe(1);
  });

  it('does not keep the process alive: a script that never closes its pool exits (run with a V8 heap flag its workers must not inherit)', () => {
    const source = fileURLToPath(new URL('../index.ts', import.meta.url));
    const script = `
      import { AnchorIndex, SearchPool } from ${JSON.stringify(source)};
      const index = new AnchorIndex({ dim: 2, anchors: Float32Array.of(0, 0, 5, 5) });
      index.add({ ids: [1, 2, 3], vectors: Float32Array.of(0, 1, 5, 4, 1, 1) });
      const pool = new SearchPool({ workers: 2 });
      const answers = await pool.search(index, Float32Array.of(5, 5, 0, 0), { k: 2 });
      console.log(JSON.stringify(answers.map((a) => a.hits.map((h) => h.id))));
    `;
    const dir = mkdtempSync(join(tmpdir(), 'anchorage-pool-'));
    writeFileSync(join(dir, 'script.mts'), script);
    const run = spawnSync(
      process.execPath,
      ['--max-old-space-size=512', '--import', 'tsx', join(dir, 'script.mts')],
      {
        encoding: 'utf8',
      },
    );
    rmSync(dir, { recursive: true, force: true });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([[2], [1, 3]]);
  });
});
