import { parentPort } from 'node:worker_threads';
import { CodeReader } from '../kernel/int8.js';
import { RowReader } from '../kernel/l2.js';
import type { ToWorker } from './protocol.js';
import { BatchResults } from './results.js';
import { claimChunks, SearchScratch, type SearchView } from './search-range.js';

// A search worker: keeps a view of each index it was sent (readers over the shared rows, in its
// own scratch slot) and searches the chunks of a batch it manages to claim.
const port = parentPort!;
let slot = 1;
type WorkerView = SearchView & {
  readers: (RowReader | undefined)[];
  codes: (CodeReader | undefined)[];
  orders: Float64Array[];
};
const views = new Map<number, WorkerView>();
const scratch = new SearchScratch();

port.on('message', (message: ToWorker) => {
  if (message.type === 'init') {
    slot = message.slot;
    return;
  }
  if (message.type === 'forget') {
    views.delete(message.index);
    return;
  }
  const { index } = message;
  let view = views.get(index.id);
  if (view === undefined) {
    view = {
      dim: index.dim,
      classes: index.classes,
      anchors: index.anchors === undefined ? undefined : new RowReader(index.anchors, slot),
      readers: new Array(index.buckets).fill(undefined),
      codes: new Array(index.buckets).fill(undefined),
      orders: Array.from({ length: index.buckets }, () => new Float64Array(0)),
      counts: message.counts,
    };
    views.set(index.id, view);
  }
  for (const update of message.updates) {
    view.readers[update.bucket] = update.rows === undefined ? undefined : new RowReader(update.rows, slot);
    view.codes[update.bucket] = update.codes === undefined ? undefined : new CodeReader(update.codes, slot);
    view.orders[update.bucket] = update.orders;
  }
  view.counts = message.counts;
  const results = new BatchResults(message.results, message.n, message.k, message.probe);
  claimChunks(
    view,
    message.queries,
    message.n,
    message.chunk,
    message.k,
    message.probe,
    message.candidates,
    results,
    scratch,
  );
  if (message.task !== undefined) port.postMessage({ type: 'done', task: message.task });
});
