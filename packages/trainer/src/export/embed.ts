import { AnchorageError } from '@anchorage/loss-core';
import { writeNpy } from '@anchorage/retrieval';
import onnxProto from 'onnx-proto';
import { isStreaming, openSplit, readImages } from '../data';
import { type BundleInput, readBundle } from './bundle';
import { loadOnnxRuntime } from './onnx-runtime';

const { onnx } = onnxProto;

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

function inputElementType(model: Uint8Array): 'uint8' | 'float32' {
  const graph = onnx.ModelProto.decode(model).graph;
  const input = graph?.input?.[0];
  const elemType = input?.type?.tensorType?.elemType;
  if (elemType === onnx.TensorProto.DataType.UINT8) return 'uint8';
  if (elemType === onnx.TensorProto.DataType.FLOAT) return 'float32';
  throw new AnchorageError(
    'UNSUPPORTED',
    `model.onnx input "${input?.name}" must be uint8 or float32 (type ${elemType})`,
    {
      argument: 'bundle',
      value: elemType,
    },
  );
}

/**
 * Opens the bundle folder `bundleDir` for image embedding. `threads` sets onnxruntime's intra-op
 * threads (default: its own choice).
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
  const input = bundle.manifest.input;
  const dim = bundle.manifest.dim;
  const inputType = inputElementType(bundle.model);
  const ort = await loadOnnxRuntime();
  const session = await ort.InferenceSession.create(bundle.model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    ...(options.threads === undefined ? {} : { intraOpNumThreads: options.threads }),
  });
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  const size = input.height * input.width * input.channels;
  const mean = input.mean ?? [0];
  const std = input.std ?? [1];
  const normalize = input.normalizedInGraph === false;
  return {
    dim,
    input,
    inputType,
    async embed(images, count) {
      if (images.length !== count * size) {
        throw new AnchorageError(
          'DIMENSION_MISMATCH',
          `expected ${count}×${size} pixel bytes, got ${images.length}`,
          {
            argument: 'images',
            value: images.length,
          },
        );
      }
      const shape = [count, input.height, input.width, input.channels];
      let tensor: InstanceType<typeof ort.Tensor>;
      if (inputType === 'uint8' && !normalize) {
        tensor = new ort.Tensor('uint8', images, shape);
      } else {
        const data = new Float32Array(images.length);
        for (let i = 0; i < images.length; i++) {
          const c = i % input.channels;
          data[i] = normalize
            ? (images[i]! / 255 - mean[c % mean.length]!) / std[c % std.length]!
            : images[i]!;
        }
        tensor = new ort.Tensor('float32', data, shape);
      }
      const result = await session.run({ [inputName]: tensor });
      const out = result[outputName]!;
      if (out.dims.length !== 2 || out.dims[0] !== count || out.dims[1] !== dim) {
        throw new AnchorageError(
          'DIMENSION_MISMATCH',
          `model.onnx returned [${out.dims.join(', ')}], expected [${count}, ${dim}]`,
          {
            argument: 'bundle',
            value: out.dims,
          },
        );
      }
      return Float32Array.from(out.data as Float32Array);
    },
    release: () => session.release(),
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
