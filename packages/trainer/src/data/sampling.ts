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
