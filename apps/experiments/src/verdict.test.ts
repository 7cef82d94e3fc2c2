import { describe, expect, it } from 'vitest';
import type { RunResult } from './results.js';
import { type RunSpec, runId } from './spec.js';
import { fullSuite } from './suite.js';
import { gap, verdicts } from './verdict.js';

const suite = fullSuite();

/** A finished run of the suite's spec for (group, loss, regime, variant, seed), with the given numbers. */
function run(
  where: Partial<Pick<RunSpec, 'group' | 'loss' | 'regime' | 'variant' | 'seed' | 'backbone'>>,
  mAP: number,
  kept = 1,
): RunResult {
  const match = suite.find(
    (s) =>
      s.group === (where.group ?? 'main') &&
      s.loss === (where.loss ?? 'cam') &&
      s.regime === (where.regime ?? 'full') &&
      s.variant === (where.variant ?? 'default') &&
      s.backbone === (where.backbone ?? 'refcnn') &&
      s.seed === (where.seed ?? 1),
  );
  if (match === undefined) throw new Error(`no spec for ${JSON.stringify(where)}`);
  const twoStage = (['labels', 'nearest-anchor'] as const).map((buckets) => ({
    probe: 1,
    buckets,
    mAP: mAP * kept,
    mapAt100: mAP,
    precisionAt10: mAP,
    precisionAt100: mAP,
    mapKept: kept,
    fractionScanned: 0.1,
    stage1Recall: 0.8,
  }));
  return {
    id: runId(match),
    spec: match,
    config: {},
    report: {
      mAP,
      mapAt100: mAP,
      precisionAt10: mAP,
      precisionAt100: mAP,
      databaseSize: 60000,
      querySize: 10000,
      dim: 64,
      twoStage,
    },
    backend: 'wasm',
    workers: 1,
    wallSeconds: { train: 1, eval: 1 },
    versions: {},
    machine: { cpus: 2, cpuModel: 'x', node: 'v20' },
    finishedAt: '2026-01-01T00:00:00.000Z',
  };
}

const seeds = (where: Parameters<typeof run>[0], values: number[], kept = 1) =>
  values.map((mAP, i) => run({ ...where, seed: i + 1 }, mAP, kept));

function claim(results: RunResult[], start: string) {
  const found = verdicts(results).find((v) => v.claim.startsWith(start));
  if (found === undefined) throw new Error(`no claim starting "${start}"`);
  return found;
}

describe('verdicts', () => {
  it('call a lead a tie unless it exceeds the larger standard deviation', () => {
    expect(gap({ mean: 0.72, std: 0.01, n: 3 }, { mean: 0.7, std: 0.005, n: 3 }).sign).toBe(1);
    expect(gap({ mean: 0.705, std: 0.01, n: 3 }, { mean: 0.7, std: 0.001, n: 3 }).sign).toBe(0);
    expect(gap({ mean: 0.72, std: 0, n: 1 }, { mean: 0.7, std: 0.01, n: 3 }).text).toBe(
      'CAM ahead by 2.00 points (one seed: no spread to judge it by yet)',
    );
    expect(gap({ mean: 0.6, std: 0.01, n: 3 }, { mean: 0.7, std: 0.02, n: 3 }).text).toBe(
      'CAM behind by 10.00 points',
    );
  });

  it('support the main claim only where CAM leads everywhere, and say mixed when it does not', () => {
    const ahead = [
      ...seeds({ loss: 'cam' }, [0.8, 0.81, 0.79]),
      ...seeds({ loss: 'contrastive' }, [0.7, 0.71, 0.69]),
      ...seeds({ loss: 'cam', regime: 'shots-10' }, [0.6, 0.61, 0.59]),
      ...seeds({ loss: 'contrastive', regime: 'shots-10' }, [0.5, 0.5, 0.5]),
    ];
    const main = claim(ahead, 'CAM retrieves better');
    expect(main.verdict).toBe('supported');
    expect(main.evidence).toHaveLength(2);
    expect(main.evidence[0]).toContain('place 1 of 2');
    const behindFewShot = [
      ...ahead.filter((r) => r.spec.regime === 'full'),
      ...seeds({ loss: 'cam', regime: 'shots-10' }, [0.4, 0.41, 0.39]),
      ...seeds({ loss: 'contrastive', regime: 'shots-10' }, [0.5, 0.5, 0.5]),
    ];
    expect(claim(behindFewShot, 'CAM retrieves better').verdict).toBe('mixed');
    expect(claim([], 'CAM retrieves better').verdict).toBe('not measured yet');
  });

  it('judge consistency by CAM’s standard deviation against the baselines’', () => {
    const results = [
      ...seeds({ loss: 'cam' }, [0.7, 0.7, 0.7]),
      ...seeds({ loss: 'triplet' }, [0.6, 0.7, 0.8]),
      ...seeds({ loss: 'center' }, [0.69, 0.7, 0.71]),
    ];
    expect(claim(results, 'CAM is more consistent').verdict).toBe('supported');
    const noisy = [
      ...seeds({ loss: 'cam' }, [0.5, 0.7, 0.9]),
      ...results.filter((r) => r.spec.loss !== 'cam'),
    ];
    expect(claim(noisy, 'CAM is more consistent').verdict).toBe('contradicted');
  });

  it('judge the two-stage claim on nearest-anchor buckets at probe 1, and say when it is not specific to CAM', () => {
    const results = [
      ...seeds({ loss: 'cam' }, [0.7, 0.7, 0.7], 0.97),
      ...seeds({ loss: 'center' }, [0.7, 0.7, 0.7], 0.99),
    ];
    const twoStage = claim(results, "CAM's anchors");
    expect(twoStage.verdict).toBe('supported');
    expect(twoStage.evidence.at(-1)).toContain('Not specific to CAM');
    const lossy = [
      ...seeds({ loss: 'cam' }, [0.7, 0.7, 0.7], 0.8),
      ...seeds({ loss: 'center' }, [0.7, 0.7, 0.7], 0.99),
    ];
    expect(claim(lossy, "CAM's anchors").verdict).toBe('contradicted');
  });

  it('compare each loss at its best tuned setting on seed 1', () => {
    const results = [
      ...seeds({ loss: 'cam' }, [0.7, 0.9, 0.9]),
      run({ loss: 'contrastive' }, 0.72),
      run({ group: 'sweep', loss: 'cam', variant: 'margin=2' }, 0.75),
      run({ group: 'tuning', loss: 'contrastive', variant: 'margin=0.5' }, 0.74),
    ];
    const tuned = claim(results, 'The comparison survives tuning');
    expect(tuned.verdict).toBe('supported');
    // seed 1 only: CAM's seeds 2 and 3 (0.9) do not count
    expect(tuned.evidence[0]).toContain('CAM at margin=2 75.00 % (best of 2 settings)');
    expect(tuned.evidence[0]).toContain('contrastive at margin=0.5 74.00 % (best of 2)');
    // a loss with its default run only is not tuned: nothing to judge yet
    const untuned = results.filter((r) => r.spec.group === 'main');
    expect(claim(untuned, 'The comparison survives tuning').verdict).toBe('not measured yet');
    // baselines tuned, CAM not: no verdict, but what the baselines reached
    const camUntuned = results.filter((r) => r.spec.group !== 'sweep');
    const pending = claim(camUntuned, 'The comparison survives tuning');
    expect(pending.verdict).toBe('not measured yet');
    expect(pending.evidence[0]).toContain("CAM's sweep has not run yet");
    expect(pending.evidence[0]).toContain('contrastive at margin=0.5 74.00 % (best of 2)');
  });

  it('compare each ablation with the full loss on the same seeds', () => {
    const results = [
      ...seeds({ loss: 'cam' }, [0.7, 0.71, 0.69]),
      ...seeds({ group: 'ablation', variant: 'no-repeller' }, [0.5, 0.5, 0.5]),
      ...seeds({ group: 'ablation', variant: 'no-min-norm' }, [0.7, 0.7, 0.7]),
    ];
    const ablation = claim(results, 'Each of the three terms');
    expect(ablation.verdict).toBe('mixed');
    expect(ablation.evidence.join('\n')).toContain(
      'no-repeller: 50.00 ± 0.00 against the full loss 70.00 ± 1.00',
    );
    expect(ablation.evidence.join('\n')).toContain('a tie within one std');
  });
});
