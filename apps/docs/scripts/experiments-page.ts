import {
  aggregate,
  type Cell,
  comparisonTables,
  estimatePlan,
  markdownTable,
  type RunResult,
  readResults,
  SUITE_RESULTS,
  selectSpecs,
  settingOf,
  twoStageTables,
  verdicts,
} from '@anchorage/experiments';
import { barChart, scatterChart } from './svg-chart.js';

/** A page of the Results section (the shape `results.ts` writes). */
export interface ExperimentsPage {
  file: string;
  title: string;
  intro: string;
  sources: [string, string][];
  body: string[];
}

const RESULT_FILE = 'apps/experiments/results/suite.jsonl';

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

function hours(seconds: number): string {
  return `${(seconds / 3600).toFixed(1)} h`;
}

/**
 * mAP of each variant of a group (ablation, sweep or tuning) in one setting, each loss's default
 * first, in grey: for ablations the main comparison's mean ± std over the same seeds, for sweeps and
 * tuning (seed 1) the default's seed-1 run.
 */
function variantChart(
  group: 'ablation' | 'sweep' | 'tuning',
  setting: string,
  cells: readonly Cell[],
  results: readonly RunResult[],
): string {
  const variants = cells.filter((c) => c.group === group && settingOf(c) === setting);
  const losses = [...new Set(variants.map((c) => c.loss))];
  const bars = losses.flatMap((loss) => {
    const main = cells.find(
      (c) => c.group === 'main' && c.variant === 'default' && c.loss === loss && settingOf(c) === setting,
    );
    const seedOne = results.find(
      (r) =>
        r.spec.group === 'main' &&
        r.spec.variant === 'default' &&
        r.spec.loss === loss &&
        r.spec.seed === 1 &&
        settingOf(r.spec) === setting,
    );
    const reference =
      group === 'ablation'
        ? main === undefined
          ? []
          : [
              {
                label: `${loss} (full loss)`,
                values: [100 * main.metrics.mAP.mean],
                errors: [100 * main.metrics.mAP.std],
                peer: true,
              },
            ]
        : seedOne === undefined
          ? []
          : [{ label: `${loss} (default)`, values: [100 * seedOne.report.mAP], peer: true }];
    return [
      ...reference,
      ...variants
        .filter((c) => c.loss === loss)
        .map((c) => ({
          label: group === 'tuning' ? `${loss} (${c.variant})` : c.variant,
          values: [100 * c.metrics.mAP.mean],
          errors: [100 * c.metrics.mAP.std],
        })),
    ];
  });
  return barChart({
    id: `${group}-${slug(setting)}`,
    title: `mAP, ${group}, ${setting}`,
    unit: 'mAP %',
    digits: 2,
    bars,
  });
}

/**
 * The comparison page: generated from the suite's committed result file by the same aggregation
 * `pnpm experiments report` prints, with charts.
 */
export async function experimentsPage(): Promise<ExperimentsPage> {
  const results = await readResults(SUITE_RESULTS);
  const cells = aggregate(results);
  const specs = selectSpecs({});
  const plan = estimatePlan(specs, results);
  const finished = plan.rows.reduce((s, r) => s + r.done, 0);
  const extended = selectSpecs({ extended: true });
  const extendedPlan = estimatePlan(extended, results);
  const extendedLeft = extendedPlan.rows.reduce((s, r) => s + r.todo, 0) - (specs.length - finished);
  const body: string[] = [];
  body.push(
    `**State of the suite:** ${finished} of ${specs.length} runs finished (${hours(plan.doneSeconds)} of runs); ` +
      `the remaining ${specs.length - finished} would take about ${hours(plan.todoSeconds)} of runs on a 2-core machine, ` +
      `about ${hours(plan.todoSeconds / 2)} of wall time with \`pnpm experiments --jobs 2 --workers 1\` ` +
      '(the median wall time of the finished runs of each backbone and regime, estimated where none has ' +
      'finished; the runs so far shared the two cores with other work, so this is an upper bound). ' +
      'Tables below show what has finished; a cell with fewer than three seeds says so. ' +
      `The extended part (\`--extended\`: the ViT on the full set, ResNet-18, MNIST) has ${extendedLeft} runs left ` +
      `of about ${hours(extendedPlan.todoSeconds - plan.todoSeconds)} more.`,
  );
  body.push('## Verdict');
  body.push(
    'Each of the paper’s claims, judged on the runs finished so far (the tables below hold every number). ' +
      'A claim is **supported** where CAM leads beyond one standard deviation over seeds in every setting measured, ' +
      '**contradicted** where it trails beyond one everywhere, **mixed** otherwise. Generated from the result ' +
      'file, so it changes as runs finish.',
  );
  for (const v of verdicts(results)) {
    body.push(`**${v.verdict}:** ${v.claim}\n\n${v.evidence.map((e) => `- ${e}`).join('\n')}`);
  }
  body.push('## The comparison');
  body.push(
    'Mean ± sample standard deviation over seeds, in percent; the best mean of each column in bold. ' +
      'Database: the whole training split, in few-shot runs too (the model learned from 10 or 50 images per class); queries: the test split. Few-shot runs evaluated against their own reduced split are kept apart (apps/experiments/results/few-shot-own-database.jsonl) and not shown here.',
  );
  const mainCells = cells.filter((c) => c.group === 'main');
  for (const table of comparisonTables(cells, 'main')) {
    const list = mainCells.filter((c) => settingOf(c) === table.title);
    body.push(`### ${table.title}`);
    body.push(
      barChart({
        id: `experiments-${slug(table.title)}`,
        title: `mAP, ${table.title}`,
        unit: 'mAP %',
        digits: 2,
        bars: list.map((c) => ({
          label: c.loss,
          values: [100 * c.metrics.mAP.mean],
          errors: [100 * c.metrics.mAP.std],
          peer: c.loss !== 'cam',
        })),
      }),
    );
    body.push(markdownTable(table));
  }
  body.push('## Two-stage search for every loss');
  body.push(
    'Stage 1 ranks the class anchors (the loss’s own anchors or proxies; class means of the ' +
      'training embeddings for a loss without them), stage 2 ranks exactly the items of the `probe` ' +
      'nearest buckets. Two databases: **bucketed by labels** (each item in its own class’s bucket: ' +
      'an index of labelled items, where stage 1 only has to find the query’s class) and **bucketed ' +
      'by nearest anchor** (each item in the bucket of its nearest anchor: a database without labels, ' +
      'where the anchors must also sort the database). “mAP kept” is two-stage mAP over exhaustive mAP, ' +
      '“scanned” the share of the database ranked exactly, “stage-1 recall” the share of queries whose ' +
      'class is among the probed anchors.',
  );
  for (const buckets of ['labels', 'nearest-anchor'] as const) {
    for (const table of twoStageTables(cells, buckets, 'main')) {
      const list = mainCells.filter((c) => settingOf(c) === table.title);
      body.push(`### ${table.title}, bucketed by ${buckets}`);
      body.push(
        scatterChart({
          id: `two-stage-${buckets}-${slug(table.title)}`,
          title: `mAP kept against database scanned, probes 1–3, ${table.title}`,
          xLabel: '% of the database scanned',
          yLabel: '% of exhaustive mAP kept',
          digits: 1,
          points: list.flatMap((c) =>
            c.twoStage
              .filter((t) => t.buckets === buckets)
              .map((t) => ({
                label: t.probe === 1 ? c.loss : '',
                x: 100 * t.fractionScanned.mean,
                y: 100 * t.mapKept.mean,
                series: c.loss,
                peer: c.loss !== 'cam',
              })),
          ),
        }),
      );
      body.push(markdownTable(table));
    }
  }
  for (const [group, heading, text] of [
    [
      'ablation',
      'CAM ablations',
      'CAM with a term switched off (its weight set to 0), against the full loss in the comparison above.',
    ],
    [
      'sweep',
      'CAM sweeps',
      'One setting at a time around the defaults (m = 3, p = 3, d = 64, anchor lr 10 × lr, spread initialisation), seed 1.',
    ],
    [
      'tuning',
      'Baseline tuning',
      'Each baseline’s own settings, one at a time around its defaults, seed 1: the tuning budget that CAM’s sweep gets too. Chosen by test-split mAP, which is optimistic and equally so for every loss.',
    ],
  ] as const) {
    body.push(`## ${heading}`);
    body.push(text);
    const tables = comparisonTables(cells, group);
    if (tables.length === 0) {
      body.push('No run of this group has finished yet.');
      continue;
    }
    for (const table of tables) {
      body.push(variantChart(group, table.title, cells, results));
      body.push(markdownTable(table));
    }
  }
  return {
    file: 'experiments.md',
    title: 'The paper’s comparison',
    intro:
      'CAM against cross-entropy, center, contrastive, triplet and ProxyAnchor losses, full-set and ' +
      'few-shot, over three seeds, with the two-stage search evaluated for every loss. We publish what ' +
      'we measure, whichever way it falls. Every run is one line of the committed result file; ' +
      '`pnpm experiments` runs what is missing, `pnpm experiments plan` says what that costs.',
    sources: [[RESULT_FILE, 'pnpm experiments']],
    body,
  };
}
