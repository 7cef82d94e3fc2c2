import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadBundle } from './bundle.js';
import { writeBundle } from './test-fixtures.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'anchorage-bundle-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function expectRefused(fn: () => unknown, code: string, text: RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AnchorageError);
    expect((error as AnchorageError).code).toBe(code);
    expect((error as Error).message).toMatch(text);
    return;
  }
  throw new Error('expected the bundle to be refused');
}

describe('loadBundle', () => {
  it('reads manifest, anchors (C×d row-major) and the optional model', () => {
    writeBundle(dir, { dim: 2, classes: 3 });
    const plain = loadBundle(dir);
    expect(plain).toMatchObject({ dim: 2, classes: ['class-0', 'class-1', 'class-2'], modelPath: undefined });
    expect(Array.from(plain.anchors)).toEqual([10, 0, 0, 10, -10, 0]);
    writeBundle(dir, { dim: 2, classes: 3, model: { height: 2, width: 2, channels: 1 } });
    expect(loadBundle(dir).modelPath).toBe(join(dir, 'model.onnx'));
  });

  it('refuses broken bundles with the file and field at fault', () => {
    expectRefused(() => loadBundle(join(dir, 'missing')), 'NOT_FOUND', /manifest\.json/);
    writeBundle(dir, { dim: 2, classes: 2 });
    writeFileSync(join(dir, 'manifest.json'), '{"formatVersion": 1, "dim": 2');
    expectRefused(() => loadBundle(dir), 'CORRUPT_FILE', /not valid JSON/);
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ formatVersion: 2, dim: 2, classes: ['a', 'b'] }),
    );
    expectRefused(() => loadBundle(dir), 'UNSUPPORTED_VERSION', /formatVersion 2/);
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ formatVersion: 1, dim: 0, classes: ['a', 'b'] }),
    );
    expectRefused(() => loadBundle(dir), 'CORRUPT_FILE', /dim/);
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ formatVersion: 1, dim: 3, classes: ['a', 'b'] }),
    );
    expectRefused(
      () => loadBundle(dir),
      'CORRUPT_FILE',
      /anchors\.json: dim 2 differs from manifest\.json dim 3/,
    );
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ formatVersion: 1, dim: 2, classes: ['a', 'b', 'c'] }),
    );
    expectRefused(() => loadBundle(dir), 'CORRUPT_FILE', /2 anchors but manifest\.json names 3 classes/);
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ formatVersion: 1, dim: 2, classes: ['a', 'b'] }),
    );
    writeFileSync(join(dir, 'anchors.json'), JSON.stringify({ dim: 2, anchors: [[1, 2], [3]] }));
    expectRefused(() => loadBundle(dir), 'CORRUPT_FILE', /row 1 has 1 numbers, expected 2/);
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({
        formatVersion: 1,
        dim: 2,
        classes: ['a', 'b'],
        input: { height: 2, width: 2, channels: 3, mean: [0, 0], std: [1] },
      }),
    );
    writeFileSync(
      join(dir, 'anchors.json'),
      JSON.stringify({
        dim: 2,
        anchors: [
          [1, 2],
          [3, 4],
        ],
      }),
    );
    expectRefused(() => loadBundle(dir), 'CORRUPT_FILE', /input\.mean has 2 values, expected 1 or 3/);
    writeBundle(dir, { dim: 2, classes: 2 });
    // finite as a double, infinite as the float32 the anchors are kept in
    writeFileSync(join(dir, 'anchors.json'), '{"dim": 2, "anchors": [[1, 2], [3, 1e39]]}');
    expectRefused(() => loadBundle(dir), 'CORRUPT_FILE', /finite float32/);
  });
});
