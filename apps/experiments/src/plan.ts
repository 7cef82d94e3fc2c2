import type { RunResult } from './results.js';
import { type Regime, type RunSpec, runId } from './spec.js';

/**
 * Seconds per run (train + eval, one worker) on an idle 2-core machine before any run of that kind
 * has finished. Measured: refcnn (Fashion-MNIST; a full-set run trains 2 epochs in about 125 s and
 * evaluates in 85 s; a few-shot run trains in under half a minute and is dominated by the
 * evaluation, which embeds and ranks the whole training split) and the ViT's few-shot runs (about
 * 50–80 s of training, 190 s of evaluation, most of it embedding). Estimated from one 2-epoch run on
 * a 10,000-image subset each (`resnet18-cpu` 962 s, the ViT 313 s, on two workers under load),
 * scaled to 60,000 images: the ViT and ResNet-18's CPU preset on the full set, and ResNet-18's
 * few-shot runs (its embedding of 70,000 images).
 */
const PRIOR_SECONDS: Record<string, number> = {
  'refcnn:full': 210,
  'refcnn:shots-50': 105,
  'refcnn:shots-10': 100,
  'vit:full': 1800,
  'vit:shots-50': 260,
  'vit:shots-10': 240,
  'resnet18:full': 6500,
  'resnet18:shots-50': 660,
  'resnet18:shots-10': 640,
};
/** A backbone without a prior of its own: twice refcnn's, a guess until a run measures it. */
const UNKNOWN_BACKBONE_FACTOR = 2;

export interface PlanRow {
  group: string;
  backbone: string;
  regime: Regime;
  todo: number;
  done: number;
  /** Seconds per run: a median of finished runs of this backbone and regime, else the prior. */
  perRun: number;
  measured: boolean;
}

export interface Plan {
  rows: PlanRow[];
  todoSeconds: number;
  doneSeconds: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** What is left of `specs` given the finished `results`, and its cost from what finished runs took. */
export function estimatePlan(specs: readonly RunSpec[], results: readonly RunResult[]): Plan {
  const finished = new Map(results.map((r) => [r.id, r]));
  // by group too (the groups evaluate differently), falling back to any group of that backbone and regime
  const measuredSeconds = new Map<string, number[]>();
  for (const r of results) {
    for (const key of [
      `${r.spec.group}:${r.spec.backbone}:${r.spec.regime}`,
      `${r.spec.backbone}:${r.spec.regime}`,
    ])
      measuredSeconds.set(key, [
        ...(measuredSeconds.get(key) ?? []),
        r.wallSeconds.train + r.wallSeconds.eval,
      ]);
  }
  const rows = new Map<string, PlanRow>();
  let doneSeconds = 0;
  for (const spec of specs) {
    const key = `${spec.group}:${spec.backbone}:${spec.regime}`;
    const measured = measuredSeconds.get(key) ?? measuredSeconds.get(`${spec.backbone}:${spec.regime}`);
    const row = rows.get(key) ?? {
      group: spec.group,
      backbone: spec.backbone,
      regime: spec.regime,
      todo: 0,
      done: 0,
      perRun:
        measured !== undefined
          ? median(measured)
          : (PRIOR_SECONDS[`${spec.backbone}:${spec.regime}`] ??
            UNKNOWN_BACKBONE_FACTOR * PRIOR_SECONDS[`refcnn:${spec.regime}`]!),
      measured: measured !== undefined,
    };
    const result = finished.get(runId(spec));
    if (result !== undefined) {
      row.done++;
      doneSeconds += result.wallSeconds.train + result.wallSeconds.eval;
    } else row.todo++;
    rows.set(key, row);
  }
  const list = [...rows.values()];
  return { rows: list, todoSeconds: list.reduce((s, r) => s + r.todo * r.perRun, 0), doneSeconds };
}

function hours(seconds: number): string {
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function formatPlan(plan: Plan): string {
  const lines = [
    'group     backbone   regime     done  to do  per run',
    '--------  ---------  ---------  ----  -----  -------',
  ];
  for (const r of plan.rows) {
    lines.push(
      `${r.group.padEnd(8)}  ${r.backbone.padEnd(9)}  ${r.regime.padEnd(9)}  ${String(r.done).padStart(4)}  ` +
        `${String(r.todo).padStart(5)}  ${`${Math.round(r.perRun)} s`.padStart(7)}${r.measured ? '' : ' (estimate)'}`,
    );
  }
  lines.push(
    `finished: ${hours(plan.doneSeconds)} of runs; left: about ${hours(plan.todoSeconds)} of runs, one at a time ` +
      `(--jobs 2 on two cores or more: about ${hours(plan.todoSeconds / 2)})`,
  );
  return lines.join('\n');
}
