import { readFile } from 'node:fs/promises';
import { AnchorageError } from '@anchorage/loss-core';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { listDatasets } from '../data';
import { embedDataset } from './embed';
import { exportCheckpointBundle } from './export-model';

function positiveInteger(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  }
  return n;
}

/** Runs `action`, turning an AnchorageError into one `error: …` line and exit status 1. */
async function reportErrors(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (error instanceof AnchorageError) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
}

async function readMetrics(path: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new AnchorageError('INVALID_ARGUMENT', `--metrics ${path} is not a readable JSON file`, {
      argument: 'metrics',
      value: path,
      cause,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AnchorageError('INVALID_ARGUMENT', `--metrics ${path} must hold a JSON object`, {
      argument: 'metrics',
      value: path,
    });
  }
  return parsed as Record<string, unknown>;
}

/**
 * Adds `export` (checkpoint → model bundle) and `embed` (bundle + dataset → `.npy` embeddings and
 * labels, through onnxruntime-node) to the `anchorage-train` program.
 * @example registerExportCommands(new Command('anchorage-train')).parseAsync(process.argv)
 */
export function registerExportCommands(program: Command): Command {
  program
    .command('export')
    .description('write a model bundle (manifest.json, anchors.json, model.onnx) from a training checkpoint')
    .requiredOption('--checkpoint <dir>', 'a run folder (from train --out) or its checkpoint/ folder')
    .requiredOption('--out <dir>', 'bundle folder to write')
    .addOption(
      new Option('--input-type <type>', "model.onnx's input element type (raw 0–255 pixels either way)")
        .choices(['uint8', 'float32'])
        .default('uint8'),
    )
    .option(
      '--metrics <file>',
      'JSON object of evaluation results to record in the manifest (eval --json output)',
    )
    .option('--json', 'print the manifest as JSON')
    .action(
      (flags: {
        checkpoint: string;
        out: string;
        inputType: 'uint8' | 'float32';
        metrics?: string;
        json?: boolean;
      }) =>
        reportErrors(async () => {
          const metrics = flags.metrics === undefined ? undefined : await readMetrics(flags.metrics);
          const manifest = await exportCheckpointBundle(flags.checkpoint, flags.out, {
            inputType: flags.inputType,
            ...(metrics ? { metrics } : {}),
          });
          if (flags.json) process.stdout.write(`${JSON.stringify(manifest)}\n`);
          else {
            const { height, width, channels } = manifest.input!;
            process.stdout.write(
              `wrote bundle ${flags.out}: ${manifest.classes.length} classes, d = ${manifest.dim}, input ${height}×${width}×${channels} ${flags.inputType}\n`,
            );
          }
        }),
    );

  program
    .command('embed')
    .description(
      'embed a dataset split with a bundle’s model.onnx (onnxruntime-node) into .npy embeddings + labels',
    )
    .requiredOption('--bundle <dir>', 'model bundle folder (with model.onnx)')
    .requiredOption('--dataset <name>', `dataset (${listDatasets().join(', ')})`)
    .option('--data <dir>', "dataset folder (default: the dataset's default folder)")
    .addOption(new Option('--split <split>', 'which split').choices(['train', 'test']).default('train'))
    .requiredOption('--out <file>', 'embeddings file, .npy float32 [n, d]')
    .option('--labels-out <file>', 'labels file, .npy int32 [n] (default: <out>.labels.npy)')
    .option('--batch-size <n>', 'images per onnxruntime call', positiveInteger, 256)
    .option('--threads <n>', "onnxruntime intra-op threads (default: onnxruntime's choice)", positiveInteger)
    .addOption(
      new Option('--label-set <set>', 'CIFAR-100: fine or coarse, as trained').choices(['fine', 'coarse']),
    )
    .option('--test-fraction <f>', 'image folder without a split: the test share training used', Number)
    .option('--seed <n>', "image folder without a split: the training run's seed (default 1)", Number)
    .option('--extra', 'SVHN: include extra_32x32.mat in the train split')
    .option('--skip-bad-images', 'leave out unreadable images instead of failing')
    .option('--no-cache', 'decode image files into a temporary file instead of the reusable cache')
    .option('--json', 'print a JSON summary')
    .action(
      (flags: {
        bundle: string;
        dataset: string;
        data?: string;
        split: 'train' | 'test';
        out: string;
        labelsOut?: string;
        batchSize: number;
        threads?: number;
        labelSet?: 'fine' | 'coarse';
        testFraction?: number;
        seed?: number;
        extra?: boolean;
        skipBadImages?: boolean;
        cache: boolean;
        json?: boolean;
      }) =>
        reportErrors(async () => {
          const started = performance.now();
          const result = await embedDataset({
            bundle: flags.bundle,
            dataset: flags.dataset,
            split: flags.split,
            out: flags.out,
            batchSize: flags.batchSize,
            ...(flags.data === undefined ? {} : { data: flags.data }),
            ...(flags.labelsOut === undefined ? {} : { labelsOut: flags.labelsOut }),
            ...(flags.threads === undefined ? {} : { threads: flags.threads }),
            ...(flags.cache === false ? { cache: false } : {}),
            format: {
              labelSet: flags.labelSet,
              testFraction: flags.testFraction,
              seed: flags.seed,
              extra: flags.extra,
              skipBadImages: flags.skipBadImages,
            },
          });
          const seconds = (performance.now() - started) / 1000;
          const summary = { ...result, seconds: Number(seconds.toFixed(3)) };
          if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
          else {
            process.stdout.write(
              `embedded ${result.count} images (d = ${result.dim}) in ${seconds.toFixed(1)} s → ${result.vectorsPath}, ${result.labelsPath}\n`,
            );
          }
        }),
    );
  return program;
}
