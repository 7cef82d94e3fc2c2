import { AnchorageError } from '@anchorage/loss-core';
import { createRegistry } from '../registry';
import { camLossFactory } from './cam';
import { centerLossFactory } from './center';
import { contrastiveLossFactory } from './contrastive';
import { crossEntropyLossFactory } from './cross-entropy';
import type { LossCreateOptions, LossFactory, LossOptionSpec, TrainableLoss } from './loss';
import { proxyAnchorLossFactory } from './proxy-anchor';
import { tripletLossFactory } from './triplet';

const losses = createRegistry<LossFactory>('loss', [
  ['cam', camLossFactory],
  ['cross-entropy', crossEntropyLossFactory],
  ['center', centerLossFactory],
  ['contrastive', contrastiveLossFactory],
  ['triplet', tripletLossFactory],
  ['proxy-anchor', proxyAnchorLossFactory],
]);

/** Names of the registered losses, sorted. */
export function listLosses(): string[] {
  return losses.list();
}

/** The factory registered under `name`, or a `NOT_FOUND` AnchorageError listing the known losses. */
export function getLossFactory(name: string): LossFactory {
  return losses.get(name);
}

/**
 * Adds (or replaces) a loss under `name`; returns a function that undoes it. Its options become
 * `train` flags and config fields like those of the built-in losses.
 * @example
 * const unregister = registerLoss('arcface', { description: '…', options: [], lrScale: 1, create });
 */
export function registerLoss(name: string, factory: LossFactory): () => void {
  return losses.register(name, factory);
}

function invalid(argument: string, value: unknown, rule: string): never {
  throw new AnchorageError('INVALID_ARGUMENT', `${argument} must be ${rule}, got ${String(value)}`, {
    argument,
    value,
  });
}

function checkOption(loss: string, spec: LossOptionSpec, value: unknown): number | string {
  const argument = `${loss} option ${spec.name}`;
  if (spec.choices !== undefined) {
    if (typeof value !== 'string' || !spec.choices.includes(value)) {
      invalid(argument, value, `one of ${spec.choices.join(', ')}`);
    }
    return value;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) invalid(argument, value, 'a finite number');
  if (spec.positive && value <= 0) invalid(argument, value, '> 0');
  if (spec.min !== undefined && value < spec.min) invalid(argument, value, `≥ ${spec.min}`);
  return value;
}

/**
 * A loss's own options with its defaults filled in and every value checked; an option the loss
 * does not have is refused, naming the ones it has.
 */
export function resolveLossOptions(
  name: string,
  given: Readonly<Record<string, unknown>> = {},
): Record<string, number | string> {
  const factory = losses.get(name);
  const known = new Set(factory.options.map((o) => o.name));
  for (const key of Object.keys(given)) {
    if (given[key] !== undefined && !known.has(key)) {
      throw new AnchorageError(
        'INVALID_ARGUMENT',
        `loss "${name}" has no option ${key}; its options: ${[...known].join(', ') || 'none'}`,
        { argument: key, value: given[key] },
      );
    }
  }
  const out: Record<string, number | string> = {};
  for (const spec of factory.options)
    out[spec.name] = checkOption(name, spec, given[spec.name] ?? spec.default);
  return out;
}

function positiveInteger(argument: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    invalid(argument, value, 'a positive integer');
  return value;
}

/**
 * Builds a registered loss for `classes` classes and d = `dim`, seeded; the loss's own options
 * default as its factory says.
 * @example
 * const loss = createLoss('triplet', { classes: 10, dim: 64, seed: 1, margin: 0.2 });
 * const { loss: value, terms } = loss.compute(embeddings, labels);
 */
export function createLoss(
  name: string,
  options: { classes: number; dim: number; seed: number } & Record<string, unknown>,
): TrainableLoss {
  const factory = losses.get(name);
  const { classes, dim, seed, ...own } = options;
  if (positiveInteger('classes', classes) < 2) invalid('classes', classes, 'an integer ≥ 2');
  positiveInteger('dim', dim);
  if (!Number.isInteger(seed)) invalid('seed', seed, 'an integer');
  const create: LossCreateOptions = { ...resolveLossOptions(name, own), classes, dim, seed };
  return factory.create(create);
}
