import { AnchorageError } from '@anchorage/loss-core';

/** Named plug-ins of one kind (losses, datasets, backbones): list, look up, register. */
export interface Registry<T> {
  /** What the entries are, in error messages ("loss", "dataset", …). */
  readonly kind: string;
  /** Registered names, sorted. */
  list(): string[];
  has(name: string): boolean;
  /** The entry under `name`, or a `NOT_FOUND` AnchorageError that lists the known names. */
  get(name: string): T;
  /**
   * Adds (or replaces) the entry under `name`. The returned function undoes exactly this
   * registration: it puts back what `name` held before, and does nothing once `name` was
   * registered again since.
   */
  register(name: string, entry: T): () => void;
}

/**
 * One registry of named plug-ins; built-ins are passed in rather than self-registering, so that
 * tree-shaking cannot drop them.
 * @example
 * const losses = createRegistry<LossFactory>('loss', [['cam', camLoss]]);
 * const unregister = losses.register('mine', myLoss);
 */
export function createRegistry<T>(kind: string, builtins: Iterable<readonly [string, T]> = []): Registry<T> {
  const entries = new Map<string, T>(builtins);
  const list = (): string[] => [...entries.keys()].sort();
  return {
    kind,
    list,
    has: (name) => entries.has(name),
    get(name) {
      const entry = entries.get(name);
      if (entry === undefined) {
        throw new AnchorageError('NOT_FOUND', `unknown ${kind} "${name}"; known: ${list().join(', ')}`, {
          argument: 'name',
          value: name,
        });
      }
      return entry;
    },
    register(name, entry) {
      if (typeof name !== 'string' || name.length === 0) {
        throw new AnchorageError('INVALID_ARGUMENT', `a ${kind} name must be a non-empty string`, {
          argument: 'name',
          value: name,
        });
      }
      const previous = entries.get(name);
      entries.set(name, entry);
      return () => {
        if (entries.get(name) !== entry) return;
        if (previous === undefined) entries.delete(name);
        else entries.set(name, previous);
      };
    },
  };
}
