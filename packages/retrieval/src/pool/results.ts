/**
 * The answers of one batch in shared memory, written by whichever thread searched each query and
 * read by the owning thread: per query its hit count and scanned rows, k hits (distance, bucket,
 * slot) and `probe` probed anchors (index, distance). Three control words come first: the next
 * chunk to claim, the chunks finished, and a failure flag.
 */
export class BatchResults {
  readonly control: Int32Array;
  readonly counts: Int32Array;
  readonly scanned: Int32Array;
  readonly distances: Float64Array;
  readonly buckets: Int32Array;
  readonly slots: Int32Array;
  readonly probedAnchors: Int32Array;
  readonly probedDistances: Float32Array;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly queries: number,
    readonly k: number,
    readonly probe: number,
  ) {
    let at = 0;
    const take = (bytes: number) => {
      const start = at;
      at += Math.ceil(bytes / 8) * 8;
      return start;
    };
    const hits = queries * k;
    this.distances = new Float64Array(buffer, take(hits * 8), hits);
    this.control = new Int32Array(buffer, take(16), 4);
    this.counts = new Int32Array(buffer, take(queries * 4), queries);
    this.scanned = new Int32Array(buffer, take(queries * 4), queries);
    this.buckets = new Int32Array(buffer, take(hits * 4), hits);
    this.slots = new Int32Array(buffer, take(hits * 4), hits);
    this.probedAnchors = new Int32Array(buffer, take(queries * probe * 4), queries * probe);
    this.probedDistances = new Float32Array(buffer, take(queries * probe * 4), queries * probe);
  }

  /** Bytes of a batch's results. */
  static bytes(queries: number, k: number, probe: number): number {
    const r8 = (bytes: number) => Math.ceil(bytes / 8) * 8;
    return (
      r8(queries * k * 8) + 16 + 2 * r8(queries * 4) + 2 * r8(queries * k * 4) + 2 * r8(queries * probe * 4)
    );
  }

  static create(queries: number, k: number, probe: number): BatchResults {
    return new BatchResults(new SharedArrayBuffer(BatchResults.bytes(queries, k, probe)), queries, k, probe);
  }
}
