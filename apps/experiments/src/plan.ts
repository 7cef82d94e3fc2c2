import type { RunResult } from './results.js';
import { type Regime, type RunSpec, runId } from './spec.js';

/**
 * Seconds per run (train + eval) on an idle 2-core machine before any run of that kind has
 * finished: refcnn measured (Fashion-MNIST, 2 epochs: about 140 s of training on two workers and
 * 85 s of evaluation; a few-shot run trains in under half a minute and is dominated by the
 * evaluation, which embeds and ranks the whole training split); the ViT measured on few-shot runs
 * (about 50 s of training, 190 s of evaluation, most of it embedding); ResNet-18's CPU preset scaled
 * by its cost per image, a guess until a run measures it.
 */
const PRIOR_SECONDS: Record<Regime, number> = { full: 230, 'shots-50': 105, 'shots-10': 100 };
const BACKBONE_FACTOR: Record<string, number> = { refcnn: 1, vit: 2.5, resnet18: 6 };

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
          : PRIOR_SECONDS[spec.regime] * (BACKBONE_FACTOR[spec.backbone] ?? 4),
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
