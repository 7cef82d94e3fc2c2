import { createHash } from 'node:crypto';

/** Which question a run answers; the results page has one section per group. */
export type RunGroup = 'main' | 'ablation' | 'sweep' | 'tuning' | 'quick';

/** Full set, or a few images per class (the database is then the same reduced split). */
export type Regime = 'full' | 'shots-10' | 'shots-50';

export const REGIMES: readonly Regime[] = ['full', 'shots-10', 'shots-50'];

/** One training run and its evaluation: everything that decides its numbers. */
export interface RunSpec {
  group: RunGroup;
  /** A short name of what this run varies within its group (`default`, `margin=2`, `no-repeller`…). */
  variant: string;
  dataset: string;
  backbone: string;
  /** Backbone flags beyond the name (`--width`, `--patch`…), as the trainer CLI takes them. */
  backboneOptions: Record<string, number | string>;
  loss: string;
  /** The loss's options by their option names (`margin`, `minNorm`…); unset ones take the loss's defaults. */
  lossOptions: Record<string, number | string>;
  regime: Regime;
  seed: number;
  epochs: number;
  batchSize: number;
  /** Adam learning rate of the backbone. */
  lr: number;
  /** Learning rate of the loss's own variables; undefined = the loss's default scale × lr. */
  lossLr?: number;
  dim: number;
  /** Images per side the model sees (`--image-size`); undefined = the dataset's own size. */
  imageSize?: number;
  /**
   * A few-shot run's database: `full` = the whole training split (the comparison's protocol);
   * undefined = the reduced split it trained on (the evaluation protocol's default).
   */
  database?: 'full';
}

/** Shots per class of a regime, or undefined for the full set. */
export function shotsOf(regime: Regime): number | undefined {
  return regime === 'full' ? undefined : Number(regime.slice('shots-'.length));
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * A stable, readable id: the coordinates people filter on, then a hash of the whole spec, so two
 * runs that differ in anything get different ids and a changed configuration is never mistaken
 * for a finished one.
 */
export function runId(spec: RunSpec): string {
  const canonical = JSON.stringify(spec, Object.keys(flatKeys(spec)).sort());
  const hash = createHash('sha256').update(canonical).digest('hex').slice(0, 8);
  return [
    spec.group,
    spec.dataset,
    spec.backbone,
    spec.loss,
    spec.regime,
    spec.variant,
    `s${spec.seed}`,
    hash,
  ]
    .join('/')
    .replace(/[^A-Za-z0-9/=.,_-]/g, '_');
}

/** Every key at every depth, for a canonical JSON key order. */
function flatKeys(value: unknown, into: Record<string, true> = {}): Record<string, true> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) {
      into[key] = true;
      flatKeys(inner, into);
    }
  }
  return into;
}

/** `anchorage-train train` arguments for a spec (without --out, --data, --workers). */
export function trainArgs(spec: RunSpec): string[] {
  const args = [
    'train',
    '--dataset',
    spec.dataset,
    '--backbone',
    spec.backbone,
    '--loss',
    spec.loss,
    '--epochs',
    String(spec.epochs),
    '--batch-size',
    String(spec.batchSize),
    '--lr',
    String(spec.lr),
    '--dim',
    String(spec.dim),
    '--seed',
    String(spec.seed),
  ];
  const shots = shotsOf(spec.regime);
  if (shots !== undefined) args.push('--shots', String(shots));
  if (spec.lossLr !== undefined) args.push('--loss-lr', String(spec.lossLr));
  if (spec.imageSize !== undefined) args.push('--image-size', String(spec.imageSize));
  for (const [name, value] of Object.entries(spec.backboneOptions))
    args.push(`--${kebab(name)}`, String(value));
  for (const [name, value] of Object.entries(spec.lossOptions)) args.push(`--${kebab(name)}`, String(value));
  return args;
}

/**
 * `anchorage-train eval` arguments for a spec (without --checkpoint, --data). The main comparison
 * (and the pipeline check) evaluates probes 1–3 with both bucketings; ablations, sweeps and tuning
 * answer "which setting ranks best", so they evaluate the exhaustive ranking and probe 1 over
 * nearest-anchor buckets only: one two-stage ranking instead of six, a third of the evaluation time.
 * Derived from the group, so it is not part of the run id.
 */
export function evalArgs(spec: RunSpec): string[] {
  const full = spec.group === 'main' || spec.group === 'quick';
  return [
    'eval',
    '--json',
    '--probes',
    full ? '1,2,3' : '1',
    '--buckets',
    full ? 'labels,nearest-anchor' : 'nearest-anchor',
    ...(spec.database === 'full' ? ['--database', 'full'] : []),
    '--backend',
    'wasm',
  ];
}
