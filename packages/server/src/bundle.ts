import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { z } from 'zod';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
// anchors become float32: a finite double such as 1e39 would turn into Infinity
const finiteFloat32 = z
  .number()
  .refine((v) => Number.isFinite(Math.fround(v)), 'must be a finite float32 number (|x| < 3.4e38)');

/** Schema of `manifest.json` (the docs' artifacts page, apps/docs/src/concepts/artifacts.md); unknown fields are kept. */
export const manifestSchema = z.looseObject({
  formatVersion: z.literal(1),
  dim: z.number().int().positive(),
  classes: z.array(z.string()).min(1),
  input: z
    .looseObject({
      height: z.number().int().positive(),
      width: z.number().int().positive(),
      channels: z.union([z.literal(1), z.literal(3)]),
      mean: z.array(finite).optional(),
      std: z.array(finite.refine((v) => v > 0, 'must be > 0')).optional(),
      /** false: the server applies `(x/255 − mean)/std`; otherwise the graph takes raw 0–255 pixels. */
      normalizedInGraph: z.boolean().optional(),
    })
    .optional(),
  loss: z.unknown().optional(),
  training: z.unknown().optional(),
  metrics: z.unknown().optional(),
});

/** A parsed `manifest.json`. */
export type Manifest = z.infer<typeof manifestSchema>;

const anchorsSchema = z.object({
  dim: z.number().int().positive(),
  anchors: z.array(z.array(finiteFloat32)).min(1),
});

/** A model bundle read from its folder. `anchors` is C×dim row-major. */
export interface ModelBundle {
  dir: string;
  manifest: Manifest;
  dim: number;
  classes: string[];
  anchors: Float32Array;
  /** Path of `model.onnx`, or undefined when the bundle serves vector queries only. */
  modelPath: string | undefined;
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new AnchorageError('INVALID_ARGUMENT', `cannot read ${what} at ${path}`, {
      argument: 'bundle',
      value: path,
      cause,
    });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new AnchorageError('CORRUPT_FILE', `${what} at ${path} is not valid JSON`, {
      argument: 'bundle',
      value: path,
      cause,
    });
  }
}

function check<T>(schema: z.ZodType<T>, value: unknown, what: string, path: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : '(root)';
    throw new AnchorageError('CORRUPT_FILE', `${what} at ${path}: ${where}: ${issue.message}`, {
      argument: 'bundle',
      value: path,
    });
  }
  return parsed.data;
}

/**
 * Reads and validates a model bundle folder: `manifest.json`, `anchors.json` and the optional
 * `model.onnx`. Throws `AnchorageError` (`CORRUPT_FILE`, `INVALID_ARGUMENT`, `UNSUPPORTED_VERSION`)
 * naming the file and field at fault.
 */
export function loadBundle(dir: string): ModelBundle {
  const manifestPath = join(dir, 'manifest.json');
  const rawManifest = readJson(manifestPath, 'manifest.json');
  const version = (rawManifest as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof version === 'number' && version > 1) {
    throw new AnchorageError(
      'UNSUPPORTED_VERSION',
      `manifest.json formatVersion ${version} is newer than this server understands (1)`,
      { argument: 'bundle', value: version },
    );
  }
  const manifest = check(manifestSchema, rawManifest, 'manifest.json', manifestPath);
  const anchorsPath = join(dir, 'anchors.json');
  const anchorsFile = check(
    anchorsSchema,
    readJson(anchorsPath, 'anchors.json'),
    'anchors.json',
    anchorsPath,
  );
  const { dim, classes } = manifest;
  if (anchorsFile.dim !== dim) {
    throw new AnchorageError(
      'CORRUPT_FILE',
      `anchors.json dim ${anchorsFile.dim} differs from manifest.json dim ${dim}`,
      { argument: 'bundle', value: anchorsFile.dim },
    );
  }
  if (anchorsFile.anchors.length !== classes.length) {
    throw new AnchorageError(
      'CORRUPT_FILE',
      `anchors.json has ${anchorsFile.anchors.length} anchors but manifest.json names ${classes.length} classes`,
      { argument: 'bundle', value: anchorsFile.anchors.length },
    );
  }
  const anchors = new Float32Array(classes.length * dim);
  anchorsFile.anchors.forEach((row, c) => {
    if (row.length !== dim) {
      throw new AnchorageError(
        'CORRUPT_FILE',
        `anchors.json row ${c} has ${row.length} numbers, expected ${dim}`,
        {
          argument: 'bundle',
          value: row.length,
        },
      );
    }
    anchors.set(row, c * dim);
  });
  const input = manifest.input;
  if (input) {
    for (const key of ['mean', 'std'] as const) {
      const values = input[key];
      if (values && values.length !== 1 && values.length !== input.channels) {
        throw new AnchorageError(
          'CORRUPT_FILE',
          `manifest.json input.${key} has ${values.length} values, expected 1 or ${input.channels}`,
          { argument: 'bundle', value: values.length },
        );
      }
    }
  }
  const onnx = join(dir, 'model.onnx');
  const modelPath = existsSync(onnx) ? onnx : undefined;
  if (modelPath && !input) {
    throw new AnchorageError('CORRUPT_FILE', 'the bundle has model.onnx but manifest.json has no "input"', {
      argument: 'bundle',
      value: dir,
    });
  }
  return { dir, manifest, dim, classes, anchors, modelPath };
}
