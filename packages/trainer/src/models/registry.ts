import type * as tf from '@tensorflow/tfjs';
import { createRegistry } from '../registry';
import { type BackboneFactory, type BackboneOptions, checkBackboneOptions } from './backbone';
import { createRefCnn } from './refcnn';

/** The reference CNN of the paper's small-image experiments. */
export const refCnnFactory: BackboneFactory = {
  name: 'refcnn',
  description: 'conv32-pool-conv64-pool-conv128-gap-dense(d), ~93k + 129·d parameters',
  create: createRefCnn,
};

const factories = createRegistry<BackboneFactory>('backbone', [[refCnnFactory.name, refCnnFactory]]);

/** Adds (or replaces) a backbone under `factory.name`; returns a function that undoes it. */
export function registerBackbone(factory: BackboneFactory): () => void {
  return factories.register(factory.name, factory);
}

/** Names of the registered backbones, sorted. */
export function listBackbones(): string[] {
  return factories.list();
}

/**
 * Builds a freshly initialised backbone (a tfjs LayersModel: N×H×W×C → N×dim).
 * @example
 * const model = createBackbone('refcnn', { inputShape: [28, 28, 1], dim: 64, seed: 1 });
 */
export function createBackbone(name: string, options: BackboneOptions): tf.LayersModel {
  const factory = factories.get(name);
  checkBackboneOptions(options);
  return factory.create(options);
}
