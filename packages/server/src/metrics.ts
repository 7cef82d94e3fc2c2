/** Upper bounds (seconds) of the request latency histogram's buckets. */
export const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labels(pairs: Record<string, string>): string {
  const body = Object.entries(pairs)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',');
  return body ? `{${body}}` : '';
}

/**
 * The server's Prometheus metrics, rendered in the text exposition format (version 0.0.4):
 * request counts and latency histograms per route, search candidates scanned, embedded images.
 * Routes are the matched patterns (`/v1/items/:id`), never raw paths, so label sets stay bounded.
 */
export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private scanned = 0;
  private searches = 0;

  /** Records one finished request. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = JSON.stringify([method, route, String(status)]);
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const hKey = JSON.stringify([method, route]);
    let h = this.latency.get(hKey);
    if (!h) {
      h = { counts: new Array(LATENCY_BUCKETS_S.length).fill(0), sum: 0, count: 0 };
      this.latency.set(hKey, h);
    }
    for (let i = 0; i < LATENCY_BUCKETS_S.length; i++)
      if (seconds <= LATENCY_BUCKETS_S[i]!) h.counts[i]! += 1;
    h.sum += seconds;
    h.count += 1;
  }

  /** Records the stage-2 candidates one query compared. */
  observeSearch(scanned: number): void {
    this.scanned += scanned;
    this.searches += 1;
  }

  /** The exposition text; `gauges` are sampled by the caller at scrape time. */
  render(gauges: { items: number; buckets: number; imagesEmbedded: number; embedBatches: number }): string {
    const out: string[] = [];
    out.push('# HELP anchorage_http_requests_total HTTP requests by method, route and status.');
    out.push('# TYPE anchorage_http_requests_total counter');
    for (const [key, n] of this.requests) {
      const [method, route, status] = JSON.parse(key) as string[];
      out.push(
        `anchorage_http_requests_total${labels({ method: method!, route: route!, status: status! })} ${n}`,
      );
    }
    out.push('# HELP anchorage_http_request_duration_seconds HTTP request latency by method and route.');
    out.push('# TYPE anchorage_http_request_duration_seconds histogram');
    for (const [key, h] of this.latency) {
      const [method, route] = JSON.parse(key) as string[];
      const base = { method: method!, route: route! };
      LATENCY_BUCKETS_S.forEach((le, i) => {
        out.push(
          `anchorage_http_request_duration_seconds_bucket${labels({ ...base, le: String(le) })} ${h.counts[i]}`,
        );
      });
      out.push(`anchorage_http_request_duration_seconds_bucket${labels({ ...base, le: '+Inf' })} ${h.count}`);
      out.push(`anchorage_http_request_duration_seconds_sum${labels(base)} ${h.sum}`);
      out.push(`anchorage_http_request_duration_seconds_count${labels(base)} ${h.count}`);
    }
    out.push('# HELP anchorage_search_queries_total Search queries answered (batch queries count one each).');
    out.push('# TYPE anchorage_search_queries_total counter');
    out.push(`anchorage_search_queries_total ${this.searches}`);
    out.push(
      '# HELP anchorage_search_candidates_scanned_total Stored vectors compared with queries in stage 2.',
    );
    out.push('# TYPE anchorage_search_candidates_scanned_total counter');
    out.push(`anchorage_search_candidates_scanned_total ${this.scanned}`);
    out.push('# HELP anchorage_index_items Items in the index.');
    out.push('# TYPE anchorage_index_items gauge');
    out.push(`anchorage_index_items ${gauges.items}`);
    out.push('# HELP anchorage_index_buckets Buckets (classes) of the index.');
    out.push('# TYPE anchorage_index_buckets gauge');
    out.push(`anchorage_index_buckets ${gauges.buckets}`);
    out.push('# HELP anchorage_images_embedded_total Images embedded by the ONNX model.');
    out.push('# TYPE anchorage_images_embedded_total counter');
    out.push(`anchorage_images_embedded_total ${gauges.imagesEmbedded}`);
    out.push('# HELP anchorage_embed_batches_total Batches run by the ONNX session.');
    out.push('# TYPE anchorage_embed_batches_total counter');
    out.push(`anchorage_embed_batches_total ${gauges.embedBatches}`);
    return `${out.join('\n')}\n`;
  }
}
