import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// tfjs's webgpu backend cannot read a tensor back synchronously in Node (it needs OffscreenCanvas),
// so a dataSync/arraySync/bufferSync on a path webgpu can take breaks GPU training. The only ones
// allowed are behind a check that the backend can read synchronously, listed here with the reason.
const ALLOWED: Record<string, { count: number; why: string }> = {
  'losses/cam-op.ts': {
    count: 3,
    why: "loss-core's CPU path (chosen only when canReadSynchronously()) and TfCamLoss#anchorValues, which no training path calls",
  },
  'losses/cam.ts': { count: 1, why: 'the labels for that CPU path, in the same branch' },
  'export/tfjs-to-onnx.ts': { count: 1, why: 'fallback for callers that pass no weightValues' },
  'backends/conv2d-gradient.ts': {
    count: 1,
    why: "the strided input gradient's filter taps: it runs only on cpu (FORWARD_CONV_GRADIENT_BACKENDS) and in wasm's own backprop kernels, never on webgpu",
  },
};

const src = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    const isTest = /\.test\.ts$|test-support\.ts$/.test(entry.name);
    return entry.name.endsWith('.ts') && !isTest ? [path] : [];
  });
}

describe('synchronous read-backs in the trainer', () => {
  it('appear only where a backend that cannot read synchronously never gets', () => {
    const found: Record<string, number> = {};
    for (const file of sources(src)) {
      const code = readFileSync(file, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      const count = (code.match(/\.(dataSync|arraySync|bufferSync)\s*\(/g) ?? []).length;
      if (count > 0) found[relative(src, file)] = count;
    }
    expect(found).toEqual(
      Object.fromEntries(Object.entries(ALLOWED).map(([file, { count }]) => [file, count])),
    );
  });

  it("the CAM loss takes loss-core's path only where reading back synchronously works", () => {
    const cam = readFileSync(join(src, 'losses', 'cam.ts'), 'utf8');
    const guard = cam.indexOf('if (!canReadSynchronously())');
    expect(guard).toBeGreaterThan(0);
    expect(cam.indexOf('labels.dataSync()')).toBeGreaterThan(guard);
  });
});
