import type { ItemStore } from '../item-store.js';
import type { RowReader, SharedRows } from '../kernel/l2.js';

/**
 * What a search pool needs from an in-process index: its store (the buckets' rows, orders and ids,
 * and the count of pooled searches in flight, during which the store refuses writes) and the
 * anchors for stage 1 (none for an exhaustive index, whose one bucket every query scans).
 */
export interface SharedIndexState {
  /** Unique per index in this process: workers keep their view of the index under it. */
  readonly id: number;
  readonly dim: number;
  /** Number of anchors C (0: exhaustive). */
  readonly classes: number;
  readonly anchors: SharedRows | undefined;
  /** The owning thread's reader of the anchors (slot 0). */
  readonly anchorReader: Pick<RowReader, 'setQuery' | 'distances'> | undefined;
  readonly store: ItemStore;
  /** Whether hits report their bucket (two-stage) or -1 (exhaustive). */
  readonly reportBuckets: boolean;
}

const states = new WeakMap<object, SharedIndexState>();
let nextId = 1;

/** Registers an index's state for search pools (called by the index constructors). */
export function shareIndexState(index: object, state: Omit<SharedIndexState, 'id'>): SharedIndexState {
  const shared = { ...state, id: nextId++ };
  states.set(index, shared);
  return shared;
}

/** The registered state of an index, or undefined for an index a pool cannot serve. */
export function sharedIndexState(index: object): SharedIndexState | undefined {
  return states.get(index);
}
