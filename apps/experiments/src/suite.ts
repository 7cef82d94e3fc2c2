import { REGIMES, type Regime, type RunSpec } from './spec.js';

/** The six losses the comparison covers, CAM first. */
export const LOSSES = ['cam', 'cross-entropy', 'center', 'contrastive', 'triplet', 'proxy-anchor'] as const;

export const SEEDS = [1, 2, 3] as const;

/**
 * Epochs per regime: the full set (60,000 images, 469 steps of 128 per epoch) trains 2 epochs;
 * the few-shot sets train about as many steps as it takes the loss to settle on 100 or 500 images.
 */
const EPOCHS: Record<Regime, number> = { full: 2, 'shots-50': 30, 'shots-10': 100 };

/** Backbones of the grid and their flags: refcnn everywhere, the ViT and ResNet-18's CPU preset where registered. */
export const BACKBONES: readonly { name: string; options: Record<string, number | string> }[] = [
  { name: 'refcnn', options: {} },
  { name: 'vit', options: {} },
  { name: 'resnet18', options: { width: 0.25 } },
];

/** Input size per backbone: the convolutional and transformer backbones take 32×32 (Fashion-MNIST padded). */
const IMAGE_SIZE: Record<string, number | undefined> = { refcnn: undefined, vit: 32, resnet18: 32 };

function base(over: Partial<RunSpec> & Pick<RunSpec, 'group' | 'loss'>): RunSpec {
  const backbone = over.backbone ?? 'refcnn';
  const regime = over.regime ?? 'full';
  const spec: RunSpec = {
    variant: 'default',
    dataset: 'fashion-mnist',
    backbone,
    backboneOptions: {},
    lossOptions: {},
    regime,
    seed: 1,
    epochs: EPOCHS[regime],
    batchSize: 128,
    lr: 1e-3,
    dim: 64,
    ...over,
  };
  const imageSize = over.imageSize ?? IMAGE_SIZE[backbone];
  if (imageSize !== undefined) spec.imageSize = imageSize;
  return spec;
}

/** A run of the main comparison; few-shot runs rank the whole training split, as the comparison's protocol says. */
function mainRun(backbone: (typeof BACKBONES)[number], regime: Regime, loss: string, seed: number): RunSpec {
  return base({
    group: 'main',
    backbone: backbone.name,
    backboneOptions: backbone.options,
    loss,
    regime,
    seed,
    ...(regime === 'full' ? {} : { database: 'full' as const }),
  });
}

/**
 * The main comparison that fits a few hours on two cores: every loss × regime × seed on
 * Fashion-MNIST with refcnn, and the ViT few-shot.
 */
function mainGrid(): RunSpec[] {
  const runs: RunSpec[] = [];
  for (const backbone of BACKBONES.filter((b) => b.name !== 'resnet18'))
    for (const regime of REGIMES)
      for (const loss of LOSSES)
        for (const seed of SEEDS)
          if (backbone.name === 'refcnn' || regime !== 'full')
            runs.push(mainRun(backbone, regime, loss, seed));
  return runs;
}

/**
 * The rest of the main comparison, each part hours on two cores: the ViT on the full set,
 * ResNet-18's CPU preset everywhere, and MNIST full-set with refcnn.
 */
function extendedGrid(): RunSpec[] {
  const runs: RunSpec[] = [];
  for (const backbone of BACKBONES)
    for (const regime of REGIMES)
      for (const loss of LOSSES)
        for (const seed of SEEDS)
          if (backbone.name === 'resnet18' || (backbone.name === 'vit' && regime === 'full'))
            runs.push(mainRun(backbone, regime, loss, seed));
  for (const loss of LOSSES)
    for (const seed of SEEDS) runs.push(base({ group: 'main', dataset: 'mnist', loss, seed }));
  return runs;
}

/** CAM with a term removed, on every seed: does each term earn its place? */
function ablations(): RunSpec[] {
  const variants: [string, Record<string, number>][] = [
    ['no-repeller', { repellerWeight: 0 }],
    ['no-min-norm', { minNormWeight: 0 }],
    ['attractor-only', { repellerWeight: 0, minNormWeight: 0 }],
  ];
  return variants.flatMap(([variant, lossOptions]) =>
    SEEDS.map((seed) => base({ group: 'ablation', variant, loss: 'cam', lossOptions, seed })),
  );
}

/** One-at-a-time sweeps of CAM's settings around the defaults (m = 3, p = 3, d = 64, anchor lr 10 × lr, spread). */
function sweeps(): RunSpec[] {
  const runs: RunSpec[] = [];
  const cam = (variant: string, over: Partial<RunSpec>) =>
    base({ group: 'sweep', variant, loss: 'cam', ...over });
  for (const margin of [0.5, 1, 2, 5]) runs.push(cam(`margin=${margin}`, { lossOptions: { margin } }));
  for (const minNorm of [1, 5]) runs.push(cam(`min-norm=${minNorm}`, { lossOptions: { minNorm } }));
  for (const dim of [16, 32, 128]) runs.push(cam(`dim=${dim}`, { dim }));
  for (const lossLr of [1e-3, 3e-3, 3e-2]) runs.push(cam(`anchor-lr=${lossLr}`, { lossLr }));
  runs.push(cam('anchor-init=random', { lossOptions: { anchorInit: 'random' } }));
  return runs;
}

/**
 * The baselines' tuning budget, comparable to CAM's sweep: each baseline's own hyperparameters and
 * the learning rate of its variables, one at a time around its defaults.
 */
function tuning(): RunSpec[] {
  const runs: RunSpec[] = [];
  const tune = (loss: string, variant: string, over: Partial<RunSpec>) =>
    runs.push(base({ group: 'tuning', variant, loss, ...over }));
  for (const margin of [0.5, 1.5]) tune('contrastive', `margin=${margin}`, { lossOptions: { margin } });
  for (const margin of [0.1, 0.5]) tune('triplet', `margin=${margin}`, { lossOptions: { margin } });
  for (const alpha of [16, 64]) tune('proxy-anchor', `alpha=${alpha}`, { lossOptions: { alpha } });
  for (const delta of [0.05, 0.2]) tune('proxy-anchor', `delta=${delta}`, { lossOptions: { delta } });
  for (const lossLr of [1e-3, 1e-1]) tune('proxy-anchor', `proxy-lr=${lossLr}`, { lossLr });
  for (const centerWeight of [0.01, 1])
    tune('center', `center-weight=${centerWeight}`, { lossOptions: { centerWeight } });
  for (const lr of [3e-4, 3e-3]) tune('cross-entropy', `lr=${lr}`, { lr });
  return runs;
}

/**
 * The suite, in the order it runs: the comparison first, then what explains it; with `extended`,
 * then the parts that take many hours more (see {@link extendedGrid}).
 */
export function fullSuite(options: { extended?: boolean } = {}): RunSpec[] {
  return [
    ...mainGrid(),
    ...ablations(),
    ...sweeps(),
    ...tuning(),
    ...(options.extended ? extendedGrid() : []),
  ];
}

/**
 * The pipeline check (`--quick`): two losses, 10 shots, a small model, one seed. It exercises
 * training, evaluation (both bucketings), the result file, resuming and the report; its numbers
 * mean nothing.
 */
export function quickSuite(): RunSpec[] {
  return ['cam', 'cross-entropy'].map((loss) =>
    base({ group: 'quick', loss, regime: 'shots-10', epochs: 2, batchSize: 50, dim: 16 }),
  );
}
