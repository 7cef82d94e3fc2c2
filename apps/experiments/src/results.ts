import { mkdir, open, readFile, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { z } from 'zod';

const metrics = {
  mAP: z.number(),
  mapAt100: z.number(),
  precisionAt10: z.number(),
  precisionAt100: z.number(),
};

const twoStage = z.object({
  ...metrics,
  probe: z.number().int(),
  buckets: z.enum(['labels', 'nearest-anchor']),
  mapKept: z.number(),
  fractionScanned: z.number(),
  stage1Recall: z.number(),
});

const spec = z.object({
  group: z.enum(['main', 'ablation', 'sweep', 'tuning', 'quick']),
  variant: z.string(),
  dataset: z.string(),
  backbone: z.string(),
  backboneOptions: z.record(z.string(), z.union([z.number(), z.string()])),
  loss: z.string(),
  lossOptions: z.record(z.string(), z.union([z.number(), z.string()])),
  regime: z.enum(['full', 'shots-10', 'shots-50']),
  seed: z.number().int(),
  epochs: z.number().int(),
  batchSize: z.number().int(),
  lr: z.number(),
  lossLr: z.number().optional(),
  dim: z.number().int(),
  imageSize: z.number().int().optional(),
  database: z.literal('full').optional(),
});

/** One finished run: a line of a result file. */
export const runResultSchema = z.object({
  id: z.string(),
  spec,
  /** The trainer's resolved configuration, loss defaults filled in, as its checkpoint records it. */
  config: z.record(z.string(), z.unknown()),
  report: z.object({
    ...metrics,
    databaseSize: z.number().int(),
    querySize: z.number().int(),
    dim: z.number().int(),
    classAnchors: z.enum(['loss', 'class-means']).optional(),
    twoStage: z.array(twoStage),
  }),
  backend: z.string(),
  workers: z.number().int(),
  wallSeconds: z.object({ train: z.number(), eval: z.number() }),
  versions: z.record(z.string(), z.string()),
  machine: z.object({ cpus: z.number().int(), cpuModel: z.string(), node: z.string() }),
  finishedAt: z.string(),
});

export type RunResult = z.infer<typeof runResultSchema>;

/**
 * Reads a result file (JSON lines). A missing file is an empty one; a line that does not parse or
 * does not match the schema is refused with its line number, never skipped, since a rerun would
 * otherwise silently redo or drop it.
 */
export async function readResults(file: string): Promise<RunResult[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const results: RunResult[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new AnchorageError('INVALID_ARGUMENT', `${file}:${i + 1} is not JSON`, { argument: 'results' });
    }
    const parsed = runResultSchema.safeParse(value);
    if (!parsed.success) {
      throw new AnchorageError(
        'INVALID_ARGUMENT',
        `${file}:${i + 1} is not a run result: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`,
        { argument: 'results' },
      );
    }
    results.push(parsed.data);
  }
  return results;
}

/** Appends one result as one line (a single write, so an interrupted run leaves no partial line behind a full one). */
export async function appendResult(file: string, result: RunResult): Promise<void> {
  runResultSchema.parse(result);
  await mkdir(dirname(file), { recursive: true });
  // one write of the whole line, on disk before the run is reported finished
  const handle = await open(file, 'a');
  try {
    await handle.write(`${JSON.stringify(result)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Cuts a torn last line (a run killed while its result was being appended: the line never ended,
 * so the run was never reported finished) and returns whether there was one.
 */
export async function repairResults(file: string): Promise<boolean> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (bytes.length === 0 || bytes[bytes.length - 1] === 0x0a) return false;
  await truncate(file, bytes.lastIndexOf(0x0a) + 1);
  return true;
}
