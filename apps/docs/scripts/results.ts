import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { experimentsPage } from './experiments-page.js';
import { numberIn, readSource, type Section, section } from './markdown-source.js';
import { docsSrc, generatedNote, repoRoot } from './paths.js';
import { barChart, embeddingMap, lineChart, scatterChart } from './svg-chart.js';

/** A page of the Results section. */
interface Page {
  file: string;
  title: string;
  intro: string;
  /** Where its numbers come from, for the overview: [file, command]. */
  sources: [string, string][];
  body: string[];
}

function table(rows: string[][]): string {
  const [header, ...rest] = rows;
  return [
    `| ${header!.join(' | ')} |`,
    `| ${header!.map(() => '---').join(' | ')} |`,
    ...rest.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function provenance(file: string, command: string, extra = ''): string {
  return `From \`${file}\`, made by \`${command}\`${extra ? `; ${extra}` : ''}.`;
}

/** An `anchorage-train eval` table as printed: a description line, a header, then label + numbers. */
interface EvalTable {
  description: string;
  columns: string[];
  rows: Map<string, (number | undefined)[]>;
  text: string;
}

function parseEvalTable(text: string): EvalTable {
  const [description, header, ...lines] = text.split('\n').filter((l) => l.trim() !== '');
  const columns = header!.trim().split(/\s{2,}/);
  const rows = new Map<string, (number | undefined)[]>();
  for (const line of lines) {
    const match = /^(\S.*?)\s{2,}(.*)$/.exec(line.trim());
    if (!match) continue;
    rows.set(
      match[1]!,
      match[2]!.split(/\s+/).map((v) => (v === '-' ? undefined : Number(v))),
    );
  }
  return { description: description!, columns, rows, text };
}

function modelLabel(description: string): string {
  const cam = /CAM \(margin (\S+), minNorm (\S+)\)/.exec(description);
  if (cam) return `CAM, m = ${cam[1]}, p = ${cam[2]}`;
  if (/raw pixels/.test(description)) return 'raw pixels (L2)';
  return description.split(';').pop()!.trim();
}

function qualityPage(): Page {
  const readme = 'packages/trainer/README.md';
  const source = readSource(readme);
  const evalCommand = 'node --import tsx src/cli.ts eval --checkpoint runs/fmnist-m3';
  const fmnist = section(source, /^Fashion-MNIST, 5 epochs/, evalCommand);
  const tables = fmnist.fences.filter((f) => /^\s*fashion-mnist:/.test(f)).map(parseEvalTable);
  if (tables.length === 0) throw new Error(`${readme}: no eval tables under "Fashion-MNIST, 5 epochs"`);
  const metrics = ['mAP', 'mAP@100', 'P@10'];
  const commands = fmnist.fences.find((f) => f.includes(evalCommand))!;
  const cam = tables.find((t) => /CAM/.test(t.description));

  const sweepCommand = 'tsx bench/cam-defaults.ts';
  const sweep = section(source, /^Choosing the CAM defaults/, sweepCommand);
  const sweepRows = sweep.tables[0];
  if (!sweepRows) throw new Error(`${readme}: no table under "Choosing the CAM defaults"`);
  const head = sweepRows[0]!.map((h) => h.toLowerCase());
  const col = (name: string) => {
    const i = head.indexOf(name.toLowerCase());
    if (i < 0) throw new Error(`${readme}: the defaults table has no column "${name}"`);
    return i;
  };

  const body = [
    '## CAM against raw pixels: Fashion-MNIST, 5 epochs',
    'Full-database retrieval with the [evaluation protocol](../concepts/evaluation.md): the 60,000 ' +
      'training images are the database, the 10,000 test images the queries. refcnn, d = 64, ' +
      'B = 128, Adam (backbone 0.001, anchors 0.01), seed 1, wasm backend.',
    barChart({
      id: 'quality-fashion-mnist',
      title: 'Fashion-MNIST retrieval, exhaustive search (%)',
      unit: '%',
      series: metrics,
      digits: 2,
      bars: tables.map((t) => ({
        label: modelLabel(t.description),
        values: metrics.map((m) => {
          const v = t.rows.get(m)?.[0];
          if (v === undefined) throw new Error(`${readme}: "${t.description}" has no ${m}`);
          return v;
        }),
        peer: !/CAM/.test(t.description),
      })),
    }),
    provenance(readme, evalCommand, 'the commands, in `packages/trainer`:'),
    `\`\`\`sh\n${commands}\n\`\`\``,
  ];
  if (cam) {
    const probes = cam.columns.filter((c) => c.startsWith('probe'));
    const at = (row: string, column: string) => cam.rows.get(row)?.[cam.columns.indexOf(column)];
    body.push(
      '### Two-stage search on the same model',
      'Each database item sits in its own class\u2019s bucket; stage 1 keeps the `probe` anchors nearest ' +
        'the query and stage 2 ranks only their buckets. "scanned" is the share of the database ' +
        'compared; mAP is over the full ranking (the other buckets follow by anchor distance).',
      barChart({
        id: 'quality-two-stage',
        title: `Two-stage search, ${modelLabel(cam.description)} (%)`,
        unit: '%',
        series: ['mAP', 'scanned', 'stage-1 recall'],
        digits: 2,
        bars: ['exhaustive', ...probes].map((column) => ({
          label: column,
          values: [at('mAP', column) ?? 0, at('scanned', column) ?? 0, at('stage-1 recall', column) ?? 0],
        })),
      }),
    );
  }
  const lossCommand = '--loss LOSS --epochs 2';
  const perLoss = section(source, /^Every loss, Fashion-MNIST, 2 epochs/, lossCommand);
  const lossRows = perLoss.tables[0];
  if (!lossRows) throw new Error(`${readme}: no table under "Every loss, Fashion-MNIST, 2 epochs"`);
  const lossHead = lossRows[0]!.map((h) => h.toLowerCase());
  const lossCol = (prefix: string) => {
    const i = lossHead.findIndex((h) => h.startsWith(prefix.toLowerCase()));
    if (i < 0) throw new Error(`${readme}: the per-loss table has no column starting "${prefix}"`);
    return i;
  };
  const lossSeries: [string, string][] = [
    ['mAP', 'mAP'],
    ['mAP@100', 'mAP@100'],
    ['P@10', 'P@10'],
    ['mAP, probe 1', 'mAP, probe 1'],
  ];
  body.push(
    '## Every loss: Fashion-MNIST, 2 epochs',
    'The paper\u2019s five baselines and CAM, each trained the same way (refcnn, d = 64, B = 128, ' +
      'Adam, seed 1, 2 epochs, wasm \u00d7 2 workers) with its default options; nothing is tuned, so ' +
      'these short runs say nothing yet about the paper\u2019s claim. "mAP, probe 1" ranks through ' +
      'the two-stage search with the loss\u2019s class anchors (10 % of the database scanned).',
    barChart({
      id: 'quality-losses',
      title: 'Fashion-MNIST retrieval per loss, 2 epochs (%)',
      unit: '%',
      series: lossSeries.map(([name]) => name),
      digits: 2,
      bars: lossRows.slice(1).map((r) => ({
        label: r[0]!.replace(/`/g, ''),
        values: lossSeries.map(([, column]) => numberIn(r[lossCol(column)]!)),
        peer: !r[0]!.includes('cam'),
      })),
    }),
    provenance(readme, lossCommand, 'the commands, in `packages/trainer`:'),
    table(lossRows),
  );
  const curveFile = 'packages/trainer/bench/results/fm2-cam.metrics.jsonl.gz';
  const steps = gunzipSync(readFileSync(join(repoRoot, curveFile)))
    .toString('utf8')
    .split('\n')
    .filter((line) => line.includes('"type":"step"'))
    .map((line) => JSON.parse(line) as { step: number; loss: number });
  if (steps.length === 0) throw new Error(`${curveFile}: no step records`);
  // the mean of each window of 10 steps: per-step values of a random batch are noisy
  const windowed = (key: 'loss'): [number, number][] => {
    const out: [number, number][] = [];
    for (let i = 0; i < steps.length; i += 10) {
      const w = steps.slice(i, i + 10);
      out.push([w[w.length - 1]!.step, w.reduce((sum, r) => sum + r[key], 0) / w.length]);
    }
    return out;
  };
  body.push(
    '### Training loss of the CAM run, per step',
    'The `metrics.jsonl` of the `cam` run above (one record per step), drawn as the mean of each ' +
      'window of 10 steps (469 steps an epoch). Nearly all of it is the attractor term.',
    lineChart({
      id: 'quality-cam-loss-curve',
      title: 'CAM loss during training, Fashion-MNIST, 2 epochs',
      xLabel: 'step',
      yLabel: 'loss (mean of 10 steps)',
      // the attractor is nearly all of it: the repeller stays below 0.1 once the anchors spread
      series: [{ name: 'CAM loss', points: windowed('loss') }],
    }),
    provenance(
      curveFile,
      'src/cli.ts train … --loss cam --epochs 2 … --out runs/fm2-cam (the per-loss runs above); gzip -9 -n runs/fm2-cam/metrics.jsonl',
    ),
  );
  const mapFile = 'apps/docs/data/embedding-map.fmnist-cam.json';
  const map = JSON.parse(readFileSync(join(repoRoot, mapFile), 'utf8')) as {
    source: string;
    command: string;
    classes: string[];
    points: { label: number; x: number; y: number }[];
    anchors: { label: number; x: number; y: number }[];
  };
  if (map.points.length === 0 || map.anchors.length !== map.classes.length) {
    throw new Error(`${mapFile}: expected points and one anchor per class`);
  }
  body.push(
    '### The CAM run\u2019s embedding space',
    `${map.points.length.toLocaleString('en')} test images of the \`cam\` run above and its ` +
      `${map.anchors.length} class anchors, projected together from d = 64 to two dimensions with ` +
      'UMAP (umap-js, 15 neighbours, seeded). A projection keeps neighbourhoods, not distances: ' +
      'it shows which classes the model keeps apart and which it mixes (shirt, T-shirt, pullover ' +
      'and coat in Fashion-MNIST), not the margins themselves.',
    embeddingMap({
      id: 'quality-embedding-map',
      title: 'Fashion-MNIST test embeddings and CAM anchors (UMAP)',
      classes: map.classes,
      points: map.points,
      anchors: map.anchors,
    }),
    provenance(mapFile, `node --import tsx ${map.command}`, `in \`apps/docs\`, after ${map.source}`),
  );
  body.push('### The tables as `eval` printed them');
  for (const t of tables) body.push(`\`\`\`text\n${t.text.trim()}\n\`\`\``);
  body.push(
    '## Choosing the CAM defaults: short runs',
    'refcnn, d = 64, B = 128, 6,000 Fashion-MNIST training images, 2 epochs, wasm; evaluated on a ' +
      'database of 10,000 training images and 2,000 test queries. This sweep is why the defaults ' +
      'are m = p = 3, lr 0.001 and anchor lr 0.01 ([choosing m and p](../concepts/choosing-m-and-p.md)).',
    barChart({
      id: 'quality-defaults',
      title: 'CAM defaults sweep, Fashion-MNIST subset (%)',
      unit: '%',
      series: metrics,
      digits: 2,
      bars: sweepRows.slice(1).map((r) => ({
        label: `seed ${r[col('seed')]}, m ${r[col('margin')]}, p ${r[col('minNorm')]}, lr ${r[col('lr')]}/${r[col('anchorLr')]}`,
        values: metrics.map((m) => numberIn(r[col(m)]!)),
      })),
    }),
    provenance(readme, `${sweepCommand} (and --seed 2 --only 0,3)`, 'run in `packages/trainer`'),
    table(sweepRows),
  );
  return {
    file: 'quality.md',
    title: 'Retrieval quality',
    intro: 'mAP, mAP@100 and P@10 of CAM-trained models, and the runs that chose the defaults.',
    sources: [
      [readme, evalCommand],
      [readme, sweepCommand],
      [readme, lossCommand],
    ],
    body,
  };
}

interface BenchRow {
  name: string;
  buildS: number;
  medianUs: number;
  cpuMedianUs: number;
  batchQps: number;
  recallAt10: number;
  scanned: number | null;
}

interface BenchRun {
  data: string;
  n: number;
  dim: number;
  classes: number;
  queries: number;
  k: number;
  machine: string;
  code: string;
  loadAverage?: { start: number; end: number };
  command: string;
  rows: BenchRow[];
}

function shortName(name: string): string {
  return name
    .replace(/^AnchorIndex probe=/, 'Anchor p=')
    .replace(/^AnchorIndex int8 probe=/, 'Anchor int8 p=')
    .replace(/^FAISS IndexIVFFlat nprobe=/, 'FAISS IVF p=')
    .replace(/^FAISS IndexFlatL2/, 'FAISS Flat');
}

function searchPage(): Page {
  const dir = 'packages/retrieval/bench/results';
  const files = readdirSync(join(repoRoot, dir))
    .filter((f) => f.endsWith('.json'))
    .sort();
  const body: string[] = [];
  const sources: [string, string][] = [];
  for (const file of files) {
    const path = `${dir}/${file}`;
    const run = JSON.parse(readFileSync(join(repoRoot, path), 'utf8')) as BenchRun;
    const id = file.replace(/\.json$/, '');
    sources.push([path, run.command]);
    const ours = (name: string) => /^(AnchorIndex|FlatIndex)/.test(name);
    body.push(
      `## N = ${run.n.toLocaleString('en-US')}, ${run.queries.toLocaleString('en-US')} queries (${file})`,
      `${run.data}; k = ${run.k}. ${run.machine}; code ${run.code}` +
        (run.loadAverage ? `; load average ${run.loadAverage.start} → ${run.loadAverage.end}.` : '.') +
        ' Times are process CPU time per query, one thread.',
      scatterChart({
        id: `search-recall-${id}`,
        title: `Latency against recall@10, N = ${run.n.toLocaleString('en-US')}`,
        xLabel: 'CPU µs per query (log)',
        yLabel: 'recall@10',
        xLog: true,
        points: run.rows.map((r) => ({
          label: shortName(r.name),
          x: r.cpuMedianUs,
          y: r.recallAt10,
          series: r.name.startsWith('AnchorIndex int8')
            ? 'anchor-int8'
            : r.name.startsWith('AnchorIndex')
              ? 'anchor'
              : r.name.startsWith('FAISS IndexIVF')
                ? 'ivf'
                : undefined,
          peer: !ours(r.name),
        })),
      }),
      barChart({
        id: `search-latency-${id}`,
        title: `CPU time per query, N = ${run.n.toLocaleString('en-US')} (log scale)`,
        unit: 'µs',
        log: true,
        digits: 0,
        bars: run.rows.map((r) => ({ label: r.name, values: [r.cpuMedianUs], peer: !ours(r.name) })),
      }),
      provenance(path, run.command),
      table([
        ['index', 'build s', 'CPU median µs', 'wall median µs', 'batch q/s', 'recall@10', 'scanned'],
        ...run.rows.map((r) => [
          r.name,
          r.buildS.toFixed(2),
          r.cpuMedianUs.toFixed(0),
          r.medianUs.toFixed(1),
          r.batchQps.toFixed(0),
          r.recallAt10.toFixed(4),
          r.scanned === null ? '—' : `${(r.scanned * 100).toFixed(2)} %`,
        ]),
      ]),
    );
  }
  return {
    file: 'search.md',
    title: 'Search speed',
    intro:
      'FlatIndex and the two-stage AnchorIndex against hnswlib-node and FAISS on the same synthetic ' +
      'class-structured data. `packages/retrieval/bench/RESULTS.md` discusses every run.',
    sources,
    body,
  };
}

function tablesOf(s: Section, path: string): string[][][] {
  if (s.tables.length === 0) throw new Error(`${path}: no table under "${s.heading}"`);
  return s.tables;
}

function trainingPage(): Page {
  const path = 'packages/trainer/bench/RESULTS.md';
  const command = 'pnpm bench';
  const quote = section(readSource(path), /numbers to quote/, command);
  const [summary] = tablesOf(quote, path);
  const head = summary![0]!;
  const msColumn = head.findIndex((h) => /ms\/step/.test(h));
  if (msColumn < 0) throw new Error(`${path}: the first table has no ms/step column`);

  const exportPath = 'packages/trainer/bench/EXPORT_RESULTS.md';
  const exportCommand = 'pnpm exec tsx bench/export-embed.ts --seconds 5';
  const exportSource = readSource(exportPath);
  const exportSection = exportSource.sections.find((s) => s.tables.length > 0);
  if (!exportSection) throw new Error(`${exportPath}: no table`);
  section(exportSource, /.*/, exportCommand);
  const exportRows = exportSection.tables[0]!;
  const ips = exportRows[0]!.findIndex((h) => /images\/s/.test(h));

  return {
    file: 'training.md',
    title: 'Training speed',
    intro:
      'One refcnn training step (B = 128, 28×28×1, d = 64) on tfjs-wasm with the trainer\u2019s own ' +
      'kernels, against PyTorch on the CPU with the same network; and embedding throughput of the ' +
      'exported model.',
    sources: [
      [path, command],
      [exportPath, exportCommand],
    ],
    body: [
      '## A training step on the CPU',
      barChart({
        id: 'training-step',
        title: 'Milliseconds per refcnn training step, B = 128 (median of runs)',
        unit: 'ms',
        digits: 1,
        bars: summary!.slice(1).map((r) => ({
          label: r[0]!.replace(/`/g, ''),
          values: [numberIn(r[msColumn]!)],
          peer: /PyTorch/.test(r[0]!),
        })),
      }),
      provenance(path, command, `run in \`packages/trainer\`, section "${quote.heading}"`),
      table(summary!),
      '## Embedding throughput: ONNX export against tfjs-wasm',
      barChart({
        id: 'training-embed',
        title: 'refcnn forward pass, images per second',
        unit: 'images/s',
        digits: 0,
        bars: exportRows.slice(1).map((r) => ({
          label: `${r[0]}, batch ${r[1]}`,
          values: [numberIn(r[ips]!)],
          peer: /tfjs/.test(r[0]!),
        })),
      }),
      provenance(exportPath, exportCommand, 'run in `packages/trainer`'),
      table(exportRows),
    ],
  };
}

function servingPage(): Page {
  const path = 'packages/server/bench/RESULTS.md';
  const command = 'pnpm --filter @anchorage/server bench';
  const quote = section(readSource(path), /numbers to quote/, command);
  const rows = tablesOf(quote, path)[0]!;
  const rps = rows[0]!.findIndex((h) => /req\/s/.test(h));
  return {
    file: 'serving.md',
    title: 'Serving',
    intro:
      '`anchorage-serve` under load on loopback: d = 64, C = 10, N = 60,000 labelled items, k = 10, ' +
      'probe = 1; image queries are 28×28 PNGs embedded by a refcnn-shaped ONNX model.',
    sources: [[path, command]],
    body: [
      `## ${quote.heading}`,
      barChart({
        id: 'serving-throughput',
        title: 'Requests per second served, N = 60,000',
        unit: 'req/s',
        digits: 0,
        bars: rows.slice(1).map((r) => ({ label: `${r[0]}, ${r[1]}`, values: [numberIn(r[rps]!)] })),
      }),
      provenance(path, command),
      table(rows),
    ],
  };
}

export async function generateResults(): Promise<string> {
  const dir = join(docsSrc, 'results');
  mkdirSync(dir, { recursive: true });
  const pages = [qualityPage(), await experimentsPage(), searchPage(), trainingPage(), servingPage()];
  const note = generatedNote('scripts/results.ts', 'committed result files');
  for (const page of pages) {
    const text = [note, `# ${page.title}`, page.intro, ...page.body].join('\n\n');
    writeFileSync(join(dir, page.file), `${text}\n`);
  }
  const overview = [
    note,
    '# Results and benchmarks',
    'Every number in this section is read at build time from a result file committed in the ' +
      'repository, and each chart names the command that produced it. Re-running a command and ' +
      'committing its output updates these pages; nothing here is typed in by hand.',
    table([
      ['page', 'result file', 'command'],
      ...pages.flatMap((p) =>
        p.sources.map(([file, command]) => [
          `[${p.title}](./${p.file})`,
          `\`${file}\``,
          `\`${command.replace(/\|/g, '\\|')}\``,
        ]),
      ),
    ]),
    'The embedding map on [Retrieval quality](quality.md) is drawn from projected points committed ' +
      'in `apps/docs/data/` by `apps/docs/scripts/embedding-map.ts`, which the build does not run.',
    'Machines: the runs above used a shared 2-core AMD EPYC VM; each page says how loaded it was. ' +
      'Ratios against a peer measured in the same run are the numbers to compare.',
  ].join('\n\n');
  writeFileSync(join(dir, 'index.md'), `${overview}\n`);
  return dir;
}
