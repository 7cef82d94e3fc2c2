import { AnchorageError } from '@anchorage/loss-core';
import { type BundleInput, decodeImage as decodeBundleImage } from '@anchorage/model-bundle';
import { ApiError } from './errors.js';

export { type ImageFormat, MAX_INPUT_PIXELS, sniffImageFormat } from '@anchorage/model-bundle';

/** Input geometry of the model: the manifest's `input`. */
export type ModelInput = BundleInput;

/**
 * Decodes a JPEG, PNG or WebP and returns its pixels as the model takes them: height×width×
 * channels bytes (0–255), resized by the manifest's `input.fit` (absent: `fill`, a stretch) with
 * the same code that resized the training and test images; alpha is flattened onto black; one
 * channel means greyscale (Rec. 709 luma), three sRGB. Throws `ApiError` 415 for other formats
 * and 422 for a corrupt image.
 */
export async function decodeImage(bytes: Uint8Array, input: ModelInput): Promise<Uint8Array> {
  try {
    return await decodeBundleImage(bytes, input);
  } catch (error) {
    if (error instanceof AnchorageError && error.code === 'UNSUPPORTED') {
      throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', error.message, 'image');
    }
    if (error instanceof AnchorageError && error.code === 'CORRUPT_FILE') {
      throw new ApiError(422, 'CORRUPT_IMAGE', error.message, 'image');
    }
    throw error;
  }
}
