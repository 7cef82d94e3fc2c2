import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { afterAll, describe, expect, it } from 'vitest';
import { readBundle, writeBundle } from './bundle';
import { type BundleManifest, validateAnchors, validateManifest } from './manifest';

const root = await mkdtemp(join(tmpdir(), 'anchorage-bundle-'));
afterAll(() => rm(root, { recursive: true, force: true }));

const manifest: BundleManifest = {
  formatVersion: 1,
  dim: 3,
  classes: ['cat', 'dog'],
  input: { height: 4, width: 5, channels: 1, mean: [0.5], std: [0.25], normalizedInGraph: true },
  loss: { name: 'cam', margin: 1 },
  training: { epochs: 2 },
  metrics: { mAP: 0.5 },
  note: 'extra fields are kept',
};
const anchors = Float32Array.from([0.1, -0.2, 0.3, 1 / 3, 2e-8, -5]);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof AnchorageError ? e.code : 'not an AnchorageError';
  }
  return undefined;
}

describe('model bundle', () => {
  it('round-trips manifest, anchors (bit-exact float32) and model bytes', async () => {
    const dir = join(root, 'full');
    const model = Uint8Array.from([8, 1, 2, 3]);
    await writeBundle(dir, { manifest, anchors, model });
    const back = await readBundle(dir);
    expect(back.manifest).toEqual(manifest);
    expect(Array.from(back.anchors)).toEqual(Array.from(anchors));
    expect(back.model).toEqual(model);
    expect(back.modelPath).toBe(join(dir, 'model.onnx'));
    const anchorsJson = JSON.parse(await readFile(join(dir, 'anchors.json'), 'utf8'));
    expect(anchorsJson.dim).toBe(3);
    expect(anchorsJson.anchors).toHaveLength(2);
  });

  it('a bundle without model.onnx serves vectors only; rewriting without a model removes a stale one', async () => {
    const dir = join(root, 'vectors');
    await writeBundle(dir, { manifest, anchors, model: Uint8Array.from([1]) });
    await writeBundle(dir, { manifest: { formatVersion: 1, dim: 3, classes: ['a', 'b'] }, anchors });
    const back = await readBundle(dir);
    expect(back.model).toBeUndefined();
    expect(back.modelPath).toBeUndefined();
    expect(back.manifest.classes).toEqual(['a', 'b']);
  });

  it('refuses invalid manifests naming the field', () => {
    const bad: [unknown, RegExp | string][] = [
      [[], /JSON object/],
      [{ ...manifest, formatVersion: 2 }, 'UNSUPPORTED_VERSION'],
      [{ ...manifest, formatVersion: 0 }, /formatVersion/],
      [{ ...manifest, dim: 0 }, /dim/],
      [{ ...manifest, classes: [] }, /classes/],
      [{ ...manifest, classes: [1, 2] }, /classes/],
      [{ ...manifest, input: { ...manifest.input, height: 1.5 } }, /input\.height/],
      [{ ...manifest, input: { ...manifest.input, mean: [0, 0] } }, /input\.mean/],
      [{ ...manifest, input: { ...manifest.input, std: [0] } }, /input\.std/],
      [{ ...manifest, input: { ...manifest.input, normalizedInGraph: 'yes' } }, /normalizedInGraph/],
      [{ ...manifest, metrics: [1] }, /metrics/],
    ];
    for (const [value, expected] of bad) {
      if (typeof expected === 'string') expect(codeOf(() => validateManifest(value))).toBe(expected);
      else expect(() => validateManifest(value)).toThrow(expected);
    }
    expect(validateManifest({ formatVersion: 1, dim: 2, classes: ['x'] })).toEqual({
      formatVersion: 1,
      dim: 2,
      classes: ['x'],
    });
  });

  it('refuses anchors that disagree with the manifest', () => {
    expect(() => validateAnchors({ dim: 4, anchors: [] }, manifest)).toThrow(/dim 4/);
    expect(() => validateAnchors({ dim: 3, anchors: [[1, 2, 3]] }, manifest)).toThrow(/one row per class/);
    expect(() =>
      validateAnchors(
        {
          dim: 3,
          anchors: [
            [1, 2, 3],
            [1, 2],
          ],
        },
        manifest,
      ),
    ).toThrow(/row 1/);
    expect(() =>
      validateAnchors(
        {
          dim: 3,
          anchors: [
            [1, 2, 3],
            [1, 2, null],
          ],
        },
        manifest,
      ),
    ).toThrow(/row 1/);
  });

  it('writes nothing when the bundle is invalid', async () => {
    const dir = join(root, 'never');
    await expect(writeBundle(dir, { manifest, anchors: anchors.subarray(1) })).rejects.toThrow(
      /classes × dim/,
    );
    await expect(
      writeBundle(dir, { manifest, anchors: Float32Array.from([0, 0, 0, 0, 0, Number.NaN]) }),
    ).rejects.toThrow(AnchorageError);
    const { input: _input, ...noInput } = manifest;
    await expect(
      writeBundle(dir, { manifest: noInput as BundleManifest, anchors, model: Uint8Array.from([1]) }),
    ).rejects.toThrow(/needs manifest.input/);
    await expect(readFile(join(dir, 'manifest.json'))).rejects.toThrow();
  });

  it('reading reports a missing folder, broken JSON and a model without input', async () => {
    await expect(readBundle(join(root, 'missing'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const dir = join(root, 'broken');
    await writeBundle(dir, { manifest, anchors });
    await writeFile(join(dir, 'anchors.json'), '{"dim": 3, "anch');
    await expect(readBundle(dir)).rejects.toMatchObject({ code: 'CORRUPT_FILE' });
    const noInput = join(root, 'no-input');
    await writeBundle(noInput, { manifest: { formatVersion: 1, dim: 3, classes: ['a', 'b'] }, anchors });
    await writeFile(join(noInput, 'model.onnx'), Uint8Array.from([1]));
    await expect(readBundle(noInput)).rejects.toThrow(/needs "input"/);
  });
});
