import type { SharedRows } from '../kernel/l2.js';

/** A bucket whose rows or orders moved to new memory since the worker last saw it. */
export interface BucketUpdate {
  bucket: number;
  rows: SharedRows | undefined;
  /** The bucket's int8 codes (compressed indexes). */
  codes: SharedRows | undefined;
  orders: Float64Array;
}

/** First message of a worker: which scratch slot of each shared memory it uses. */
export interface InitMessage {
  type: 'init';
  slot: number;
}

/** One batch (or part of one) to search; shared buffers only, nothing large is copied. */
export interface BatchMessage {
  type: 'batch';
  /** Echoed in the `done` reply when the owner awaits this batch asynchronously. */
  task: number | undefined;
  index: {
    id: number;
    dim: number;
    classes: number;
    /** Sent the first time this worker sees the index. */
    anchors: SharedRows | undefined;
    buckets: number;
  };
  updates: BucketUpdate[];
  /** Live rows per bucket when the batch was posted. */
  counts: Int32Array;
  queries: Float32Array;
  results: SharedArrayBuffer;
  n: number;
  chunk: number;
  k: number;
  probe: number;
  /** Candidates of the int8 scan re-ranked exactly per query; 0 scans the float32 rows. */
  candidates: number;
}

/** Drops a worker's view of an index that is gone. */
export interface ForgetMessage {
  type: 'forget';
  index: number;
}

export type ToWorker = InitMessage | BatchMessage | ForgetMessage;

/** A worker finished what it claimed of an awaited batch. */
export interface DoneMessage {
  type: 'done';
  task: number;
}
