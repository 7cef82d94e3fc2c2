import * as ort from 'onnxruntime-node';
import type { ModelInput } from './image.js';

/** Options of `OnnxEmbedder.create`. */
export interface EmbedderOptions {
  modelPath: string;
  input: ModelInput;
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
 * Embeds images with one onnxruntime-node session. Images that arrive within `batchWindowMs` of
 * each other run as one batch. The model's input is NHWC (uint8 or float32); by default the
 * graph is expected to hold the normalisation (it receives raw 0–255 pixel values). When the
 * manifest's input sets `normalizedInGraph: false`, the server feeds `(x/255 − mean) / std` instead.
 */
export class OnnxEmbedder {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly pixelsPerImage: number;
  /** Images embedded so far and batches run, for metrics. */
  readonly counters = { images: 0, batches: 0 };

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly inputName: string,
    private readonly outputName: string,
    private readonly inputType: 'uint8' | 'float32',
    private readonly options: Required<Omit<EmbedderOptions, 'threads'>>,
  ) {
    const { height, width, channels } = options.input;
    this.pixelsPerImage = height * width * channels;
  }

  /** Loads the model once; fails when its input is neither uint8 nor float32 NHWC of the manifest's size. */
  static async create(options: EmbedderOptions): Promise<OnnxEmbedder> {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      // spinning worker threads would take CPU from the event loop that parses and answers requests
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    };
    if (options.threads) sessionOptions.intraOpNumThreads = options.threads;
    const session = await ort.InferenceSession.create(options.modelPath, sessionOptions);
    const inputName = session.inputNames[0]!;
    const outputName = session.outputNames[0]!;
    const meta = session.inputMetadata[0];
    let inputType: 'uint8' | 'float32' = 'float32';
    if (meta?.isTensor) {
      if (meta.type !== 'uint8' && meta.type !== 'float32') {
        throw new Error(`model.onnx input "${inputName}" has type ${meta.type}; expected uint8 or float32`);
      }
      inputType = meta.type;
      const { height, width, channels } = options.input;
      const expected = [height, width, channels];
      const shape = meta.shape.slice(1);
      if (shape.length === 3 && shape.some((s, i) => typeof s === 'number' && s !== expected[i])) {
        throw new Error(
          `model.onnx input shape [${meta.shape.join(', ')}] does not match manifest input ${height}×${width}×${channels} (NHWC)`,
        );
      }
    }
    return new OnnxEmbedder(session, inputName, outputName, inputType, {
      modelPath: options.modelPath,
      input: options.input,
      dim: options.dim,
      batchWindowMs: options.batchWindowMs ?? 2,
      maxBatch: options.maxBatch ?? 64,
    });
  }

  /** Embeds one image given as height×width×channels bytes; resolves to a dim-long vector. */
  embed(pixels: Uint8Array): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.queue.push({ pixels, resolve, reject });
      if (this.queue.length >= this.options.maxBatch) {
        this.flush();
      } else if (!this.timer) {
        this.timer = setTimeout(() => this.flush(), this.options.batchWindowMs);
      }
    });
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.queue.splice(0, this.options.maxBatch);
    if (this.queue.length > 0) this.timer = setTimeout(() => this.flush(), 0);
    if (batch.length === 0) return;
    this.run(batch).catch((error) => {
      for (const p of batch) p.reject(error);
    });
  }

  private async run(batch: Pending[]): Promise<void> {
    const n = batch.length;
    const size = this.pixelsPerImage;
    const { height, width, channels } = this.options.input;
    let tensor: ort.Tensor;
    if (this.inputType === 'uint8') {
      const data = new Uint8Array(n * size);
      batch.forEach((p, i) => {
        data.set(p.pixels, i * size);
      });
      tensor = new ort.Tensor('uint8', data, [n, height, width, channels]);
    } else {
      tensor = new ort.Tensor('float32', this.toFloat(batch), [n, height, width, channels]);
    }
    const out = await this.session.run({ [this.inputName]: tensor });
    const result = out[this.outputName]!;
    const values = result.data as Float32Array;
    const dim = this.options.dim;
    if (values.length !== n * dim) {
      throw new Error(
        `model.onnx returned ${values.length / n} numbers per image; the manifest says dim ${dim}`,
      );
    }
    this.counters.images += n;
    this.counters.batches += 1;
    batch.forEach((p, i) => {
      p.resolve(values.slice(i * dim, (i + 1) * dim));
    });
  }

  private toFloat(batch: Pending[]): Float32Array {
    const size = this.pixelsPerImage;
    const data = new Float32Array(batch.length * size);
    const input = this.options.input;
    const channels = input.channels;
    const normalize = input.normalizedInGraph === false;
    const mean = input.mean ?? [0];
    const std = input.std ?? [1];
    batch.forEach((p, i) => {
      const base = i * size;
      for (let j = 0; j < size; j++) {
        const x = p.pixels[j]!;
        if (normalize) {
          const c = j % channels;
          data[base + j] = (x / 255 - mean[c % mean.length]!) / std[c % std.length]!;
        } else {
          data[base + j] = x;
        }
      }
    });
    return data;
  }

  /** Releases the session. */
  async close(): Promise<void> {
    await this.session.release();
  }
}
