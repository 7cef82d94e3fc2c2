import { AnchorageError } from '@anchorage/loss-core';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { BundleInput } from './manifest';
import { loadOnnxRuntime, type OnnxRuntime } from './onnx-runtime';

/** Options of {@link ImageEmbedder.create}. */
export interface EmbedderOptions {
  /** Path of `model.onnx`, or its bytes. */
  model?: string | Uint8Array;
  /** Same as a string `model` (the server's name for it). */
  modelPath?: string;
  /** The manifest's `input`. */
  input: BundleInput;
  /** Embedding size d. */
  dim: number;
  /** How long the first queued image waits for others to share its batch (default 2 ms). */
  batchWindowMs?: number;
  /** Largest batch handed to the session (default 64). */
  maxBatch?: number;
  /** Intra-op threads of the session (default: onnxruntime's choice). */
  threads?: number;
}

interface Pending {
  pixels: Uint8Array;
  resolve: (embedding: Float32Array) => void;
  reject: (error: unknown) => void;
}

/**
 * Embeds images with a bundle's `model.onnx` on one onnxruntime-node (CPU) session: the one
 * embedder of the trainer's `embed` command and the server's image queries. The model's input is
 * NHWC, uint8 or float32; it takes raw 0–255 pixels and normalises in the graph, unless the
 * manifest's input says `normalizedInGraph: false`, when `(x/255 − mean)/std` is fed instead.
 * Single images given to {@link embed} within `batchWindowMs` of each other run as one batch.
 * @example
 * const e = await ImageEmbedder.create({ model: 'bundle/model.onnx', input: manifest.input!, dim: manifest.dim });
 * const v = await e.embed(await decodeImage(bytes, manifest.input!));
 */
export class ImageEmbedder {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly pixelsPerImage: number;
  /** Images embedded so far and batches run, for metrics. */
  readonly counters = { images: 0, batches: 0 };

  private constructor(
    private readonly ort: OnnxRuntime,
    private readonly session: InferenceSession,
    private readonly inputName: string,
    private readonly outputName: string,
    /** Element type of the model's input. */
    readonly inputType: 'uint8' | 'float32',
    readonly input: BundleInput,
    readonly dim: number,
    private readonly batchWindowMs: number,
    private readonly maxBatch: number,
  ) {
    this.pixelsPerImage = input.height * input.width * input.channels;
  }

  /** Loads the model once; refuses one whose input is neither uint8 nor float32 NHWC of the manifest's size. */
  static async create(options: EmbedderOptions): Promise<ImageEmbedder> {
    const model = options.model ?? options.modelPath;
    if (model === undefined) {
      throw new AnchorageError('INVALID_ARGUMENT', 'the embedder needs model (a path or the bytes)', {
        argument: 'model',
      });
    }
    const ort = await loadOnnxRuntime();
    const sessionOptions: InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      // spinning worker threads would take CPU from the event loop that parses and answers requests
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    };
    if (options.threads) sessionOptions.intraOpNumThreads = options.threads;
    const session =
      typeof model === 'string'
        ? await ort.InferenceSession.create(model, sessionOptions)
        : await ort.InferenceSession.create(model, sessionOptions);
    const inputName = session.inputNames[0]!;
    const outputName = session.outputNames[0]!;
    const meta = session.inputMetadata[0];
    let inputType: 'uint8' | 'float32' = 'float32';
    const { height, width, channels } = options.input;
    if (meta?.isTensor) {
      if (meta.type !== 'uint8' && meta.type !== 'float32') {
        await session.release();
        throw new AnchorageError(
          'UNSUPPORTED',
          `model.onnx input "${inputName}" has type ${meta.type}; expected uint8 or float32`,
          { argument: 'bundle', value: meta.type },
        );
      }
      inputType = meta.type;
      const expected = [height, width, channels];
      const shape = meta.shape.slice(1);
      if (shape.length === 3 && shape.some((s, i) => typeof s === 'number' && s !== expected[i])) {
        await session.release();
        throw new AnchorageError(
          'DIMENSION_MISMATCH',
          `model.onnx input shape [${meta.shape.join(', ')}] does not match manifest input ${height}×${width}×${channels} (NHWC)`,
          { argument: 'bundle', value: meta.shape },
        );
      }
    }
    return new ImageEmbedder(
      ort,
      session,
      inputName,
      outputName,
      inputType,
      options.input,
      options.dim,
      options.batchWindowMs ?? 2,
      options.maxBatch ?? 64,
    );
  }

  /** Embeds one image given as height×width×channels bytes; resolves to a dim-long vector. */
  embed(pixels: Uint8Array): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.queue.push({ pixels, resolve, reject });
      if (this.queue.length >= this.maxBatch) {
        this.flush();
      } else if (!this.timer) {
        this.timer = setTimeout(() => this.flush(), this.batchWindowMs);
      }
    });
  }

  /** Embeds `count` images given as count×H×W×C bytes in one session run: count×d row-major. */
  async embedBatch(images: Uint8Array, count: number): Promise<Float32Array> {
    const size = this.pixelsPerImage;
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
    const { height, width, channels } = this.input;
    const shape = [count, height, width, channels];
    const normalize = this.input.normalizedInGraph === false;
    let tensor: Tensor;
    if (this.inputType === 'uint8' && !normalize) {
      tensor = new this.ort.Tensor('uint8', images, shape);
    } else {
      tensor = new this.ort.Tensor('float32', this.toFloat(images), shape);
    }
    const out = (await this.session.run({ [this.inputName]: tensor }))[this.outputName]!;
    if (out.dims.length !== 2 || out.dims[0] !== count || out.dims[1] !== this.dim) {
      throw new AnchorageError(
        'DIMENSION_MISMATCH',
        `model.onnx returned [${out.dims.join(', ')}], expected [${count}, ${this.dim}] (the manifest's dim)`,
        { argument: 'bundle', value: out.dims },
      );
    }
    this.counters.images += count;
    this.counters.batches += 1;
    return Float32Array.from(out.data as Float32Array);
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.queue.splice(0, this.maxBatch);
    if (this.queue.length > 0) this.timer = setTimeout(() => this.flush(), 0);
    if (batch.length === 0) return;
    const size = this.pixelsPerImage;
    const images = new Uint8Array(batch.length * size);
    batch.forEach((p, i) => {
      images.set(p.pixels, i * size);
    });
    this.embedBatch(images, batch.length).then(
      (values) => {
        batch.forEach((p, i) => {
          p.resolve(values.slice(i * this.dim, (i + 1) * this.dim));
        });
      },
      (error) => {
        for (const p of batch) p.reject(error);
      },
    );
  }

  /** Pixels as float32: raw 0–255, or `(x/255 − mean)/std` when the graph does not normalise. */
  private toFloat(images: Uint8Array): Float32Array {
    const data = new Float32Array(images.length);
    const { channels } = this.input;
    if (this.input.normalizedInGraph !== false) {
      data.set(images);
      return data;
    }
    const mean = this.input.mean ?? [0];
    const std = this.input.std ?? [1];
    for (let j = 0; j < images.length; j++) {
      const c = j % channels;
      data[j] = (images[j]! / 255 - mean[c % mean.length]!) / std[c % std.length]!;
    }
    return data;
  }

  /** Releases the session. */
  async close(): Promise<void> {
    await this.session.release();
  }
}
