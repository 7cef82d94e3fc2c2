import sharp from 'sharp';
import type { Manifest } from './bundle.js';
import { ApiError } from './errors.js';

/** Image formats the server decodes, detected from their leading bytes. */
export type ImageFormat = 'jpeg' | 'png' | 'webp';

/** The format an image's leading bytes announce, or undefined for anything else. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (
    bytes.length >= 8 &&
    bytes[0] === 0x89 &&
    bytes[1] === 0x50 &&
    bytes[2] === 0x4e &&
    bytes[3] === 0x47 &&
    bytes[4] === 0x0d &&
    bytes[5] === 0x0a &&
    bytes[6] === 0x1a &&
    bytes[7] === 0x0a
  ) {
    return 'png';
  }
  if (
    bytes.length >= 12 &&
    String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!) === 'RIFF' &&
    String.fromCharCode(bytes[8]!, bytes[9]!, bytes[10]!, bytes[11]!) === 'WEBP'
  ) {
    return 'webp';
  }
  return undefined;
}

/** Largest decoded image accepted, in pixels, so a small file cannot expand into gigabytes. */
export const MAX_INPUT_PIXELS = 40_000_000;

/** Input geometry of the model: the manifest's `input`. */
export type ModelInput = NonNullable<Manifest['input']>;

/**
 * Decodes a JPEG, PNG or WebP and returns its pixels resized to the model's input: height×width×
 * channels bytes (0–255), row-major NHWC. The resize stretches to exactly width×height (sharp
 * `fit: 'fill'`, Lanczos-3 kernel: no crop, aspect ratio not kept); transparency is flattened onto
 * black; one channel means sharp's greyscale (Rec. 709 luma), three channels sRGB.
 * Throws `ApiError` 415 for other formats and 422 for a corrupt image.
 */
export async function decodeImage(bytes: Uint8Array, input: ModelInput): Promise<Uint8Array> {
  const format = sniffImageFormat(bytes);
  if (!format) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'the image is not JPEG, PNG or WebP', 'image');
  }
  try {
    let pipeline = sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .resize(input.width, input.height, { fit: 'fill', kernel: 'lanczos3' });
    pipeline = input.channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== input.channels || info.width !== input.width || info.height !== input.height) {
      throw new Error(`decoded ${info.width}×${info.height}×${info.channels}`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : 'unknown';
    throw new ApiError(422, 'CORRUPT_IMAGE', `the ${format} image cannot be decoded: ${reason}`, 'image');
  }
}
