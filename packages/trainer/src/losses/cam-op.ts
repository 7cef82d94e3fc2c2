import { AnchorageError, CamLoss, type CamLossOptionsInput } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';

/** The three CAM terms of the last batch, as plain numbers (already weighted into `loss`). */
export interface CamTerms {
  loss: number;
  attractor: number;
  repeller: number;
  minNorm: number;
}

/** Options of {@link TfCamLoss}: the class count, the embedding size and the CAM options. */
export interface TfCamLossOptions extends CamLossOptionsInput {
  classes: number;
  dim: number;
  /** Initial anchors, C×d row-major (for example `initAnchors(classes, dim, { seed })`). */
  anchors: Float32Array;
  /** Name of the anchors variable (default `cam/anchors`); must be unique among live variables. */
  name?: string;
}

let anchorsVariableCount = 0;

/**
 * The CAM loss as a differentiable tfjs op. Its value and analytic gradients come from
 * `@anchorage/loss-core` through `tf.customGrad`; the anchors are a trainable `tf.Variable`
 * (C×d) that the training loop updates with an optimiser of its own.
 *
 * Each call reads the embeddings and anchors back with `dataSync`, which is free on the cpu and
 * wasm backends and costs one GPU→CPU copy per step on webgpu.
 * @example
 * const cam = new TfCamLoss({ classes: 10, dim: 64, anchors: initAnchors(10, 64, { seed: 1 }) });
 * const { value, grads } = tf.variableGrads(() => cam.apply(model.apply(x) as tf.Tensor2D, labels));
 */
export class TfCamLoss {
  readonly classes: number;
  readonly dim: number;
  /** The learnable class anchors, C×d. */
  readonly anchors: tf.Variable<tf.Rank.R2>;
  /** The terms of the most recent `apply`, `undefined` before the first. */
  lastTerms: CamTerms | undefined;
  private readonly core: CamLoss;

  constructor(options: TfCamLossOptions) {
    const { classes, dim, anchors, name, ...camOptions } = options;
    if (!Number.isInteger(classes) || classes < 2) {
      throw new AnchorageError('INVALID_ARGUMENT', `classes must be an integer ≥ 2, got ${classes}`, {
        argument: 'classes',
        value: classes,
      });
    }
    if (!Number.isInteger(dim) || dim < 1) {
      throw new AnchorageError('INVALID_ARGUMENT', `dim must be a positive integer, got ${dim}`, {
        argument: 'dim',
        value: dim,
      });
    }
    if (anchors.length !== classes * dim) {
      throw new AnchorageError(
        'DIMENSION_MISMATCH',
        `anchors must hold classes×dim = ${classes * dim} numbers, got ${anchors.length}`,
        { argument: 'anchors', value: anchors.length },
      );
    }
    this.classes = classes;
    this.dim = dim;
    this.core = new CamLoss({ classes, dim, ...camOptions });
    anchorsVariableCount += 1;
    // tidy disposes the initial value; the variable, which holds a copy, survives it.
    this.anchors = tf.tidy(() =>
      tf.variable(
        tf.tensor2d(anchors.slice(), [classes, dim]),
        true,
        name ?? `cam/anchors_${anchorsVariableCount}`,
      ),
    );
  }

  /**
   * The scalar CAM loss of `embeddings` (B×d) with `labels` (B integers in 0..C−1). Differentiable
   * with respect to `embeddings` and `this.anchors`; the labels are constants.
   */
  apply(embeddings: tf.Tensor2D, labels: Int32Array): tf.Scalar {
    if (embeddings.rank !== 2 || embeddings.shape[1] !== this.dim) {
      throw new AnchorageError(
        'DIMENSION_MISMATCH',
        `embeddings must be B×${this.dim}, got [${embeddings.shape.join(', ')}]`,
        { argument: 'embeddings', value: embeddings.shape },
      );
    }
    if (labels.length !== embeddings.shape[0]) {
      throw new AnchorageError(
        'DIMENSION_MISMATCH',
        `labels must have one entry per embedding (${embeddings.shape[0]}), got ${labels.length}`,
        { argument: 'labels', value: labels.length },
      );
    }
    // customGrad's typing folds the save function into the inputs' type, hence the cast.
    const forward = (e: tf.Tensor, a: tf.Tensor, save: tf.GradSaveFunc) => {
      const result = this.core.compute({
        embeddings: e.dataSync() as Float32Array,
        labels,
        anchors: a.dataSync() as Float32Array,
      });
      this.lastTerms = { loss: result.loss, ...result.terms };
      // The core reuses its gradient buffers on the next call and the cpu backend keeps a
      // reference to the array it is given, so the tensors get copies.
      save([
        tf.tensor(result.grad.embeddings.slice(), e.shape),
        tf.tensor(result.grad.anchors.slice(), a.shape),
      ]);
      return {
        value: tf.scalar(result.loss),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(dy, saved[0]!), tf.mul(dy, saved[1]!)],
      };
    };
    const op = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
    return op(embeddings, this.anchors) as tf.Scalar;
  }

  /** A copy of the current anchors, C×d row-major. */
  anchorValues(): Float32Array {
    return (this.anchors.dataSync() as Float32Array).slice();
  }

  /** Replaces the anchors (C×d row-major), for example when restoring a checkpoint. */
  setAnchors(values: Float32Array): void {
    if (values.length !== this.classes * this.dim) {
      throw new AnchorageError(
        'DIMENSION_MISMATCH',
        `anchors must hold ${this.classes * this.dim} numbers, got ${values.length}`,
        { argument: 'anchors', value: values.length },
      );
    }
    tf.tidy(() => this.anchors.assign(tf.tensor2d(values.slice(), [this.classes, this.dim])));
  }

  dispose(): void {
    this.anchors.dispose();
  }
}
