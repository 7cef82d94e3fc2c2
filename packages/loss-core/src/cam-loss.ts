import { AnchorageError } from './errors';
import { type CamLossOptions, type CamLossOptionsInput, resolveCamOptions } from './options';
import { createRepellerWorkspace, type RepellerWorkspace, repellerInto } from './repeller';
import { checkDim, checkLabels, checkMatrix, type FloatArray } from './validate';

/** Input of the CAM loss: B embeddings and their labels, C anchors, all row-major with `dim` columns. */
export interface CamLossInput<T extends FloatArray = Float32Array> {
  /** B×dim */
  embeddings: T;
  /** B class indices in 0..C-1 */
  labels: Int32Array;
  /** C×dim, one anchor per class */
  anchors: T;
  dim: number;
}

/** The three reduced, unweighted terms of the loss. */
export interface CamLossTerms {
  attractor: number;
  repeller: number;
  minNorm: number;
}

/** Value and analytic gradients of the CAM loss. `loss = attractor + λ_R·repeller + λ_N·minNorm`. */
export interface CamLossResult<T extends FloatArray = Float32Array> {
  loss: number;
  terms: CamLossTerms;
  grad: {
    /** ∂loss/∂embeddings, B×dim */
    embeddings: T;
    /** ∂loss/∂anchors, C×dim */
    anchors: T;
  };
}

/**
 * Computes the three terms into zeroed gradient buffers. Inputs are trusted (validated by callers).
 *
 * Sub-gradients where the loss is not differentiable, chosen so that descent separates anchors:
 * - two coinciding anchors i < j (distance 0): the pair's direction is taken as the unit vector
 *   along axis (i + j) mod dim, so descent moves anchor i along +axis and anchor j along −axis;
 * - a zero anchor y below the minimum norm: its direction is the unit vector along axis y mod dim,
 *   so descent moves it along +axis.
 */
function computeInto<T extends FloatArray>(
  embeddings: T,
  labels: Int32Array,
  anchors: T,
  dim: number,
  options: CamLossOptions,
  out: CamLossResult<T>,
  work: RepellerWorkspace,
): void {
  // Results go into `out` rather than being returned: a double returned from a call that is not
  // inlined is boxed, and the training path must not allocate.
  const gradE = out.grad.embeddings;
  const gradA = out.grad.anchors;
  const terms = out.terms;
  const batch = labels.length;
  const classes = anchors.length / dim;

  // attractor: (1/B) Σ ½‖e_i − c_{y_i}‖²
  const sA = options.reduction.attractor === 'mean' ? 1 / batch : 1;
  let attractor = 0;
  for (let i = 0; i < batch; i++) {
    const oe = i * dim;
    const oa = labels[i]! * dim;
    let s = 0;
    for (let k = 0; k < dim; k++) {
      const diff = embeddings[oe + k]! - anchors[oa + k]!;
      s += diff * diff;
      const g = sA * diff;
      gradE[oe + k] = g;
      gradA[oa + k] = gradA[oa + k]! - g;
    }
    attractor += 0.5 * s;
  }
  attractor *= sA;

  // repeller: ½ Σ_{y≠y'} max(0, 2m − ‖c_y − c_y'‖)² = Σ_{y<y'} max(0, 2m − D)²
  repellerInto(anchors, classes, dim, options, gradA, work);
  const repeller = work.sum;

  // minimum norm: Σ_y max(0, p − ‖c_y‖)
  const p = options.minNorm;
  const sN = options.reduction.minNorm === 'mean' ? 1 / classes : 1;
  const wN = options.minNormWeight * sN;
  let minNorm = 0;
  if (p > 0) {
    for (let y = 0; y < classes; y++) {
      const oy = y * dim;
      let s = 0;
      for (let k = 0; k < dim; k++) s += anchors[oy + k]! * anchors[oy + k]!;
      const norm = Math.sqrt(s);
      if (norm >= p) continue;
      minNorm += p - norm;
      if (wN === 0) continue;
      if (norm > 0) {
        const g = wN / norm;
        for (let k = 0; k < dim; k++) gradA[oy + k] = gradA[oy + k]! - g * anchors[oy + k]!;
      } else {
        const axis = y % dim;
        gradA[oy + axis] = gradA[oy + axis]! - wN;
      }
    }
  }
  minNorm *= sN;

  terms.attractor = attractor;
  terms.repeller = repeller;
  terms.minNorm = minNorm;
  out.loss = attractor + options.repellerWeight * repeller + options.minNormWeight * minNorm;
}

function checkInputObject(input: unknown): void {
  if (input === null || typeof input !== 'object') {
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      'input must be an object { embeddings, labels, anchors, dim }',
      {
        argument: 'input',
        value: input,
      },
    );
  }
}

/** Validates the loss input and returns the number of anchors (classes). */
function validateInput(embeddings: FloatArray, labels: Int32Array, anchors: FloatArray, dim: number): number {
  const batch = checkMatrix('embeddings', embeddings, dim, 1);
  const classes = checkMatrix('anchors', anchors, dim, 1);
  if (embeddings.constructor !== anchors.constructor) {
    throw new AnchorageError('INVALID_ARGUMENT', 'embeddings and anchors must be the same array type', {
      argument: 'anchors',
      value: anchors.constructor.name,
    });
  }
  checkLabels(labels, batch, classes);
  return classes;
}

/**
 * The CAM loss and its analytic gradients, allocating fresh gradient arrays (same type as the
 * inputs). For training loops use the allocation-free `CamLoss` class.
 * Throws `AnchorageError` on bad input; never returns NaN for finite input.
 * @example
 * const { loss, grad } = camLoss({ embeddings, labels, anchors, dim: 128 }, { margin: 1 });
 */
export function camLoss<T extends FloatArray = Float32Array>(
  input: CamLossInput<T>,
  options?: CamLossOptionsInput,
): CamLossResult<T> {
  const resolved = resolveCamOptions(options);
  checkInputObject(input);
  validateInput(input.embeddings, input.labels, input.anchors, checkDim(input.dim));
  const Ctor = input.embeddings.constructor as new (n: number) => T;
  const gradE = new Ctor(input.embeddings.length);
  const gradA = new Ctor(input.anchors.length);
  const result: CamLossResult<T> = {
    loss: 0,
    terms: { attractor: 0, repeller: 0, minNorm: 0 },
    grad: { embeddings: gradE, anchors: gradA },
  };
  const work = createRepellerWorkspace(input.anchors.length / input.dim, input.dim);
  computeInto(input.embeddings, input.labels, input.anchors, input.dim, resolved, result, work);
  return result;
}

/**
 * A reusable CAM loss for training loops: it owns its gradient buffers and its result object,
 * so after the first call with a given batch size `compute` allocates nothing. The returned
 * result (and its gradient arrays) is overwritten by the next call: copy what you keep.
 * @example
 * const cam = new CamLoss({ dim: 128, classes: 10 });
 * const { loss, grad } = cam.compute({ embeddings, labels, anchors });
 */
export class CamLoss {
  readonly dim: number;
  readonly classes: number;
  readonly options: Readonly<CamLossOptions>;
  private readonly gradA: Float32Array;
  private gradEBuffer: Float32Array;
  private gradEView: Float32Array;
  private readonly result: CamLossResult<Float32Array>;
  private readonly work: RepellerWorkspace;

  constructor(options: { dim: number; classes: number } & CamLossOptionsInput) {
    this.dim = checkDim(options.dim);
    const classes = options.classes;
    if (typeof classes !== 'number' || !Number.isInteger(classes) || classes < 1) {
      throw new AnchorageError(
        'INVALID_ARGUMENT',
        `classes must be a positive integer, got ${String(classes)}`,
        {
          argument: 'classes',
          value: classes,
        },
      );
    }
    this.classes = classes;
    this.options = Object.freeze(resolveCamOptions(options));
    this.gradA = new Float32Array(classes * this.dim);
    this.work = createRepellerWorkspace(classes, this.dim);
    this.gradEBuffer = new Float32Array(0);
    this.gradEView = this.gradEBuffer;
    this.result = {
      loss: 0,
      terms: { attractor: 0, repeller: 0, minNorm: 0 },
      grad: { embeddings: this.gradEView, anchors: this.gradA },
    };
  }

  /** Loss and gradients for one batch (Float32Array inputs). The result object is reused. */
  compute(input: { embeddings: Float32Array; labels: Int32Array; anchors: Float32Array }): CamLossResult {
    checkInputObject(input);
    const classes = validateInput(input.embeddings, input.labels, input.anchors, this.dim);
    if (!(input.anchors instanceof Float32Array) || classes !== this.classes) {
      throw new AnchorageError(
        'DIMENSION_MISMATCH',
        `anchors must be a Float32Array of ${this.classes}×${this.dim}, got ${classes} rows`,
        { argument: 'anchors', value: classes },
      );
    }
    const n = input.embeddings.length;
    if (this.gradEView.length !== n) {
      if (this.gradEBuffer.length < n) this.gradEBuffer = new Float32Array(n);
      this.gradEView = this.gradEBuffer.subarray(0, n);
      this.result.grad.embeddings = this.gradEView;
    }
    this.gradA.fill(0);
    computeInto(
      input.embeddings,
      input.labels,
      input.anchors,
      this.dim,
      this.options,
      this.result,
      this.work,
    );
    return this.result;
  }
}
