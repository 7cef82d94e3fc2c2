import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { appendResult, type RunResult, readResults, repairResults } from './results.js';
import { evalArgs, type RunSpec, runId, trainArgs } from './spec.js';

const require = createRequire(import.meta.url);

/** A trainer child that exited with a non-zero status; its log says why. */
export class RunFailedError extends Error {
  override readonly name = 'RunFailedError';
  constructor(
    readonly id: string,
    readonly step: 'train' | 'eval',
    readonly status: number | null,
    readonly log: string,
  ) {
    super(`${id}: ${step} failed (exit status ${status}); see ${log}`);
  }
}

/** A run stopped by Ctrl-C: the trainer kept its checkpoint, and the next start resumes it. */
export class RunInterruptedError extends Error {
  override readonly name = 'RunInterruptedError';
}

export interface RunSuiteOptions {
  specs: readonly RunSpec[];
  /** The committed JSON-lines file that finished runs are appended to. */
  resultsFile: string;
  /** Where checkpoints and logs live (not committed). */
  workDir: string;
  /** Dataset folders by dataset name; a dataset not named here is read from its default place. */
  data?: Readonly<Record<string, string>>;
  /** Data-parallel workers for full-set runs (few-shot runs use one: a few steps per epoch gain nothing). */
  workers?: number;
  /**
   * Runs at a time (default 1), each in its own trainer processes. Evaluation runs on one thread,
   * so on a 2-core machine two jobs of one worker each keep both cores busy where one job does not.
   */
  jobs?: number;
  /** One line per event (default: stdout). */
  log?: (line: string) => void;
  /** Stops between runs when it returns true (the runner also stops on SIGINT). */
  shouldStop?: () => boolean;
}

export interface RunSuiteSummary {
  ran: string[];
  skipped: string[];
}

const trainerCli = join(dirname(require.resolve('@anchorage/trainer/package.json')), 'src', 'cli.ts');

const running = new Set<ReturnType<typeof spawn>>();

/** Forwards a signal to every running trainer child, so each checkpoints before it exits. */
export function interruptRun(signal: NodeJS.Signals): boolean {
  let forwarded = false;
  for (const child of running)
    if (child.exitCode === null) {
      child.kill(signal);
      forwarded = true;
    }
  return forwarded;
}

/**
 * Calls `task` on every item, at most `jobs` at a time, in order of start. After a task throws (or
 * `shouldStop` says so) no new one starts; the ones running finish, then the first error is thrown.
 */
export async function forEachConcurrently<T>(
  items: readonly T[],
  jobs: number,
  task: (item: T, index: number) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  let failed = false;
  let failure: unknown;
  const lane = async () => {
    while (next < items.length && !failed && !shouldStop()) {
      const index = next++;
      try {
        await task(items[index]!, index);
      } catch (error) {
        if (!failed) failure = error;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, lane));
  if (failed) throw failure;
}

function runTrainer(
  args: readonly string[],
  logFile: string,
): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const log = createWriteStream(logFile, { flags: 'a' });
    log.write(`$ anchorage-train ${args.join(' ')}\n`);
    const child = spawn(
      process.execPath,
      ['--conditions=@anchorage/source', '--import', 'tsx', trainerCli, ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    running.add(child);
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.pipe(log, { end: false });
    child.on('error', reject);
    child.on('close', (status) => {
      running.delete(child);
      log.end(() => resolve({ status, stdout }));
    });
  });
}

function packageVersion(name: string): string {
  const file = require.resolve(`${name}/package.json`, {
    paths: [dirname(require.resolve('@anchorage/trainer/package.json'))],
  });
  return (require(file) as { version: string }).version;
}

/**
 * The source's git commit, with `-modified` when the packages differ from it; undefined outside a
 * git checkout (an installed copy has its package versions instead).
 */
function sourceCommit(): string | undefined {
  const root = join(dirname(require.resolve('@anchorage/trainer/package.json')), '..', '..');
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('rev-parse', '--short=12', 'HEAD');
    return git('status', '--porcelain', '--', 'packages') === '' ? commit : `${commit}-modified`;
  } catch {
    return undefined;
  }
}

/** Versions of what decides a run's numbers: the packages and, in a git checkout, the source commit. */
export function versions(): Record<string, string> {
  const commit = sourceCommit();
  return Object.fromEntries([
    ...(commit === undefined ? [] : [['anchorage commit', commit] as const]),
    ...[
      '@anchorage/trainer',
      '@anchorage/loss-core',
      '@anchorage/retrieval',
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-wasm',
    ].map((name) => [name, packageVersion(name)] as const),
  ]);
}

/** A run's folder under the work directory (its id with `/` turned into `__`). */
export function runDir(workDir: string, id: string): string {
  return join(workDir, id.replaceAll('/', '__'));
}

/**
 * Trains and evaluates every spec whose id is not yet in the result file, `jobs` at a time, each in
 * its own trainer processes, appending a line per finished run. Interrupted, it stops after the
 * trainers have checkpointed; started again, it resumes those runs and skips the finished ones.
 */
export async function runSuite(options: RunSuiteOptions): Promise<RunSuiteSummary> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  if (await repairResults(options.resultsFile))
    log(`${options.resultsFile}: dropped a torn last line (a run cut off while it was being recorded)`);
  const done = new Set((await readResults(options.resultsFile)).map((r) => r.id));
  const summary: RunSuiteSummary = { ran: [], skipped: [] };
  const todo = options.specs.filter((spec) => {
    const id = runId(spec);
    if (done.has(id)) summary.skipped.push(id);
    return !done.has(id);
  });
  log(`${todo.length} to run, ${summary.skipped.length} already in ${options.resultsFile}`);
  const versionTable = versions();
  let appending: Promise<unknown> = Promise.resolve();
  const runOne = async (spec: RunSpec, i: number) => {
    const id = runId(spec);
    const dir = runDir(options.workDir, id);
    await mkdir(dir, { recursive: true });
    const logFile = join(dir, 'log.txt');
    const data = options.data?.[spec.dataset];
    const dataArgs = data === undefined ? [] : ['--data', data];
    const workers = spec.regime === 'full' ? (options.workers ?? 1) : 1;
    const tag = `[${i + 1}/${todo.length}]`;
    log(`${tag} ${id}`);

    const trainStarted = performance.now();
    const resume = existsSync(join(dir, 'checkpoint', 'state.json'));
    const train = await runTrainer(
      resume
        ? ['train', '--dataset', spec.dataset, ...dataArgs, '--out', dir, '--resume', '--quiet']
        : [
            ...trainArgs(spec),
            ...dataArgs,
            '--out',
            dir,
            '--workers',
            String(workers),
            '--backend',
            'wasm',
            '--quiet',
          ],
      logFile,
    );
    if (train.status === 130) throw new RunInterruptedError(`${id}: interrupted; start again to resume it`);
    if (train.status !== 0) throw new RunFailedError(id, 'train', train.status, logFile);
    const trainSeconds = (performance.now() - trainStarted) / 1000;

    const evalStarted = performance.now();
    const evaluation = await runTrainer([...evalArgs(spec), '--checkpoint', dir, ...dataArgs], logFile);
    if (evaluation.status === 130 || evaluation.status === null)
      throw new RunInterruptedError(`${id}: interrupted during evaluation; start again to redo it`);
    if (evaluation.status !== 0) throw new RunFailedError(id, 'eval', evaluation.status, logFile);
    const report = JSON.parse(evaluation.stdout) as Record<string, unknown> & {
      training?: { config: Record<string, unknown> };
      backend: string;
    };
    const state = JSON.parse(await readFile(join(dir, 'checkpoint', 'state.json'), 'utf8')) as {
      config: Record<string, unknown>;
    };
    const result: RunResult = {
      id,
      spec,
      // the dataset folder is this machine's, not part of the configuration: kept out of the committed file
      config: Object.fromEntries(Object.entries(state.config).filter(([key]) => key !== 'data')),
      report: {
        mAP: report.mAP as number,
        mapAt100: report.mapAt100 as number,
        precisionAt10: report.precisionAt10 as number,
        precisionAt100: report.precisionAt100 as number,
        databaseSize: report.databaseSize as number,
        querySize: report.querySize as number,
        dim: report.dim as number,
        ...(report.classAnchors === undefined
          ? {}
          : { classAnchors: report.classAnchors as 'loss' | 'class-means' }),
        twoStage: report.twoStage as RunResult['report']['twoStage'],
      },
      backend: report.backend,
      workers: resume ? ((state.config.workers as number | undefined) ?? workers) : workers,
      wallSeconds: { train: round(trainSeconds), eval: round((performance.now() - evalStarted) / 1000) },
      versions: versionTable,
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
      finishedAt: new Date().toISOString(),
    };
    // concurrent jobs append one after another
    const appended = appending.then(() => appendResult(options.resultsFile, result));
    appending = appended.catch(() => undefined);
    await appended;
    summary.ran.push(id);
    log(
      `${options.jobs !== undefined && options.jobs > 1 ? tag : '   '} mAP ${pct(result.report.mAP)}  ` +
        `P@10 ${pct(result.report.precisionAt10)}  train ${result.wallSeconds.train} s, eval ${result.wallSeconds.eval} s`,
    );
  };
  await forEachConcurrently(todo, options.jobs ?? 1, runOne, () => options.shouldStop?.() ?? false);
  return summary;
}

function round(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}

function pct(value: number): string {
  return `${(100 * value).toFixed(2)} %`;
}
