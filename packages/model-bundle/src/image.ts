import { AnchorageError } from '@anchorage/loss-core';
import sharp from 'sharp';
import type { BundleInput, ImageFit } from './manifest';

/** The size and channels an image is converted to, and how. */
export interface ImageGeometry {
  readonly height: number;
  readonly width: number;
  /** 1 (grey, Rec. 709 luma) or 3 (sRGB); alpha is flattened onto black. */
  readonly channels: number;
  readonly fit: ImageFit;
}

/** Decoded pixels: height×width×channels bytes, row-major, channels last. */
export interface RawImage {
  readonly data: Uint8Array;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/** Largest decoded image accepted, in pixels, so a small file cannot expand into gigabytes. */
export const MAX_INPUT_PIXELS = 40_000_000;

/** Centres `image` on a black target canvas, cropping the centre where it is larger. */
function padOrCrop(image: RawImage, height: number, width: number): Uint8Array {
  const { channels } = image;
  const out = new Uint8Array(height * width * channels);
  // offset of the image on the canvas: half the margin, rounded towards the top-left either way
  const offset = (to: number, from: number) =>
    to >= from ? Math.floor((to - from) / 2) : -Math.floor((from - to) / 2);
  const dy = offset(height, image.height);
  const dx = offset(width, image.width);
  for (let y = 0; y < height; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= image.height) continue;
    const x0 = Math.max(0, dx);
    const x1 = Math.min(width, dx + image.width);
    if (x1 <= x0) continue;
    const src = (sy * image.width + (x0 - dx)) * channels;
    out.set(image.data.subarray(src, src + (x1 - x0) * channels), (y * width + x0) * channels);
  }
  return out;
}

/**
 * Converts an encoded image (JPEG, PNG, WebP…) or raw pixels to `target`: resized by its fit
 * policy, alpha flattened onto black, grey or sRGB. Returns height×width×channels bytes. Raw
 * pixels already of the target's size and channels are returned as a copy, unchanged.
 * Throws whatever sharp throws for an undecodable image (callers name the file).
 * @example
 * const pixels = await fitImage(await readFile('cat.jpg'), { height: 64, width: 64, channels: 3, fit: 'cover' });
 */
export async function fitImage(source: Uint8Array | RawImage, target: ImageGeometry): Promise<Uint8Array> {
  const { height, width, channels, fit } = target;
  if (channels !== 1 && channels !== 3) {
    throw new AnchorageError('INVALID_ARGUMENT', `channels must be 1 or 3, got ${channels}`, {
      argument: 'channels',
      value: channels,
    });
  }
  const raw = source instanceof Uint8Array ? undefined : source;
  if (raw && raw.height === height && raw.width === width && raw.channels === channels) {
    return raw.data.slice();
  }
  let pipeline = raw
    ? sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels as 1 | 3 | 4 } })
    : sharp(source as Uint8Array, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' });
  if (fit !== 'pad') {
    pipeline = pipeline.resize(width, height, {
      fit,
      kernel: 'lanczos3',
      background: { r: 0, g: 0, b: 0, alpha: 1 },
    });
  }
  pipeline = pipeline
    .flatten({ background: { r: 0, g: 0, b: 0 } })
    .toColourspace(channels === 1 ? 'b-w' : 'srgb');
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels) {
    throw new AnchorageError('UNSUPPORTED', `decoded ${info.channels} channels, expected ${channels}`, {
      argument: 'image',
      value: info.channels,
    });
  }
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (info.width === width && info.height === height) return pixels;
  return padOrCrop({ data: pixels, height: info.height, width: info.width, channels }, height, width);
}

/** Image formats decoded, detected from their leading bytes. */
export type ImageFormat = 'jpeg' | 'png' | 'webp';

/** The format an image's leading bytes announce, or undefined for anything else. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png';
  const text = (from: number) => String.fromCharCode(...bytes.subarray(from, from + 4));
  if (bytes.length >= 12 && text(0) === 'RIFF' && text(8) === 'WEBP') return 'webp';
  return undefined;
}

/**
 * Decodes a JPEG, PNG or WebP query image to a bundle's input: height×width×channels bytes
 * (0–255), resized by the manifest's `input.fit` (absent: `fill`) exactly as training and
 * evaluation resized theirs. Throws `AnchorageError` `UNSUPPORTED` for other formats and
 * `CORRUPT_FILE` for an image that does not decode.
 * @example
 * const pixels = await decodeImage(await readFile('query.jpg'), bundle.manifest.input!);
 */
export async function decodeImage(bytes: Uint8Array, input: BundleInput): Promise<Uint8Array> {
  const format = sniffImageFormat(bytes);
  if (!format) {
    throw new AnchorageError('UNSUPPORTED', 'the image is not JPEG, PNG or WebP', { argument: 'image' });
  }
  try {
    return await fitImage(bytes, {
      height: input.height,
      width: input.width,
      channels: input.channels,
      fit: input.fit ?? 'fill',
    });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : 'unknown';
    throw new AnchorageError('CORRUPT_FILE', `the ${format} image cannot be decoded: ${reason}`, {
      argument: 'image',
      value: format,
      cause,
    });
  }
}
