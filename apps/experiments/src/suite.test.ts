import { getLossFactory, listLosses } from '@anchorage/trainer';
import { describe, expect, it } from 'vitest';
import { aggregate, comparisonTables, formatStat, stat } from './aggregate.js';
import { type RunResult, readResults } from './results.js';
import { SUITE_RESULTS } from './select.js';
import { evalArgs, runId, shotsOf, trainArgs } from './spec.js';
import { fullSuite, LOSSES, quickSuite } from './suite.js';

describe('the suite', () => {
  const suite = fullSuite();

  it('gives every run its own id, and the same spec the same id', () => {
    const ids = suite.map(runId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(fullSuite().map(runId)).toEqual(ids);
  });

  it('changes the id when anything but key order changes', () => {
    const spec = suite[0]!;
    expect(runId({ ...spec, lr: spec.lr * 2 })).not.toBe(runId(spec));
    expect(runId({ ...spec, lossOptions: { margin: 1 } })).not.toBe(runId(spec));
    const reordered = Object.fromEntries(Object.entries(spec).reverse()) as typeof spec;
    expect(runId(reordered)).toBe(runId(spec));
  });

  it('covers six losses × three regimes × three seeds per backbone on Fashion-MNIST', () => {
    expect([...LOSSES].sort()).toEqual(listLosses().sort());
    const main = suite.filter(
      (s) => s.group === 'main' && s.dataset === 'fashion-mnist' && s.backbone === 'refcnn',
    );
    expect(main).toHaveLength(6 * 3 * 3);
    expect(new Set(main.map((s) => `${s.loss}:${s.regime}`)).size).toBe(18);
  });

  it('keeps the many-hour parts apart: the ViT full set, ResNet-18 and MNIST only with extended', () => {
    const extended = fullSuite({ extended: true });
    const core = new Set(suite.map(runId));
    const extra = extended.filter((s) => !core.has(runId(s)));
    expect(extended.length - extra.length).toBe(suite.length);
    expect(suite.some((s) => s.backbone === 'resnet18' || s.dataset === 'mnist')).toBe(false);
    expect(suite.filter((s) => s.backbone === 'vit').every((s) => s.regime !== 'full')).toBe(true);
    expect(extra.filter((s) => s.backbone === 'vit').every((s) => s.regime === 'full')).toBe(true);
    expect(extra.filter((s) => s.backbone === 'resnet18')).toHaveLength(6 * 3 * 3);
    expect(extra.filter((s) => s.dataset === 'mnist')).toHaveLength(6 * 3);
  });

  it("names only options the loss has, with values of the option's kind", () => {
    for (const spec of [...fullSuite({ extended: true }), ...quickSuite()]) {
      const known = new Map(getLossFactory(spec.loss).options.map((o) => [o.name, o]));
      for (const [name, value] of Object.entries(spec.lossOptions)) {
        const option = known.get(name);
        expect(option, `${runId(spec)}: ${name}`).toBeDefined();
        if (option!.choices !== undefined) expect(option!.choices).toContain(value);
        else expect(typeof value).toBe('number');
      }
    }
  });

  it('turns a spec into trainer flags', () => {
    const spec = suite.find((s) => s.group === 'sweep' && s.variant === 'margin=2')!;
    const args = trainArgs({ ...spec, regime: 'shots-10', lossLr: 0.02, imageSize: 32 });
    expect(args.join(' ')).toContain('--dataset fashion-mnist --backbone refcnn --loss cam');
    expect(args.join(' ')).toContain('--shots 10');
    expect(args.join(' ')).toContain('--loss-lr 0.02');
    expect(args.join(' ')).toContain('--image-size 32');
    expect(args.join(' ')).toContain('--margin 2');
    expect(trainArgs({ ...spec, lossOptions: { minNormWeight: 0 } }).join(' ')).toContain(
      '--min-norm-weight 0',
    );
    expect(shotsOf('full')).toBeUndefined();
    expect(shotsOf('shots-50')).toBe(50);
  });

  it('evaluates the main comparison with every probe and bucketing, the other groups with probe 1 only', () => {
    const main = suite.find((s) => s.group === 'main')!;
    const sweep = suite.find((s) => s.group === 'sweep')!;
    expect(evalArgs(main).join(' ')).toContain('--probes 1,2,3 --buckets labels,nearest-anchor');
    expect(evalArgs(sweep).join(' ')).toContain('--probes 1 --buckets nearest-anchor');
    // few-shot runs of the comparison rank the whole training split
    const fewShot = suite.find((s) => s.group === 'main' && s.regime === 'shots-10')!;
    expect(evalArgs(fewShot).join(' ')).toContain('--database full');
    expect(evalArgs(main).join(' ')).not.toContain('--database');
  });

  it('still has a spec for every committed result, each with the two-stage rows its group asks for', async () => {
    const committed = await readResults(SUITE_RESULTS);
    const specs = new Map(fullSuite({ extended: true }).map((s) => [runId(s), s]));
    for (const result of committed) {
      const spec = specs.get(result.id);
      expect(spec, result.id).toBeDefined();
      expect(result.spec).toEqual(spec);
      const rows = result.report.twoStage.map((t) => `${t.buckets}:${t.probe}`);
      if (spec!.group === 'main') expect(rows).toHaveLength(6);
      else expect(rows).toContain('nearest-anchor:1');
    }
  });
});

describe('aggregate', () => {
  const spec = quickSuite()[0]!;
  const result = (seed: number, mAP: number, loss = 'cam'): RunResult => ({
    id: runId({ ...spec, seed, loss }),
    spec: { ...spec, seed, loss },
    config: {},
    report: {
      mAP,
      mapAt100: mAP,
      precisionAt10: 0.5,
      precisionAt100: 0.4,
      databaseSize: 100,
      querySize: 10,
      dim: 16,
      twoStage: [
        {
          probe: 1,
          buckets: 'labels',
          mAP,
          mapAt100: mAP,
          precisionAt10: 0.5,
          precisionAt100: 0.4,
          mapKept: 1,
          fractionScanned: 0.1 * seed,
          stage1Recall: 0.9,
        },
      ],
    },
    backend: 'wasm',
    workers: 1,
    wallSeconds: { train: seed, eval: 1 },
    versions: {},
    machine: { cpus: 2, cpuModel: 'x', node: 'v20' },
    finishedAt: '2026-01-01T00:00:00.000Z',
  });

  it('takes mean and sample standard deviation over seeds', () => {
    expect(stat([1, 2, 3, 4])).toEqual({ mean: 2.5, std: Math.sqrt(5 / 3), n: 4 });
    expect(stat([0.7])).toEqual({ mean: 0.7, std: 0, n: 1 });
    const [cell] = aggregate([result(1, 0.6), result(2, 0.7), result(3, 0.8)]);
    expect(cell!.seeds).toEqual([1, 2, 3]);
    expect(cell!.metrics.mAP.mean).toBeCloseTo(0.7, 12);
    expect(cell!.metrics.mAP.std).toBeCloseTo(0.1, 12);
    expect(cell!.twoStage[0]!.fractionScanned.mean).toBeCloseTo(0.2, 12);
    expect(cell!.medianSeconds).toBe(3);
    expect(formatStat(cell!.metrics.mAP)).toBe('70.00 ± 10.00');
  });

  it('counts a seed recorded twice once (the later line wins)', () => {
    const [cell] = aggregate([result(1, 0.6), result(1, 0.9)]);
    expect(cell!.metrics.mAP).toEqual({ mean: 0.9, std: 0, n: 1 });
  });

  it('marks the best mean of each column', () => {
    const cells = aggregate([result(1, 0.6), result(1, 0.8, 'triplet')]);
    const [table] = comparisonTables(cells, 'quick');
    expect(table!.rows.map((r) => r[0])).toEqual(['cam', 'triplet']);
    expect(table!.rows[0]![1]).toBe('60.00');
    expect(table!.rows[1]![1]).toBe('**80.00**');
    // a tie is best for both
    expect(table!.rows[0]![3]).toBe('**50.00**');
    expect(table!.rows[1]![3]).toBe('**50.00**');
  });
});
