import { AnchorageError } from '@anchorage/loss-core';
import { type BundleInput, ImageEmbedder, readBundle } from '@anchorage/model-bundle';
import { writeNpy } from '@anchorage/retrieval';
import { type FormatOptions, isStreaming, openSplit, readImages } from '../data';

/** Embeds batches of raw images with a bundle's `model.onnx` on onnxruntime-node (CPU). */
export interface BundleEmbedder {
  /** Embedding size d. */
  readonly dim: number;
  readonly input: BundleInput;
  /** Element type of the model's input. */
  readonly inputType: 'uint8' | 'float32';
  /** `count` images, count×H×W×C pixel bytes (0–255) → count×d embeddings. */
  embed(images: Uint8Array, count: number): Promise<Float32Array>;
  release(): Promise<void>;
}

/**
 * Opens the bundle folder `bundleDir` for image embedding, with the same embedder the server's
 * image queries use. `threads` sets onnxruntime's intra-op threads (default: its own choice).
 */
export async function createBundleEmbedder(
  bundleDir: string,
  options: { threads?: number } = {},
): Promise<BundleEmbedder> {
  const bundle = await readBundle(bundleDir);
  if (bundle.model === undefined || bundle.manifest.input === undefined) {
    throw new AnchorageError(
      'NOT_FOUND',
      `bundle ${bundleDir} has no model.onnx: it serves vector queries only`,
      {
        argument: 'bundle',
        value: bundleDir,
      },
    );
  }
  const embedder = await ImageEmbedder.create({
    model: bundle.model,
    input: bundle.manifest.input,
    dim: bundle.manifest.dim,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
  });
  return {
    dim: embedder.dim,
    input: embedder.input,
    inputType: embedder.inputType,
    embed: (images, count) => embedder.embedBatch(images, count),
    release: () => embedder.close(),
  };
}

/** Where {@link embedDataset} writes the labels next to `out`: `x.npy` → `x.labels.npy`. */
export function labelsPathFor(out: string): string {
  return `${out.replace(/\.npy$/i, '')}.labels.npy`;
}

/** Options of {@link embedDataset}. */
export interface EmbedDatasetOptions {
  /** Model bundle folder (with model.onnx). */
  bundle: string;
  /** Registered dataset name (`mnist`, `fashion-mnist`, …). */
  dataset: string;
  /** Dataset folder; default: the dataset's default folder. */
  data?: string;
  split?: 'train' | 'test';
  /** Embeddings file: `.npy` float32 [n, d]. */
  out: string;
  /** Labels file: `.npy` int32 [n]; default {@link labelsPathFor}(out). */
  labelsOut?: string;
  /** Images per onnxruntime call. Default 256. */
  batchSize?: number;
  threads?: number;
  /** false: decode image files into a temporary file instead of the reusable cache. */
  cache?: boolean;
  /** The format's options, as training was given them (`labelSet`, `testFraction` with `seed`, …). */
  format?: FormatOptions;
  /** Called after each batch with the images embedded so far. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Embeds one split of a dataset with a bundle's `model.onnx` (no tfjs involved) and writes the
 * embeddings (`.npy` float32 [n, d]) and labels (`.npy` int32 [n]), the files
 * `anchorage-index build --vectors … --labels …` reads.
 */
export async function embedDataset(
  options: EmbedDatasetOptions,
): Promise<{ count: number; dim: number; vectorsPath: string; labelsPath: string }> {
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new AnchorageError('INVALID_ARGUMENT', 'batchSize must be a positive integer', {
      argument: 'batchSize',
      value: batchSize,
    });
  }
  if (!/\.npy$/i.test(options.out)) {
    throw new AnchorageError('INVALID_ARGUMENT', 'out must be a .npy file', {
      argument: 'out',
      value: options.out,
    });
  }
  const embedder = await createBundleEmbedder(
    options.bundle,
    options.threads === undefined ? {} : { threads: options.threads },
  );
  try {
    const { height, width, channels, fit } = embedder.input;
    // the dataset's images brought to the model's input, as training and evaluation did
    const dataset = await openSplit({
      name: options.dataset,
      split: options.split ?? 'train',
      ...(options.data === undefined ? {} : { dir: options.data }),
      ...(height === width ? { input: { imageSize: height, channels, fit: fit ?? 'fill' } } : {}),
      ...(options.cache === undefined ? {} : { cache: options.cache }),
      ...options.format,
    });
    const size = height * width * channels;
    const count = dataset.labels.length;
    const vectors = new Float32Array(count * embedder.dim);
    try {
      if (dataset.height !== height || dataset.width !== width || dataset.channels !== channels) {
        throw new AnchorageError(
          'DIMENSION_MISMATCH',
          `dataset images are ${dataset.height}×${dataset.width}×${dataset.channels}, the model takes ${height}×${width}×${channels}`,
          { argument: 'dataset', value: options.dataset },
        );
      }
      const pixels = new Uint8Array(batchSize * size);
      for (let start = 0; start < count; start += batchSize) {
        const n = Math.min(batchSize, count - start);
        readImages(
          dataset,
          Int32Array.from({ length: n }, (_, i) => start + i),
          pixels,
        );
        vectors.set(await embedder.embed(pixels.subarray(0, n * size), n), start * embedder.dim);
        options.onProgress?.(start + n, count);
      }
    } finally {
      if (isStreaming(dataset)) dataset.close();
    }
    const labelsPath = options.labelsOut ?? labelsPathFor(options.out);
    await writeNpy(options.out, vectors, [count, embedder.dim]);
    await writeNpy(labelsPath, Int32Array.from(dataset.labels), [count]);
    return { count, dim: embedder.dim, vectorsPath: options.out, labelsPath };
  } finally {
    await embedder.release();
  }
}
