import { AnchorageError } from '@anchorage/loss-core';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { BackendRequest } from '../backends';
import { integer, kebab, number } from '../cli-args';
import { AUGMENT_POLICIES, type AugmentPolicy, IMAGE_FITS, type ImageFit, listDatasets } from '../data';
import { getLossFactory, type LossOptionSpec, listLosses } from '../losses';
import { addBackboneOptions } from '../models/cli-options';
import { DEFAULT_TRAIN_CONFIG, type TrainConfigInput } from './config';
import type { TwoStageBuckets } from './retrieval-metrics';

function integerList(value: string): number[] {
  return value.split(',').map((part) => integer(part));
}

const BUCKETINGS: readonly TwoStageBuckets[] = ['labels', 'nearest-anchor'];

function bucketList(value: string): TwoStageBuckets[] {
  return value.split(',').map((part) => {
    const name = part.trim() as TwoStageBuckets;
    if (!BUCKETINGS.includes(name))
      throw new InvalidArgumentError(`"${part}" is not one of ${BUCKETINGS.join(', ')}`);
    return name;
  });
}

interface TrainFlags {
  dataset: string;
  data?: string;
  backbone: string;
  loss: string;
  epochs: number;
  batchSize: number;
  lr: number;
  lossLr?: number;
  anchorLr?: number;
  dim: number;
  seed: number;
  backend: string;
  shots?: number;
  limit?: number;
  workers: number;
  imageSize?: number;
  channels?: number;
  fit?: ImageFit;
  labelSet?: 'fine' | 'coarse';
  testFraction?: number;
  extra?: boolean;
  skipBadImages?: boolean;
  cache: boolean;
  augment?: AugmentPolicy;
  out: string;
  resume?: boolean;
  quiet?: boolean;
  checkpointEvery?: number;
  /** The losses' own options (`--margin`, `--alpha`, …), present when given. */
  [lossOption: string]: unknown;
}

/** Every option of every registered loss, once per name, with the losses that have it. */
function lossOptionTable(): Map<
  string,
  { spec: LossOptionSpec; losses: { loss: string; spec: LossOptionSpec }[] }
> {
  const table = new Map<string, { spec: LossOptionSpec; losses: { loss: string; spec: LossOptionSpec }[] }>();
  for (const loss of listLosses()) {
    for (const spec of getLossFactory(loss).options) {
      const row = table.get(spec.name) ?? { spec, losses: [] };
      row.losses.push({ loss, spec });
      table.set(spec.name, row);
    }
  }
  return table;
}

/** `train --help`'s list of losses and their options, written from the registry. */
function lossHelp(): string {
  const lines = ['', 'Losses (--loss) and their options (defaults in parentheses):'];
  for (const loss of listLosses()) {
    const factory = getLossFactory(loss);
    lines.push(`  ${loss}: ${factory.description}`);
    lines.push(`    --loss-lr: learning rate of its variables (default ${factory.lrScale} × --lr)`);
    for (const spec of factory.options) {
      const choices = spec.choices ? ` [${spec.choices.join(' | ')}]` : '';
      lines.push(`    --${kebab(spec.name)}: ${spec.description}${choices} (${spec.default})`);
    }
  }
  return lines.join('\n');
}

interface EvalFlags {
  checkpoint?: string;
  dataset?: string;
  data?: string;
  json?: boolean;
  baseline?: 'pixels';
  imageSize?: number;
  channels?: number;
  fit?: ImageFit;
  backend: string;
  probes: number[];
  buckets: TwoStageBuckets[];
  database: 'trained' | 'full';
}

/** `--image-size`, `--channels` and `--fit`, shared by `train` and `eval --baseline`. */
function addInputOptions(command: Command, what: string): Command {
  return command
    .option('--image-size <n>', `${what}: resize images to n×n (default: the dataset's own size)`, integer)
    .addOption(
      new Option('--channels <n>', `${what}: convert images to 1 (grey) or 3 (RGB) channels`)
        .choices(['1', '3'])
        .argParser(Number),
    )
    .addOption(
      new Option(
        '--fit <policy>',
        'how --image-size reshapes: cover (scale, crop the centre), contain (scale, black borders), fill (stretch), pad (no scaling, centred on black)',
      ).choices([...IMAGE_FITS]),
    );
}

/** Runs `action`, turning an `AnchorageError` into one `error: …` line and exit status 1. */
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

/**
 * Adds `train` and `eval` to a commander program. Other command groups (export, embed) register
 * themselves on the same program, so `anchorage-train` stays one binary.
 */
export function registerTrainCommands(program: Command): void {
  const d = DEFAULT_TRAIN_CONFIG;
  const trainCommand = program
    .command('train')
    .description('train a backbone with a metric-learning loss (CAM by default) and the loss’s own variables')
    .requiredOption('--dataset <name>', `dataset: ${listDatasets().join(' | ')}`)
    .option('--data <dir>', "dataset folder (default: the dataset's default folder)")
    .addOption(
      new Option('--label-set <set>', 'CIFAR-100: fine (100 classes) or coarse (20 superclasses)').choices([
        'fine',
        'coarse',
      ]),
    )
    .option(
      '--test-fraction <f>',
      'image folder without a train/test split: seeded, stratified test share of each class (default 0.2)',
      number,
    )
    .option('--extra', 'SVHN: train on extra_32x32.mat too')
    .option(
      '--skip-bad-images',
      'leave out unreadable images and empty class folders (counted) instead of failing',
    )
    .option('--no-cache', 'decode image files into a temporary file instead of the reusable on-disk cache')
    .addOption(
      new Option(
        '--augment <policy>',
        'training augmentation, seeded: crop-flip (pad, random crop, mirror) or resized-crop-flip (random box resized back, mirror)',
      ).choices([...AUGMENT_POLICIES]),
    )
    .option(
      '--backbone <name>',
      'a backbone (listed below) or a tfjs layers model.json to fine-tune',
      d.backbone,
    )
    .addOption(new Option('--loss <name>', 'loss (options below)').choices(listLosses()).default(d.loss))
    .option('--epochs <n>', 'epochs', integer, d.epochs)
    .option('--batch-size <n>', 'batch size', integer, d.batchSize)
    .option('--lr <lr>', 'Adam learning rate of the backbone', number, d.lr)
    .option(
      '--loss-lr <lr>',
      "Adam learning rate of the loss's own variables (default: the loss's scale × --lr)",
      number,
    )
    .option('--anchor-lr <lr>', "CAM's name for --loss-lr (the anchors' learning rate)", number)
    .option('--dim <d>', 'embedding size', integer, d.dim)
    .option('--seed <n>', 'seed of everything random', integer, d.seed)
    .option('--backend <name>', 'auto | webgpu | tensorflow | wasm | cpu', d.backend)
    .option('--shots <k>', 'few-shot: training images per class', integer)
    .option('--limit <n>', 'train on a seeded random subset of n images', integer)
    .option('--workers <n>', 'data-parallel worker threads (wasm), 1 = none', integer, d.workers);
  addInputOptions(trainCommand, 'model input')
    .requiredOption('--out <dir>', 'output folder: checkpoint/ and metrics.jsonl')
    .option(
      '--resume',
      'continue the run in --out from its checkpoint (its config is reused; --epochs may grow)',
    )
    .option('--quiet', 'no progress bar or log lines')
    .option(
      '--checkpoint-every <steps>',
      'also write a checkpoint every n steps (default: after each epoch)',
      integer,
    )
    .addHelpText('after', lossHelp);
  for (const [name, { spec, losses }] of lossOptionTable()) {
    // A flag several losses share (--margin) describes each loss's meaning and default.
    const description =
      losses.length === 1
        ? `${spec.description} (${losses[0]!.loss}; default ${spec.default})`
        : losses.map((l) => `${l.loss}: ${l.spec.description} (${l.spec.default})`).join('; ');
    const option = new Option(`--${kebab(name)} <value>`, description);
    if (losses.every((l) => l.spec.choices !== undefined)) {
      option.choices([...new Set(losses.flatMap((l) => l.spec.choices!))]);
    } else option.argParser(number);
    trainCommand.addOption(option);
  }
  const lossOptionNames = [...lossOptionTable().keys()];
  const backboneFlags = addBackboneOptions(trainCommand);
  trainCommand.action((flags: TrainFlags, command: Command) =>
    reportErrors(async () => {
      const { train } = await import('./train');
      const { out, resume, quiet, dataset, data, backbone, loss, epochs, batchSize, lr, dim, seed, backend } =
        flags;
      if (flags.lossLr !== undefined && flags.anchorLr !== undefined && flags.lossLr !== flags.anchorLr) {
        throw new AnchorageError('INVALID_ARGUMENT', '--anchor-lr is another name for --loss-lr: give one', {
          argument: 'anchorLr',
          value: flags.anchorLr,
        });
      }
      const lossOptions: Record<string, unknown> = {};
      for (const name of lossOptionNames) if (flags[name] !== undefined) lossOptions[name] = flags[name];
      const input: TrainConfigInput = {
        dataset,
        data,
        backbone,
        loss,
        lossOptions,
        ...backboneFlags(flags),
        epochs,
        batchSize,
        lr,
        lossLr: flags.lossLr ?? flags.anchorLr,
        dim,
        seed,
        backend,
        shots: flags.shots,
        limit: flags.limit,
        workers: flags.workers,
        imageSize: flags.imageSize,
        channels: flags.channels,
        fit: flags.fit,
        labelSet: flags.labelSet,
        testFraction: flags.testFraction,
        extra: flags.extra,
        skipBadImages: flags.skipBadImages,
        cache: flags.cache === false ? false : undefined,
        augment: flags.augment,
      };
      if (resume) {
        // A resumed run keeps its recorded config; only flags given explicitly may change it.
        for (const key of ['epochs', 'backend', 'workers', 'lr'] as const) {
          if (command.getOptionValueSource(key) !== 'cli') delete input[key];
        }
      }
      const controller = new AbortController();
      const onSigint = (): void => {
        if (controller.signal.aborted) process.exit(130);
        process.stderr.write(
          '\nstopping after this step (press Ctrl-C again to quit without a checkpoint)…\n',
        );
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      try {
        const result = await train(input, {
          out,
          resume,
          quiet,
          signal: controller.signal,
          checkpointEverySteps: flags.checkpointEvery,
        });
        if (result.status === 'stopped') process.exitCode = 130;
      } finally {
        process.off('SIGINT', onSigint);
      }
    }),
  );

  const evalCommand = program
    .command('eval')
    .description(
      'evaluate a checkpoint: mAP, mAP@100, P@10, P@100 and two-stage search (train split = database, test split = queries)',
    )
    .option('--checkpoint <dir>', 'a run folder (from train --out) or its checkpoint/ folder')
    .option('--dataset <name>', "dataset (default: the checkpoint's)")
    .option('--data <dir>', "dataset folder (default: the checkpoint's, else the dataset's default)")
    .addOption(
      new Option('--baseline <kind>', 'evaluate a baseline instead of a checkpoint').choices(['pixels']),
    )
    .option('--probes <list>', 'probes of the two-stage search', integerList, [1, 2, 3]);
  addInputOptions(evalCommand, 'with --baseline (a checkpoint uses its own)')
    .option(
      '--buckets <list>',
      "two-stage database buckets: labels (each item's class), nearest-anchor (labels unused), or both",
      bucketList,
      ['labels'],
    )
    .addOption(
      new Option(
        '--database <which>',
        "a few-shot model's database: the reduced split it was trained on (trained) or the whole training split (full)",
      )
        .choices(['trained', 'full'])
        .default('trained'),
    )
    .option('--backend <name>', 'auto | webgpu | tensorflow | wasm | cpu', 'auto')
    .option('--json', 'print one JSON object instead of the table')
    .action((flags: EvalFlags) =>
      reportErrors(async () => {
        const { selectBackend } = await import('../backends');
        const evaluate = await import('./evaluate');
        if (flags.baseline === undefined && flags.checkpoint === undefined) {
          throw new AnchorageError(
            'INVALID_ARGUMENT',
            'eval needs --checkpoint <dir> (or --baseline pixels --dataset <name>)',
            {
              argument: 'checkpoint',
            },
          );
        }
        if (flags.baseline !== undefined && flags.dataset === undefined) {
          throw new AnchorageError('INVALID_ARGUMENT', 'eval --baseline needs --dataset <name>', {
            argument: 'dataset',
          });
        }
        const backend = await selectBackend(flags.backend as BackendRequest);
        const report =
          flags.baseline === 'pixels'
            ? await evaluate.evaluatePixelBaseline({
                dataset: flags.dataset!,
                data: flags.data,
                input: { imageSize: flags.imageSize, channels: flags.channels, fit: flags.fit },
              })
            : await evaluate.evaluateCheckpoint({
                checkpoint: flags.checkpoint!,
                dataset: flags.dataset,
                data: flags.data,
                probes: flags.probes,
                buckets: flags.buckets,
                database: flags.database,
                log: (line) => process.stderr.write(`${line}\n`),
              });
        process.stdout.write(
          flags.json
            ? `${JSON.stringify({ ...report, backend: backend.name })}\n`
            : `${evaluate.formatEvalReport(report)}\n`,
        );
      }),
    );
}
