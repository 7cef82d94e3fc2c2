import { AnchorageError } from '@anchorage/loss-core';
import { Random } from '../random';

/**
 * Training-time augmentation (`--augment`): `crop-flip` pads by an eighth of the side with black
 * and crops back at a random offset, then mirrors half the images; `resized-crop-flip` crops a
 * random box (8–100 % of the area, aspect ratio 3/4–4/3) and resizes it back (bilinear), then
 * mirrors half. Evaluation never augments.
 */
export type AugmentPolicy = 'none' | 'crop-flip' | 'resized-crop-flip';

/** The policies, for CLI choices and validation. */
export const AUGMENT_POLICIES: readonly AugmentPolicy[] = ['none', 'crop-flip', 'resized-crop-flip'];

/**
 * The generator of one batch's augmentation, a function of the run's seed, the epoch and the
 * batch only: a run resumed mid-epoch draws exactly what the uninterrupted run drew, with no
 * extra state in the checkpoint.
 */
export function augmentRandom(seed: number, epoch: number, batch: number): Random {
  return new Random((seed ^ Math.imul(epoch + 1, 0x9e3779b1) ^ Math.imul(batch + 1, 0x85ebca6b)) | 0);
}

/** Checks a policy name, throwing `AnchorageError` naming it. */
export function checkAugmentPolicy(policy: string): AugmentPolicy {
  if (!AUGMENT_POLICIES.includes(policy as AugmentPolicy)) {
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      `augment must be one of ${AUGMENT_POLICIES.join(', ')}, got ${policy}`,
      {
        argument: 'augment',
        value: policy,
      },
    );
  }
  return policy as AugmentPolicy;
}

/**
 * Augments one H×W×C uint8 image from `source` into `target` (both height × width × channels
 * bytes; they must not overlap), drawing from `rng`.
 */
export function augmentImage(
  source: Uint8Array,
  target: Uint8Array,
  shape: { height: number; width: number; channels: number },
  policy: AugmentPolicy,
  rng: Random,
): void {
  const { height: h, width: w, channels: c } = shape;
  if (policy === 'none') {
    target.set(source);
    return;
  }
  if (policy === 'crop-flip') {
    const pad = Math.max(1, Math.round(Math.min(h, w) / 8));
    const dy = rng.nextInt(2 * pad + 1) - pad;
    const dx = rng.nextInt(2 * pad + 1) - pad;
    const flip = rng.nextFloat() < 0.5;
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      for (let x = 0; x < w; x++) {
        const sx = (flip ? w - 1 - x : x) + dx;
        const out = (y * w + x) * c;
        if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
          target.fill(0, out, out + c);
        } else {
          const from = (sy * w + sx) * c;
          for (let k = 0; k < c; k++) target[out + k] = source[from + k]!;
        }
      }
    }
    return;
  }
  // random-resized crop: a box of random area and aspect ratio, resized back with bilinear sampling
  let bw = w;
  let bh = h;
  for (let attempt = 0; attempt < 10; attempt++) {
    const area = h * w * (0.08 + 0.92 * rng.nextFloat());
    const ratio = Math.exp(Math.log(3 / 4) + (Math.log(4 / 3) - Math.log(3 / 4)) * rng.nextFloat());
    const cw = Math.round(Math.sqrt(area * ratio));
    const ch = Math.round(Math.sqrt(area / ratio));
    if (cw >= 1 && ch >= 1 && cw <= w && ch <= h) {
      bw = cw;
      bh = ch;
      break;
    }
  }
  const x0 = rng.nextInt(w - bw + 1);
  const y0 = rng.nextInt(h - bh + 1);
  const flip = rng.nextFloat() < 0.5;
  for (let y = 0; y < h; y++) {
    // pixel centres of the output mapped into the box (align-corners off)
    const fy = Math.min(Math.max(y0 + ((y + 0.5) * bh) / h - 0.5, 0), h - 1);
    const y1 = Math.floor(fy);
    const y2 = Math.min(y1 + 1, h - 1);
    const wy = fy - y1;
    for (let x = 0; x < w; x++) {
      const ox = flip ? w - 1 - x : x;
      const fx = Math.min(Math.max(x0 + ((ox + 0.5) * bw) / w - 0.5, 0), w - 1);
      const x1 = Math.floor(fx);
      const x2 = Math.min(x1 + 1, w - 1);
      const wx = fx - x1;
      const out = (y * w + x) * c;
      for (let k = 0; k < c; k++) {
        const a = source[(y1 * w + x1) * c + k]!;
        const b = source[(y1 * w + x2) * c + k]!;
        const d = source[(y2 * w + x1) * c + k]!;
        const e = source[(y2 * w + x2) * c + k]!;
        const top = a + (b - a) * wx;
        const bottom = d + (e - d) * wx;
        target[out + k] = Math.round(top + (bottom - top) * wy);
      }
    }
  }
}
