import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AnchorageError } from '@anchorage/loss-core';
import { rankAnchors } from '../anchor/stage-one.js';
import { MAX_THREADS } from '../kernel/l2.js';
import type { SearchOptions, SearchResult } from '../types.js';
import { candidatesFor, checkSearchOptions, checkVectors } from '../validate.js';
import type { BatchMessage, BucketUpdate, DoneMessage } from './protocol.js';
import { BatchResults } from './results.js';
import { claimChunks, collect, ownView, SearchScratch } from './search-range.js';
import { type SharedIndexState, sharedIndexState } from './shared-state.js';

/** Options of `new SearchPool`. */
export interface SearchPoolOptions {
  /** Worker threads, 1..15 (default: the cores available, less the calling thread's; at least 1). */
  workers?: number;
}

/**
 * Starts a search worker. From the built package it is `dist/pool/worker.js`, beside the chunk
 * that holds this code in `dist/`; from TypeScript source (the workspace, tests) the worker
 * registers tsx's require hook first, because Node 20 does not apply `--import tsx` module hooks
 * inside worker threads.
 */
function startWorker(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const tsx = createRequire(here).resolve('tsx/cjs/api');
    const source = fileURLToPath(new URL('./worker.ts', here));
    return new Worker(`require(${JSON.stringify(tsx)}).register();require(${JSON.stringify(source)});`, {
      eval: true,
      // the worker's code is a CommonJS script, whatever type the parent's `-e` code had
      // (and without V8 heap flags such as --max-old-space-size, which a worker refuses to start with)
      execArgv: process.execArgv.filter(
        (arg) => !/^--(input-type|max[-_]old[-_]space|max[-_]semi[-_]space|stack[-_]size)/.test(arg),
      ),
    });
  }
  return new Worker(new URL('./pool/worker.js', here));
}

/** What one worker has been sent of one index: whether it has the anchors, and each bucket's version. */
interface Sent {
  versions: Int32Array;
}

interface Member {
  worker: Worker;
  sent: Map<number, Sent>;
  /** Awaited batches posted to this worker and not yet done. */
  busy: number;
}

interface Pending {
  results: BatchResults;
  chunks: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Worker threads that search in-process indexes (`AnchorIndex`, `FlatIndex`) where their vectors
 * already are: the rows, the insertion orders and the anchors live in shared memory, so nothing
 * is copied to a worker but the queries. An idle pool never keeps the process alive (its workers
 * are unref'd except while an awaited search is on them); `close()` stops them.
 *
 * - `searchBatch` (synchronous, also what an index's own `searchBatch` runs once its
 *   `searchPool` is set): the calling thread and the workers claim chunks of the batch from a
 *   shared counter; the caller waits (`Atomics.wait`) until every chunk is done. Nothing can
 *   write the index meanwhile: its thread is the one waiting.
 * - `search` (asynchronous, for servers): only the workers search; the calling thread stays free.
 *   Until the promise settles the index refuses writes (`INDEX_BUSY`), so the answer always
 *   reflects every write made before the call and none made after it; a caller that writes
 *   concurrently orders its writes after the searches in flight (a readers–writer lock).
 *
 * Answers equal the index's single-threaded ones, ties included. `fullRanking` runs on the
 * calling thread.
 * @example
 * const pool = new SearchPool({ workers: 1 });
 * index.searchPool = pool;           // index.searchBatch now uses both threads
 * const answers = await pool.search(index, queries, { k: 10, probe: 1 });
 * await pool.close();
 */
export class SearchPool {
  readonly workers: number;
  private readonly members: Member[];
  private readonly pending = new Map<number, Pending>();
  private readonly scratch = new SearchScratch();
  private nextTask = 1;
  private failure: Error | undefined;
  private closed = false;
  private readonly forget = new FinalizationRegistry<number>((id) => {
    for (const member of this.members) {
      member.sent.delete(id);
      if (!this.closed) member.worker.postMessage({ type: 'forget', index: id });
    }
  });

  constructor(options: SearchPoolOptions = {}) {
    const workers = options.workers ?? Math.min(MAX_THREADS - 1, Math.max(1, availableParallelism() - 1));
    if (!Number.isInteger(workers) || workers < 1 || workers > MAX_THREADS - 1) {
      throw new AnchorageError(
        'INVALID_ARGUMENT',
        `workers must be an integer in 1..${MAX_THREADS - 1}, got ${workers}`,
        {
          argument: 'workers',
          value: workers,
        },
      );
    }
    this.workers = workers;
    this.members = Array.from({ length: workers }, (_, i) => {
      const worker = startWorker();
      worker.postMessage({ type: 'init', slot: i + 1 });
      worker.on('message', (message: DoneMessage) => this.onDone(message));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`a search worker exited with code ${code}`));
      });
      // after the listeners: attaching a 'message' listener refs the worker again
      worker.unref();
      return { worker, sent: new Map(), busy: 0 };
    });
  }

  /**
   * Searches a batch on the calling thread and every worker; the same answers as
   * `index.searchBatch(queries, options)` on one thread.
   */
  searchBatch(index: object, queries: Float32Array, options?: SearchOptions): SearchResult[] {
    const { state, n, k, probe, candidates, fullRanking } = this.prepare(index, queries, options);
    if (fullRanking)
      return (index as { searchBatch: (q: Float32Array, o?: SearchOptions) => SearchResult[] }).searchBatch(
        queries,
        options,
      );
    const chunk = chunkSize(n, this.workers + 1, state);
    const chunks = Math.ceil(n / chunk);
    const results = BatchResults.create(n, k, probe);
    const { shared, order } = this.arrange(state, queries, n, chunks);
    if (chunks > 1)
      for (const member of this.members)
        this.post(member, state, shared, results, n, chunk, k, probe, candidates, undefined);
    claimChunks(ownView(state), shared, n, chunk, k, probe, candidates, results, this.scratch);
    for (;;) {
      const done = Atomics.load(results.control, 1);
      if (done >= chunks) break;
      Atomics.wait(results.control, 1, done, 1000);
    }
    if (Atomics.load(results.control, 2) !== 0) throw new Error('a search worker failed while searching');
    return unarrange(collect(state, results), order);
  }

  /**
   * The queries in shared memory (copied once), so every worker reads the same bytes. A two-stage
   * batch of several chunks is first put in the order of each query's nearest anchor, so a chunk
   * holds queries that probe the same buckets and each tile of rows serves many of them, as on one
   * thread; `order[i]` is the caller's index of query i (undefined: the caller's order).
   */
  private arrange(
    state: SharedIndexState,
    queries: Float32Array,
    n: number,
    chunks: number,
  ): { shared: Float32Array; order: Int32Array | undefined } {
    if (state.classes === 0 || chunks < 2 || state.anchorReader === undefined)
      return { shared: toShared(queries), order: undefined };
    const { dim, classes } = state;
    const scratch = this.scratch;
    scratch.reserve(1, 1, classes);
    const nearest = new Int32Array(n);
    for (let q = 0; q < n; q++) {
      rankAnchors(
        state.anchorReader,
        classes,
        queries,
        q * dim,
        1,
        scratch.order,
        scratch.orderDistances,
        scratch.anchorDistances,
      );
      nearest[q] = scratch.order[0]!;
    }
    const starts = new Int32Array(classes + 1);
    for (let q = 0; q < n; q++) starts[nearest[q]! + 1]++;
    for (let c = 0; c < classes; c++) starts[c + 1] += starts[c]!;
    const order = new Int32Array(n);
    for (let q = 0; q < n; q++) order[starts[nearest[q]!]!++] = q;
    const shared = new Float32Array(new SharedArrayBuffer(n * dim * 4));
    for (let i = 0; i < n; i++) shared.set(queries.subarray(order[i]! * dim, (order[i]! + 1) * dim), i * dim);
    return { shared, order };
  }

  /**
   * Searches a batch on the workers only, leaving the calling thread free; the index refuses
   * writes until the promise settles.
   */
  async search(index: object, queries: Float32Array, options?: SearchOptions): Promise<SearchResult[]> {
    const { state, n, k, probe, candidates, fullRanking } = this.prepare(index, queries, options);
    if (this.failure) throw this.failure;
    if (fullRanking || n === 0)
      return (index as { searchBatch: (q: Float32Array, o?: SearchOptions) => SearchResult[] }).searchBatch(
        queries,
        options,
      );
    const chunk = chunkSize(n, this.workers, state);
    const chunks = Math.ceil(n / chunk);
    const results = BatchResults.create(n, k, probe);
    const { shared, order } = this.arrange(state, queries, n, chunks);
    const task = this.nextTask++;
    // One query goes to the least busy worker; a larger batch to every worker (they claim chunks).
    const targets = chunks === 1 ? [this.members.reduce((a, b) => (b.busy < a.busy ? b : a))] : this.members;
    state.store.pins++;
    try {
      await new Promise<void>((resolve, reject) => {
        this.pending.set(task, { results, chunks, resolve, reject });
        for (const member of targets) {
          // a worker with an awaited search keeps the process alive until the answer is back
          if (member.busy++ === 0) member.worker.ref();
          this.post(member, state, shared, results, n, chunk, k, probe, candidates, task);
        }
      });
    } finally {
      state.store.pins--;
      for (const member of targets) if (--member.busy === 0) member.worker.unref();
    }
    if (Atomics.load(results.control, 2) !== 0) throw new Error('a search worker failed while searching');
    return unarrange(collect(state, results), order);
  }

  /** Stops the workers; pending searches are rejected. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error('the search pool is closed'));
    await Promise.all(this.members.map((m) => m.worker.terminate()));
  }

  private prepare(index: object, queries: Float32Array, options: SearchOptions | undefined) {
    if (this.closed)
      throw new AnchorageError('UNSUPPORTED', 'the search pool is closed', { argument: 'pool' });
    const state = sharedIndexState(index);
    if (state === undefined) {
      throw new AnchorageError('UNSUPPORTED', 'a SearchPool searches AnchorIndex and FlatIndex only', {
        argument: 'index',
        value: typeof index,
      });
    }
    const n = checkVectors(queries, state.dim, 'queries');
    const resolved = checkSearchOptions(options, state.classes === 0 ? undefined : state.classes);
    const probe = state.classes === 0 ? 1 : resolved.probe;
    return {
      state,
      n,
      k: resolved.k,
      probe,
      candidates: candidatesFor(state.store.compression, resolved),
      fullRanking: resolved.fullRanking && state.classes > 0,
    };
  }

  private post(
    member: Member,
    state: SharedIndexState,
    queries: Float32Array,
    results: BatchResults,
    n: number,
    chunk: number,
    k: number,
    probe: number,
    candidates: number,
    task: number | undefined,
  ): void {
    const blocks = state.store.blocks;
    let sent = member.sent.get(state.id);
    const first = sent === undefined;
    if (sent === undefined) {
      sent = { versions: new Int32Array(blocks.length).fill(-1) };
      member.sent.set(state.id, sent);
      this.forget.register(state.store, state.id);
    }
    const updates: BucketUpdate[] = [];
    const counts = new Int32Array(blocks.length);
    blocks.forEach((block, bucket) => {
      counts[bucket] = block.count;
      if (sent.versions[bucket] !== block.version) {
        updates.push({ bucket, rows: block.source, codes: block.codeSource, orders: block.orders });
        sent.versions[bucket] = block.version;
      }
    });
    const message: BatchMessage = {
      type: 'batch',
      task,
      index: {
        id: state.id,
        dim: state.dim,
        classes: state.classes,
        anchors: first ? state.anchors : undefined,
        buckets: blocks.length,
      },
      updates,
      counts,
      queries,
      results: results.buffer,
      n,
      chunk,
      k,
      probe,
      candidates,
    };
    member.worker.postMessage(message);
  }

  private onDone(message: DoneMessage): void {
    const pending = this.pending.get(message.task);
    if (pending === undefined) return;
    if (Atomics.load(pending.results.control, 1) < pending.chunks) return;
    this.pending.delete(message.task);
    pending.resolve();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const [task, pending] of this.pending) {
      this.pending.delete(task);
      pending.reject(error);
    }
  }
}

/**
 * Queries per claimed chunk. An exhaustive index streams every row for every chunk, so it takes
 * one chunk per thread (one pass over memory each); a two-stage index takes small chunks (four per
 * thread, at most 64 queries, about 2 ms of work), so a thread that starts late, or loses its core
 * to another process, holds up the batch by one small chunk at most.
 */
function chunkSize(n: number, threads: number, state: SharedIndexState): number {
  if (state.classes === 0) return Math.max(1, Math.ceil(n / threads));
  return Math.max(1, Math.min(64, Math.ceil(n / (4 * threads))));
}

/** Answers back in the caller's order (see `SearchPool#arrange`). */
function unarrange(results: SearchResult[], order: Int32Array | undefined): SearchResult[] {
  if (order === undefined) return results;
  const out: SearchResult[] = new Array(results.length);
  for (let i = 0; i < results.length; i++) out[order[i]!] = results[i]!;
  return out;
}

/** The queries in shared memory (copied once), so every worker reads the same bytes. */
function toShared(queries: Float32Array): Float32Array {
  if (queries.buffer instanceof SharedArrayBuffer) return queries;
  const shared = new Float32Array(new SharedArrayBuffer(queries.byteLength));
  shared.set(queries);
  return shared;
}
