import { AnchorageError } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import { checkWasmStepMemory } from '../backends/wasm-memory';
import { createLoss, type LossValue, type TrainableLoss } from '../losses';
import { loadBackbone } from '../models';
import {
  modelFromSnapshot,
  modelSnapshot,
  optimizerSnapshot,
  restoreOptimizer,
  type TensorBundle,
  type TrainingSnapshot,
} from './checkpoint';
import type { TrainConfig } from './config';
import type { EngineBatch, StepOutcome, StepTerms, TrainingEngine } from './engine';

/** What a local engine needs besides the config. */
export interface LocalEngineOptions {
  config: TrainConfig;
  /** [height, width, channels] of one image. */
  inputShape: [number, number, number];
  classes: number;
  /** Continue from this state instead of a fresh seeded initialisation. */
  snapshot?: TrainingSnapshot | undefined;
  /**
   * Start from this model (topology and weights) instead of building `config.backbone`: how
   * data-parallel workers receive a backbone built on the main thread (one registered at run time,
   * or read from a model file there).
   */
  model?: TrainingSnapshot['model'] | undefined;
}

/**
 * The gradients of a batch, flattened: every trainable model weight in order, then the loss's
 * trainable variables in the order of `loss.variables`.
 */
export interface FlatGradients {
  terms: StepTerms;
  /** `undefined` when the loss was not finite. */
  values: Float32Array | undefined;
  /** The batch's embeddings, B×d, when the loss has an `afterStep` (it needs the whole batch's). */
  embeddings?: Float32Array;
  /**
   * The model's non-trainable weights (batch norm's moving statistics) after this batch's forward
   * pass, flattened; absent when the model has none. Replicas average them so they stay identical.
   */
  state?: Float32Array;
}

/** The gradient of the loss of a whole batch with respect to its embeddings and the loss's variables. */
export interface LossGradients {
  terms: StepTerms;
  /** B×d; `undefined` when the loss was not finite. */
  embeddings: Float32Array | undefined;
  /** The loss's trainable variables, flattened in the order of `loss.variables`. */
  variables: Float32Array | undefined;
}

/** A {@link TrainingEngine} on the calling thread, plus the split steps the parallel engine uses. */
export interface LocalEngine extends TrainingEngine {
  readonly model: tf.LayersModel;
  readonly loss: TrainableLoss;
  /** Number of floats in {@link FlatGradients.values}. */
  readonly gradientLength: number;
  /** Of which the model's weights come first. */
  readonly modelGradientLength: number;
  /** Loss and gradients of a batch without applying them (exact in parts only if `loss.meanOverBatch`). */
  gradients(batch: EngineBatch): Promise<FlatGradients>;
  /** Embeddings of a batch in training mode, B×d: what the loss sees. */
  trainingEmbeddings(batch: EngineBatch): Promise<Float32Array>;
  /** The loss of a whole batch's embeddings and its gradient (embeddings and loss variables). */
  lossGradients(embeddings: Float32Array, labels: Int32Array): Promise<LossGradients>;
  /**
   * Back-propagates a gradient with respect to a batch's embeddings (B×d) to the model's weights;
   * the forward pass it repeats leaves the moving statistics as {@link trainingEmbeddings} set them.
   */
  backpropagate(batch: EngineBatch, embeddingGradient: Float32Array): Promise<Float32Array>;
  /**
   * Applies flattened gradients (layout of {@link LocalEngine.gradients}) with both optimisers; with
   * `state`, sets the model's non-trainable weights to it (layout of {@link FlatGradients.state}).
   */
  applyGradients(values: Float32Array, state?: Float32Array): void;
  /** The model's non-trainable weights, flattened (undefined when it has none). */
  modelState(): Promise<Float32Array | undefined>;
  beginEpoch(epoch: number): Promise<void>;
  /** Runs the loss's `afterStep` on a batch's embeddings (no-op when it has none). */
  afterStep(embeddings: Float32Array, labels: Int32Array): void;
  /** Every model weight then every loss variable (trainable or not), flattened. */
  weights(): Promise<Float32Array>;
}

/** Runs `f`, then assigns back the values `variables` had before it. */
async function keepingState<T>(variables: readonly tf.Variable[], f: () => Promise<T>): Promise<T> {
  if (variables.length === 0) return f();
  const saved = variables.map((v) => tf.clone(v));
  try {
    return await f();
  } finally {
    for (const [i, v] of variables.entries()) v.assign(saved[i]!);
    tf.dispose(saved);
  }
}

function isNonFinite(error: unknown): boolean {
  return error instanceof AnchorageError && error.code === 'NON_FINITE';
}

async function readTerms(value: tf.Scalar, terms: Record<string, tf.Scalar>): Promise<StepTerms> {
  const out: StepTerms = { loss: (await value.data())[0]! };
  for (const [name, t] of Object.entries(terms)) out[name] = (await t.data())[0]!;
  return out;
}

async function flatten(tensors: readonly tf.Tensor[], length: number): Promise<Float32Array> {
  const values = new Float32Array(length);
  let offset = 0;
  for (const t of tensors) {
    values.set((await t.data()) as Float32Array, offset);
    offset += t.size;
  }
  return values;
}

/** The loss's variables as a tensor bundle (names as in `loss.variables`). */
export async function lossVariablesSnapshot(loss: TrainableLoss): Promise<TensorBundle> {
  const encoded = await tf.io.encodeWeights(loss.variables as tf.NamedTensorMap);
  return { specs: encoded.specs, data: encoded.data };
}

/** Restores the loss's variables from a bundle written by {@link lossVariablesSnapshot}, bit for bit. */
export function restoreLossVariables(loss: TrainableLoss, bundle: TensorBundle): void {
  const decoded = tf.io.decodeWeights(bundle.data, bundle.specs);
  try {
    for (const [name, variable] of Object.entries(loss.variables)) {
      const value = decoded[name];
      if (value === undefined || value.shape.join() !== variable.shape.join()) {
        throw new AnchorageError(
          'DIMENSION_MISMATCH',
          `the checkpoint's ${loss.name} variable "${name}" is ${value ? `[${value.shape}]` : 'missing'}, expected [${variable.shape}]`,
          { argument: 'checkpoint', value: name },
        );
      }
      variable.assign(value);
    }
  } finally {
    tf.dispose(Object.values(decoded));
  }
}

/**
 * Builds the backbone (seeded) and the loss, or restores them and both optimisers from a snapshot.
 * The backend must already be selected.
 */
export async function createLocalEngine(options: LocalEngineOptions): Promise<LocalEngine> {
  const { config, inputShape, classes, snapshot } = options;
  const initial = snapshot?.model ?? options.model;
  const model = initial
    ? await modelFromSnapshot(initial)
    : await loadBackbone(config.backbone, {
        ...config.backboneOptions,
        inputShape,
        dim: config.dim,
        seed: config.seed,
      });
  if (tf.getBackend() === 'wasm') {
    // A step that cannot fit one wasm heap is refused here: run, it dies inside XNNPACK.
    const described = Object.entries(config.backboneOptions ?? {}).map(([k, v]) => `${k} ${v}`);
    try {
      checkWasmStepMemory({
        model,
        backbone: described.length > 0 ? `${config.backbone} (${described.join(', ')})` : config.backbone,
        batchSize: config.batchSize,
        workers: config.workers,
      });
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  const loss = createLoss(config.loss, {
    ...config.lossOptions,
    classes,
    dim: config.dim,
    seed: config.seed,
  });
  if (snapshot) restoreLossVariables(loss, snapshot.loss);
  const modelOptimizer = tf.train.adam(config.lr);
  const lossOptimizer = tf.train.adam(config.lossLr);
  if (snapshot) {
    await restoreOptimizer(modelOptimizer, snapshot.optimizers.model);
    await restoreOptimizer(lossOptimizer, snapshot.optimizers.loss);
  }
  // LayerVariable.read() is the underlying tf.Variable, which is what tf.variableGrads tracks.
  const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const lossVariables = Object.values(loss.variables);
  const lossTrainables = lossVariables.filter((v) => v.trainable);
  const variables = [...weights, ...lossTrainables];
  const sizes = variables.map((v) => v.size);
  // --freeze N: the first N layers' weights (moving statistics included) stay as they are until
  // epoch unfreezeAfter; their gradients are not computed (zeros in the flat layout).
  const frozenLayers = model.layers
    .filter((l) => l.getClassName() !== 'InputLayer')
    .slice(0, config.freeze ?? 0);
  const frozenIds = new Set(frozenLayers.flatMap((l) => l.trainableWeights.map((w) => w.read().id)));
  const frozenState = frozenLayers.flatMap((l) => l.nonTrainableWeights.map((w) => w.read() as tf.Variable));
  let frozen = frozenLayers.length > 0;
  const active = (list: tf.Variable[]) => (frozen ? list.filter((v) => !frozenIds.has(v.id)) : list);
  /** Runs `f`, then puts the frozen layers' moving statistics back as they were. */
  const keepingFrozenState = <T>(f: () => Promise<T>): Promise<T> =>
    keepingState(frozen ? frozenState : [], f);
  const modelState = model.weights.filter((w) => !w.trainable).map((w) => w.read() as tf.Variable);
  const stateLength = modelState.reduce((n, v) => n + v.size, 0);
  const gradientLength = sizes.reduce((a, b) => a + b, 0);
  const modelGradientLength = weights.reduce((n, w) => n + w.size, 0);
  const lossGradientLength = gradientLength - modelGradientLength;
  const [height, width, channels] = inputShape;
  const dim = config.dim;
  const images = (batch: EngineBatch) => tf.tensor4d(batch.images, [batch.size, height, width, channels]);

  /**
   * Value, terms and gradients of a loss by `list` (zeros for a variable it does not reach); no
   * gradients when the value is not finite. The caller disposes the gradients.
   */
  const differentiate = async (
    f: () => LossValue,
    list: tf.Variable[],
  ): Promise<{ terms: StepTerms; grads: tf.Tensor[] | undefined }> => {
    let terms: Record<string, tf.Scalar> = {};
    try {
      const { value, grads } = tf.variableGrads(() => {
        const out = f();
        // variableGrads disposes what its function made: the terms are read after it returns.
        terms = Object.fromEntries(Object.entries(out.terms).map(([k, t]) => [k, tf.keep(t)]));
        return out.loss;
      }, active(list));
      const read = await readTerms(value, terms);
      value.dispose();
      if (!Number.isFinite(read.loss)) {
        tf.dispose(Object.values(grads));
        return { terms: read, grads: undefined };
      }
      return { terms: read, grads: list.map((v) => grads[v.name] ?? tf.zerosLike(v)) };
    } catch (error) {
      // loss-core refuses NaN/Inf embeddings: the weights have diverged.
      if (isNonFinite(error)) return { terms: { loss: Number.NaN }, grads: undefined };
      throw error;
    } finally {
      tf.dispose(Object.values(terms));
    }
  };

  /** Loss and gradient tensors of a batch, and its embeddings when `afterStep` needs them. */
  const lossAndGrads = async (
    batch: EngineBatch,
  ): Promise<{ terms: StepTerms; grads: tf.Tensor[] | undefined; embeddings: tf.Tensor2D | undefined }> => {
    const x = images(batch);
    const y = tf.tensor1d(batch.labels, 'int32');
    let embeddings: tf.Tensor2D | undefined;
    try {
      const { terms, grads } = await keepingFrozenState(() =>
        differentiate(() => {
          const e = model.apply(x, { training: true }) as tf.Tensor2D;
          if (loss.afterStep) embeddings = tf.keep(e);
          return loss.compute(e, y);
        }, variables),
      );
      if (grads !== undefined) return { terms, grads, embeddings };
      embeddings?.dispose();
      return { terms, grads, embeddings: undefined };
    } catch (error) {
      embeddings?.dispose();
      throw error;
    } finally {
      tf.dispose([x, y]);
    }
  };

  const apply = (grads: readonly tf.Tensor[]): void => {
    // Frozen weights get zero gradients: with Adam's moments still zero that moves them by exactly
    // 0, and the list keeps its order (tfjs keeps optimiser slots by position).
    modelOptimizer.applyGradients(weights.map((w, i) => ({ name: w.name, tensor: grads[i]! })));
    if (lossTrainables.length > 0) {
      lossOptimizer.applyGradients(
        lossTrainables.map((v, i) => ({ name: v.name, tensor: grads[weights.length + i]! })),
      );
    }
  };

  const afterStep = (embeddings: tf.Tensor2D, labels: Int32Array): void => {
    if (!loss.afterStep) return;
    tf.tidy(() => loss.afterStep!(embeddings, tf.tensor1d(labels, 'int32')));
  };

  const classAnchors = (await loss.classAnchors()) === undefined ? 'class-means' : 'loss';
  return {
    backend: tf.getBackend(),
    embedding: loss.embedding,
    classAnchors,
    model,
    loss,
    gradientLength,
    modelGradientLength,
    async step(batch: EngineBatch): Promise<StepOutcome> {
      const { terms, grads, embeddings } = await lossAndGrads(batch);
      if (grads === undefined) return { terms, applied: false };
      apply(grads);
      tf.dispose(grads);
      if (embeddings) {
        afterStep(embeddings, batch.labels);
        embeddings.dispose();
      }
      return { terms, applied: true };
    },
    async gradients(batch: EngineBatch): Promise<FlatGradients> {
      const { terms, grads, embeddings } = await lossAndGrads(batch);
      if (grads === undefined) return { terms, values: undefined };
      const values = await flatten(grads, gradientLength);
      tf.dispose(grads);
      const state = stateLength > 0 ? await flatten(modelState, stateLength) : undefined;
      const out: FlatGradients = { terms, values, ...(state ? { state } : {}) };
      if (embeddings === undefined) return out;
      out.embeddings = (await embeddings.data()) as Float32Array;
      embeddings.dispose();
      return out;
    },
    async trainingEmbeddings(batch: EngineBatch): Promise<Float32Array> {
      return keepingFrozenState(async () => {
        const e = tf.tidy(() => model.apply(images(batch), { training: true }) as tf.Tensor);
        const values = (await e.data()) as Float32Array;
        e.dispose();
        return values;
      });
    },
    async lossGradients(embeddings: Float32Array, labels: Int32Array): Promise<LossGradients> {
      // A variable, so that variableGrads differentiates by the embeddings as well.
      const e = tf.tidy(() => tf.variable(tf.tensor2d(embeddings, [labels.length, dim]), true));
      const y = tf.tensor1d(labels, 'int32');
      try {
        const { terms, grads } = await differentiate(() => loss.compute(e, y), [e, ...lossTrainables]);
        if (grads === undefined) return { terms, embeddings: undefined, variables: undefined };
        const [ge, ...gv] = grads;
        const out = {
          terms,
          embeddings: (await ge!.data()) as Float32Array,
          variables: await flatten(gv, lossGradientLength),
        };
        tf.dispose(grads);
        return out;
      } finally {
        tf.dispose([e, y]);
      }
    },
    async backpropagate(batch: EngineBatch, embeddingGradient: Float32Array): Promise<Float32Array> {
      const x = images(batch);
      const g = tf.tensor2d(embeddingGradient, [batch.size, dim]);
      try {
        // d/dθ Σ e(θ)·g = J(θ)ᵀ g: the chain rule's next step with the given upstream gradient.
        // The forward pass repeats trainingEmbeddings': its moving-statistics update must not count twice.
        const { value, grads } = await keepingState(modelState, async () =>
          tf.variableGrads(
            () => tf.sum(tf.mul(model.apply(x, { training: true }) as tf.Tensor, g)) as tf.Scalar,
            active(weights),
          ),
        );
        value.dispose();
        const list = weights.map((w) => grads[w.name] ?? tf.zerosLike(w));
        const values = await flatten(list, modelGradientLength);
        tf.dispose(list);
        return values;
      } finally {
        tf.dispose([x, g]);
      }
    },
    applyGradients(values: Float32Array, state?: Float32Array): void {
      if (state !== undefined) {
        let at = 0;
        for (const v of modelState) {
          tf.tidy(() => v.assign(tf.tensor(state.subarray(at, at + v.size), v.shape)));
          at += v.size;
        }
      }
      let offset = 0;
      const grads = variables.map((v, i) => {
        const t = tf.tensor(values.subarray(offset, offset + sizes[i]!).slice(), v.shape);
        offset += sizes[i]!;
        return t;
      });
      apply(grads);
      tf.dispose(grads);
    },
    afterStep(embeddings: Float32Array, labels: Int32Array): void {
      if (!loss.afterStep) return;
      const e = tf.tensor2d(embeddings, [labels.length, dim]);
      afterStep(e, labels);
      e.dispose();
    },
    async embed(batch: EngineBatch): Promise<Float32Array> {
      const e = tf.tidy(() => model.predict(images(batch)) as tf.Tensor);
      const values = (await e.data()) as Float32Array;
      e.dispose();
      return values;
    },
    async modelState(): Promise<Float32Array | undefined> {
      return stateLength > 0 ? flatten(modelState, stateLength) : undefined;
    },
    async beginEpoch(epoch: number): Promise<void> {
      frozen =
        frozenLayers.length > 0 && (config.unfreezeAfter === undefined || epoch < config.unfreezeAfter);
    },
    async weights(): Promise<Float32Array> {
      const parts = [...model.weights.map((w) => w.read()), ...lossVariables];
      return flatten(
        parts,
        parts.reduce((n, t) => n + t.size, 0),
      );
    },
    async snapshot(): Promise<TrainingSnapshot> {
      const classAnchors = await loss.classAnchors();
      return {
        model: await modelSnapshot(model),
        loss: await lossVariablesSnapshot(loss),
        optimizers: {
          model: await optimizerSnapshot(modelOptimizer),
          loss: await optimizerSnapshot(lossOptimizer),
        },
        ...(classAnchors === undefined ? {} : { classAnchors }),
      };
    },
    async dispose(): Promise<void> {
      modelOptimizer.dispose();
      lossOptimizer.dispose();
      loss.dispose();
      model.dispose();
    },
  };
}
