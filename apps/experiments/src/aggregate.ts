import type { RunResult } from './results.js';
import type { Regime, RunGroup } from './spec.js';

/** Mean and sample standard deviation over a cell's seeds (std 0 for one seed). */
export interface Stat {
  mean: number;
  std: number;
  n: number;
}

export const METRICS = ['mAP', 'mapAt100', 'precisionAt10', 'precisionAt100'] as const;
export type Metric = (typeof METRICS)[number];

export const METRIC_LABELS: Record<Metric, string> = {
  mAP: 'mAP',
  mapAt100: 'mAP@100',
  precisionAt10: 'P@10',
  precisionAt100: 'P@100',
};

/** Runs that differ only in their seed. */
export interface Cell {
  group: RunGroup;
  dataset: string;
  backbone: string;
  regime: Regime;
  loss: string;
  variant: string;
  seeds: number[];
  metrics: Record<Metric, Stat>;
  /** Two-stage search per bucketing and probe, over the same seeds. */
  twoStage: {
    buckets: 'labels' | 'nearest-anchor';
    probe: number;
    mapKept: Stat;
    fractionScanned: Stat;
    stage1Recall: Stat;
  }[];
  /** Median wall time of a run (train + eval), seconds. */
  medianSeconds: number;
}

export function stat(values: readonly number[]): Stat {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(n, 1);
  const variance = n > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(variance), n };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Groups results into cells (everything equal but the seed), in the order their first run appears. */
export function aggregate(results: readonly RunResult[]): Cell[] {
  const cells = new Map<string, RunResult[]>();
  for (const r of results) {
    const { seed: _seed, ...rest } = r.spec;
    const key = JSON.stringify(rest);
    const list = cells.get(key) ?? [];
    // a rerun of the same seed (a result file merged twice) counts once: the latest wins
    const same = list.findIndex((x) => x.spec.seed === r.spec.seed);
    if (same >= 0) list[same] = r;
    else list.push(r);
    cells.set(key, list);
  }
  return [...cells.values()].map((runs) => {
    const s = runs[0]!.spec;
    const metrics = Object.fromEntries(METRICS.map((m) => [m, stat(runs.map((r) => r.report[m]))])) as Record<
      Metric,
      Stat
    >;
    const keys = new Map<string, { buckets: 'labels' | 'nearest-anchor'; probe: number }>();
    for (const t of runs[0]!.report.twoStage) keys.set(`${t.buckets}:${t.probe}`, t);
    const twoStage = [...keys.values()].map(({ buckets, probe }) => {
      const rows = runs.flatMap((r) =>
        r.report.twoStage.filter((t) => t.buckets === buckets && t.probe === probe),
      );
      return {
        buckets,
        probe,
        mapKept: stat(rows.map((t) => t.mapKept)),
        fractionScanned: stat(rows.map((t) => t.fractionScanned)),
        stage1Recall: stat(rows.map((t) => t.stage1Recall)),
      };
    });
    return {
      group: s.group,
      dataset: s.dataset,
      backbone: s.backbone,
      regime: s.regime,
      loss: s.loss,
      variant: s.variant,
      seeds: runs.map((r) => r.spec.seed).sort((a, b) => a - b),
      metrics,
      twoStage,
      medianSeconds: median(runs.map((r) => r.wallSeconds.train + r.wallSeconds.eval)),
    };
  });
}

/** The setting a cell belongs to, and the title of its tables: dataset · backbone · regime. */
export function settingOf(c: Pick<Cell, 'dataset' | 'backbone' | 'regime'>): string {
  return `${c.dataset} · ${c.backbone} · ${c.regime}`;
}

/** `mean ± std` in percent. */
export function formatStat(s: Stat, digits = 2): string {
  const mean = (100 * s.mean).toFixed(digits);
  return s.n > 1 ? `${mean} ± ${(100 * s.std).toFixed(digits)}` : mean;
}

/** A comparison table: one row per cell, the best mean per metric marked with `**`. */
export interface ComparisonTable {
  title: string;
  header: string[];
  rows: string[][];
}

/**
 * The main comparison, one table per dataset × backbone × regime: each loss's mean ± std over its
 * seeds, the best mean of each column in bold.
 */
export function comparisonTables(cells: readonly Cell[], group: RunGroup = 'main'): ComparisonTable[] {
  const tables = new Map<string, Cell[]>();
  for (const c of cells.filter((c) => c.group === group)) {
    const key = settingOf(c);
    tables.set(key, [...(tables.get(key) ?? []), c]);
  }
  return [...tables.entries()].map(([title, list]) => {
    const best = Object.fromEntries(METRICS.map((m) => [m, Math.max(...list.map((c) => c.metrics[m].mean))]));
    const rows = list.map((c) => [
      c.variant === 'default' ? c.loss : `${c.loss} (${c.variant})`,
      ...METRICS.map((m) => {
        const text = formatStat(c.metrics[m]);
        return c.metrics[m].mean === best[m] ? `**${text}**` : text;
      }),
      String(c.seeds.length),
    ]);
    return { title, header: ['loss', ...METRICS.map((m) => `${METRIC_LABELS[m]} (%)`), 'seeds'], rows };
  });
}

/** Two-stage search per loss: mAP kept, database scanned and stage-1 recall at each probe, for one bucketing. */
export function twoStageTables(
  cells: readonly Cell[],
  buckets: 'labels' | 'nearest-anchor',
  group: RunGroup = 'main',
): ComparisonTable[] {
  const tables = new Map<string, Cell[]>();
  for (const c of cells.filter((c) => c.group === group)) {
    const key = settingOf(c);
    tables.set(key, [...(tables.get(key) ?? []), c]);
  }
  return [...tables.entries()].map(([title, list]) => {
    const probes = [
      ...new Set(list.flatMap((c) => c.twoStage.filter((t) => t.buckets === buckets).map((t) => t.probe))),
    ].sort((a, b) => a - b);
    const header = ['loss', ...probes.flatMap((p) => [`probe ${p}: mAP kept`, `scanned`, `stage-1 recall`])];
    const rows = list.map((c) => [
      c.loss,
      ...probes.flatMap((p) => {
        const t = c.twoStage.find((x) => x.buckets === buckets && x.probe === p);
        return t === undefined
          ? ['–', '–', '–']
          : [formatStat(t.mapKept, 1), formatStat(t.fractionScanned, 1), formatStat(t.stage1Recall, 1)];
      }),
    ]);
    return { title, header, rows };
  });
}

/** A markdown table. */
export function markdownTable(table: ComparisonTable): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(table.header),
    line(table.header.map((_, i) => (i === 0 ? '---' : '---:'))),
    ...table.rows.map(line),
  ].join('\n');
}
