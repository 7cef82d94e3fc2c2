import { AnchorageError } from '@anchorage/loss-core';
import { z } from 'zod';

/** The manifest format this package writes and reads. */
export const BUNDLE_FORMAT_VERSION = 1;

/** File names inside a model bundle folder. */
export const BUNDLE_FILES = {
  manifest: 'manifest.json',
  anchors: 'anchors.json',
  model: 'model.onnx',
} as const;

/**
 * How an image of another size becomes the model's height×width:
 * - `cover`: scale to cover the target keeping the aspect ratio, then crop the centre;
 * - `contain`: scale to fit inside keeping the aspect ratio, black borders;
 * - `fill`: stretch to exactly height×width;
 * - `pad`: no scaling; centred on a black canvas (or its centre cropped when larger).
 */
export type ImageFit = 'cover' | 'contain' | 'fill' | 'pad';

/** The fit policies, for CLI choices and validation. */
export const IMAGE_FITS: readonly ImageFit[] = ['cover', 'contain', 'fill', 'pad'];

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

/** Schema of the manifest's `input`: what `model.onnx` expects (NHWC images of this size). */
export const bundleInputSchema = z.looseObject({
  height: z.number().int().positive(),
  width: z.number().int().positive(),
  channels: z.union([z.literal(1), z.literal(3)]),
  /** Per-channel mean of `pixel / 255` (1 or `channels` numbers). */
  mean: z.array(finite).min(1).optional(),
  /** Per-channel standard deviation of `pixel / 255`, > 0 (1 or `channels` numbers). */
  std: z
    .array(finite.refine((v) => v > 0, 'must be > 0'))
    .min(1)
    .optional(),
  /**
   * true or absent: `model.onnx` takes raw 0–255 pixels and normalises in the graph; false: the
   * caller feeds `(x/255 − mean)/std`.
   */
  normalizedInGraph: z.boolean().optional(),
  /** How an image of another size is resized to height×width, as training did; absent: `fill`. */
  fit: z.enum(['cover', 'contain', 'fill', 'pad']).optional(),
});

/** Schema of `manifest.json` (the docs' artifacts page); unknown fields are kept. */
export const manifestSchema = z.looseObject({
  formatVersion: z.literal(BUNDLE_FORMAT_VERSION),
  /** Embedding size d. */
  dim: z.number().int().positive(),
  /** Class names, indexed by label; one anchor per class. */
  classes: z.array(z.string()).min(1),
  input: bundleInputSchema.optional(),
  loss: z.record(z.string(), z.unknown()).optional(),
  training: z.record(z.string(), z.unknown()).optional(),
  metrics: z.record(z.string(), z.unknown()).optional(),
});

/** What `model.onnx` expects: the manifest's `input`. */
export type BundleInput = z.infer<typeof bundleInputSchema>;

/** A parsed `manifest.json`. Only `formatVersion`, `dim` and `classes` are required. */
export type BundleManifest = z.infer<typeof manifestSchema>;

function corrupt(where: string, message: string, value: unknown): AnchorageError {
  return new AnchorageError('CORRUPT_FILE', `${where}: ${message}`, { argument: 'bundle', value });
}

/**
 * Checks a parsed `manifest.json` and returns it typed; `where` prefixes error messages (a path).
 * Throws AnchorageError `UNSUPPORTED_VERSION` for a newer format, `CORRUPT_FILE` naming the field.
 */
export function validateManifest(value: unknown, where: string = BUNDLE_FILES.manifest): BundleManifest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw corrupt(where, 'must be a JSON object', value);
  }
  const version = (value as { formatVersion?: unknown }).formatVersion;
  if (typeof version === 'number' && Number.isInteger(version) && version > BUNDLE_FORMAT_VERSION) {
    throw new AnchorageError(
      'UNSUPPORTED_VERSION',
      `${where}: formatVersion ${version} is newer than this version understands (${BUNDLE_FORMAT_VERSION})`,
      { argument: 'bundle', value: version },
    );
  }
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length ? issue.path.join('.') : '(root)';
    throw corrupt(where, `${field}: ${issue.message}`, value);
  }
  const input = parsed.data.input;
  if (input) {
    for (const key of ['mean', 'std'] as const) {
      const values = input[key];
      if (values && values.length !== 1 && values.length !== input.channels) {
        throw corrupt(
          where,
          `input.${key} has ${values.length} values, expected 1 or ${input.channels}`,
          values,
        );
      }
    }
  }
  // the value itself, not zod's copy: key order and unknown fields stay exactly as written
  return value as BundleManifest;
}

/**
 * Checks a parsed `anchors.json` (`{ dim, anchors: number[][] }`) against the manifest and returns
 * the anchors C×d row-major as float32 (a value finite as a double but not as a float32 is refused).
 */
export function validateAnchors(
  value: unknown,
  manifest: Pick<BundleManifest, 'dim' | 'classes'>,
  where: string = BUNDLE_FILES.anchors,
): Float32Array {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw corrupt(where, 'must be a JSON object', value);
  }
  const { dim, anchors } = value as { dim?: unknown; anchors?: unknown };
  if (dim !== manifest.dim) {
    throw corrupt(where, `dim ${String(dim)} differs from manifest.json dim ${manifest.dim}`, dim);
  }
  const classes = manifest.classes.length;
  if (!Array.isArray(anchors) || anchors.length !== classes) {
    const count = Array.isArray(anchors) ? anchors.length : 0;
    throw corrupt(
      where,
      `${count} anchors but manifest.json names ${classes} classes (one row per class)`,
      count,
    );
  }
  const out = new Float32Array(classes * manifest.dim);
  anchors.forEach((row: unknown, c) => {
    if (!Array.isArray(row) || row.length !== manifest.dim) {
      const length = Array.isArray(row) ? row.length : 0;
      throw corrupt(where, `row ${c} has ${length} numbers, expected ${manifest.dim}`, c);
    }
    row.forEach((v: unknown) => {
      if (typeof v !== 'number' || !Number.isFinite(Math.fround(v))) {
        throw corrupt(where, `row ${c} must hold finite float32 numbers (|x| < 3.4e38), got ${String(v)}`, c);
      }
    });
    out.set(row as number[], c * manifest.dim);
  });
  return out;
}
