import { AnchorageError } from './errors';

/** Reduction of the attractor term over the batch. */
export type AttractorReduction = 'mean' | 'sum';
/** Reduction of the repeller (over ordered anchor pairs) and min-norm (over anchors) terms. */
export type AnchorReduction = 'sum' | 'mean';

/** Options of the CAM loss. See DEFAULT_CAM_OPTIONS for the defaults and why. */
export interface CamLossOptions {
  /** m: anchors are pushed to be at least 2m apart (Euclidean). > 0. */
  margin: number;
  /** p: anchors are pushed to have a norm of at least p. ≥ 0. */
  minNorm: number;
  /** λ_R, weight of the repeller term. ≥ 0. */
  repellerWeight: number;
  /** λ_N, weight of the min-norm term. ≥ 0. */
  minNormWeight: number;
  reduction: {
    attractor: AttractorReduction;
    repeller: AnchorReduction;
    minNorm: AnchorReduction;
  };
}

/**
 * Defaults. The paper does not state its m and p. The attractor is ½‖e − c‖², so only the ratio of
 * m to the scale of the network's output matters, but with the usual initialisations and Adam
 * learning rates that scale is not free: measured with @anchorage/trainer (refcnn, d = 64,
 * Fashion-MNIST), m = p = 3 beat m = p = 1 by 3.6 and 6.7 mAP points in 2-epoch runs on two seeds
 * and by 0.9 points after 5 full epochs (packages/trainer/README.md, "Results"). p = m keeps the
 * min-norm term inactive at a spread initialisation (anchors of an orthogonal frame 2m apart have
 * norm √2·m > p), so it only guards against anchors collapsing towards the origin.
 * Reductions and weights follow the formulas of the docs' CAM loss page (apps/docs/src/concepts/cam-loss.md).
 */
export const DEFAULT_CAM_OPTIONS: Readonly<CamLossOptions> = Object.freeze({
  margin: 3,
  minNorm: 3,
  repellerWeight: 1,
  minNormWeight: 1,
  reduction: Object.freeze({
    attractor: 'mean',
    repeller: 'sum',
    minNorm: 'sum',
  }) as CamLossOptions['reduction'],
});

/** Options as accepted by the public functions: every field optional, reductions too. */
export type CamLossOptionsInput = Partial<Omit<CamLossOptions, 'reduction'>> & {
  reduction?: Partial<CamLossOptions['reduction']>;
};

function checkNumber(name: string, value: unknown, min: number, strict: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (strict ? value <= min : value < min)) {
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      `${name} must be a finite number ${strict ? '>' : '≥'} ${min}, got ${String(value)}`,
      { argument: name, value },
    );
  }
  return value;
}

function checkChoice<T extends string>(name: string, value: unknown, choices: readonly T[]): T {
  if (!choices.includes(value as T)) {
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      `${name} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${String(value)}`,
      { argument: name, value },
    );
  }
  return value as T;
}

/** Merges user options with the defaults and validates them. */
export function resolveCamOptions(options: CamLossOptionsInput = {}): CamLossOptions {
  const d = DEFAULT_CAM_OPTIONS;
  const r = options.reduction ?? {};
  return {
    margin: checkNumber('margin', options.margin ?? d.margin, 0, true),
    minNorm: checkNumber('minNorm', options.minNorm ?? d.minNorm, 0, false),
    repellerWeight: checkNumber('repellerWeight', options.repellerWeight ?? d.repellerWeight, 0, false),
    minNormWeight: checkNumber('minNormWeight', options.minNormWeight ?? d.minNormWeight, 0, false),
    reduction: {
      attractor: checkChoice('reduction.attractor', r.attractor ?? d.reduction.attractor, ['mean', 'sum']),
      repeller: checkChoice('reduction.repeller', r.repeller ?? d.reduction.repeller, ['sum', 'mean']),
      minNorm: checkChoice('reduction.minNorm', r.minNorm ?? d.reduction.minNorm, ['sum', 'mean']),
    },
  };
}
