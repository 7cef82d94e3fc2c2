import { AnchorageError } from '@anchorage/loss-core';
import { Random } from '../random';

function checkCount(value: number, argument: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new AnchorageError('INVALID_ARGUMENT', `${argument} must be a positive integer, got ${value}`, {
      argument,
      value,
    });
  }
}

/**
 * Few-shot sampling: exactly `shots` indices of every class, drawn without replacement by a seeded
 * shuffle within each class. Classes are 0..classCount-1 (default: max label + 1); a class with
 * fewer than `shots` examples throws. Returns the indices sorted ascending.
 * @example
 * const train = subset(full, sampleShots(full.labels, 10, seed, full.classes.length));
 */
export function sampleShots(
  labels: Int32Array,
  shots: number,
  seed: number,
  classCount?: number,
): Int32Array {
  checkCount(shots, 'shots');
  let classes = classCount ?? 0;
  if (classCount === undefined) for (const label of labels) classes = Math.max(classes, label + 1);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (label < 0 || label >= classes) {
      throw new AnchorageError('LABEL_OUT_OF_RANGE', `label ${label} at ${i} is outside [0, ${classes})`, {
        argument: 'labels',
        value: label,
      });
    }
    byClass[label]!.push(i);
  }
  const rng = new Random(seed);
  const out = new Int32Array(classes * shots);
  byClass.forEach((members, label) => {
    if (members.length < shots) {
      throw new AnchorageError(
        'INVALID_ARGUMENT',
        `class ${label} has ${members.length} examples, fewer than shots = ${shots}`,
        { argument: 'shots', value: shots },
      );
    }
    // partial Fisher–Yates: only the first `shots` positions need to be drawn
    for (let i = 0; i < shots; i++) {
      const j = i + rng.nextInt(members.length - i);
      const tmp = members[i]!;
      members[i] = members[j]!;
      members[j] = tmp;
      out[label * shots + i] = members[i]!;
    }
  });
  return out.sort();
}

/**
 * `--limit N`: the first `limit` indices of a seeded shuffle of 0..size-1 (a uniform random subset,
 * not stratified), sorted ascending. A limit ≥ size returns every index.
 */
export function limitIndices(size: number, limit: number, seed: number): Int32Array {
  checkCount(limit, 'limit');
  const all = Int32Array.from({ length: size }, (_, i) => i);
  if (limit >= size) return all;
  return new Random(seed).shuffle(all).slice(0, limit).sort();
}

/** A seeded permutation of 0..size-1: the visiting order of one epoch. */
export function epochOrder(size: number, rng: Random): Int32Array {
  return rng.shuffle(Int32Array.from({ length: size }, (_, i) => i));
}

/**
 * A seeded, stratified validation split carved from a training split: of every class,
 * `round(n × fraction)` indices (at least one left for training) go to `validation`, the rest to
 * `train`; both sorted ascending. Pass either to `openSplit`'s `pick` (or `subsetSplit`).
 * @example
 * const { validation } = carveValidation(labels, 0.1, seed);
 * const val = await openSplit({ name: 'image-folder', dir, split: 'train', pick: () => validation });
 */
export function carveValidation(
  labels: Int32Array,
  fraction: number,
  seed: number,
): { train: Int32Array; validation: Int32Array } {
  if (!(fraction > 0 && fraction < 1)) {
    throw new AnchorageError('INVALID_ARGUMENT', `fraction must be in (0, 1), got ${fraction}`, {
      argument: 'fraction',
      value: fraction,
    });
  }
  const byClass = new Map<number, number[]>();
  labels.forEach((label, i) => {
    const members = byClass.get(label) ?? [];
    members.push(i);
    byClass.set(label, members);
  });
  const rng = new Random(seed);
  const train: number[] = [];
  const validation: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = Int32Array.from(byClass.get(label)!);
    rng.shuffle(members);
    const held = Math.min(Math.round(members.length * fraction), members.length - 1);
    validation.push(...members.subarray(0, held));
    train.push(...members.subarray(held));
  }
  return { train: Int32Array.from(train).sort(), validation: Int32Array.from(validation).sort() };
}
