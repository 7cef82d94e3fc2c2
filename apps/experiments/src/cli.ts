/**
 * `pnpm experiments`: runs the comparison suite (or `--quick`, its pipeline check), appending each
 * finished run to a result file; `plan` says what is left and what it will cost; `report` prints
 * the verdict and the tables from the result file (`--out`: to a file).
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { Command, InvalidArgumentError } from 'commander';
import { estimatePlan, formatPlan } from './plan.js';
import { committedReport, reportMarkdown } from './report.js';
import { readResults } from './results.js';
import { interruptRun, RunFailedError, RunInterruptedError, runSuite } from './runner.js';
import { SUITE_RESULTS, selectSpecs } from './select.js';

interface Flags {
  quick?: boolean;
  extended?: boolean;
  only?: RegExp;
  results?: string;
  workDir: string;
  data: Record<string, string>;
  dataset?: string;
  workers: number;
  jobs: number;
}

function regex(value: string): RegExp {
  try {
    return new RegExp(value);
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a regular expression`);
  }
}

function dataDir(value: string, previous: Record<string, string>): Record<string, string> {
  const at = value.indexOf('=');
  if (at < 1) throw new InvalidArgumentError(`"${value}" is not NAME=DIR`);
  return { ...previous, [value.slice(0, at)]: resolve(value.slice(at + 1)) };
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be an integer ≥ 1');
  return n;
}

function resultsFile(flags: Pick<Flags, 'quick' | 'results' | 'workDir'>): string {
  if (flags.results !== undefined) return resolve(flags.results);
  return flags.quick ? resolve(flags.workDir, 'quick.jsonl') : SUITE_RESULTS;
}

function common(command: Command): Command {
  return command
    .option('--quick', 'the pipeline check: two losses, 10 shots, one seed, a few minutes')
    .option('--extended', 'also the ViT on the full set, ResNet-18 and MNIST (many hours more)')
    .option(
      '--only <regex>',
      'only the runs whose id matches (ids: group/dataset/backbone/loss/regime/variant/seed/hash)',
      regex,
    )
    .option(
      '--results <file>',
      'result file (default: the committed suite file; with --quick, one in --work-dir)',
    )
    .option('--work-dir <dir>', 'where checkpoints and logs are kept', '.anchorage/experiments')
    .option(
      '--dataset <name>',
      'run the Fashion-MNIST configurations on another dataset (cifar-100, svhn, …)',
    )
    .option(
      '--data <name=dir>',
      'folder of a dataset (repeatable); others are read from their default place',
      dataDir,
      {},
    );
}

async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('experiments').description(
    'CAM against the baseline losses, with the evaluation protocol and the two-stage search; resumable',
  );
  let exitCode = 0;
  common(
    program
      .command('run', { isDefault: true })
      .description('train and evaluate every run not yet in the result file'),
  )
    .option('--workers <n>', 'data-parallel workers of full-set runs', positiveInt, 2)
    .option(
      '--jobs <n>',
      'runs at a time (evaluation is single-threaded: on 2 cores, --jobs 2 --workers 1 keeps both busy)',
      positiveInt,
      1,
    )
    .action(async (flags: Flags) => {
      const file = resultsFile(flags);
      let stopping = false;
      const onSignal = (signal: NodeJS.Signals) => {
        stopping = true;
        if (!interruptRun(signal)) process.exit(130);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const summary = await runSuite({
          specs: selectSpecs(flags),
          resultsFile: file,
          workDir: resolve(flags.workDir),
          data: flags.data,
          workers: flags.workers,
          jobs: flags.jobs,
          shouldStop: () => stopping,
        });
        process.stdout.write(
          `ran ${summary.ran.length}, skipped ${summary.skipped.length} (already in ${file})\n`,
        );
      } catch (error) {
        if (error instanceof RunInterruptedError) {
          process.stderr.write(`${error.message}\n`);
          exitCode = 130;
        } else if (error instanceof RunFailedError || error instanceof AnchorageError) {
          process.stderr.write(`error: ${error.message}\n`);
          exitCode = 1;
        } else throw error;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
  common(
    program
      .command('plan')
      .description('what is left to run and an estimate of its wall time on this machine'),
  ).action(async (flags: Flags) => {
    const results = await readResults(resultsFile(flags));
    process.stdout.write(`${formatPlan(estimatePlan(selectSpecs(flags), results))}\n`);
  });
  common(
    program
      .command('report')
      .description('the comparison tables (mean ± std over seeds) from the result file'),
  )
    .option('--out <file>', 'write the report to a file (the suite: the committed results/report.md form)')
    .action(async (flags: Flags & { out?: string }) => {
      const results = await readResults(resultsFile(flags));
      if (flags.out !== undefined) {
        const text = flags.quick ? reportMarkdown(results, { quick: true }) : committedReport(results);
        await writeFile(resolve(flags.out), text);
        process.stdout.write(`wrote ${flags.out} (${results.length} runs)\n`);
      } else process.stdout.write(reportMarkdown(results, { quick: flags.quick }));
    });
  await program.parseAsync([...argv], { from: 'user' });
  return exitCode;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
