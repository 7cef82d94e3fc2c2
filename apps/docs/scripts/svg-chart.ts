/**
 * Charts as inline SVG strings for markdown pages: no chart library and no script in the page,
 * so a chart is drawn the moment the HTML is, and the browser check can count its marks.
 */

export interface Bar {
  label: string;
  /** One value per series. */
  values: number[];
  /** A peer (another library), drawn in grey. */
  peer?: boolean;
  /** ± half-widths of error bars, one per series (e.g. a standard deviation over seeds). */
  errors?: number[];
}

export interface BarChartOptions {
  id: string;
  title: string;
  unit: string;
  series?: string[];
  bars: Bar[];
  log?: boolean;
  /** Digits after the point in the value labels. */
  digits?: number;
}

export interface Point {
  label: string;
  x: number;
  y: number;
  /** Points of one series are joined by a line, in the order given. */
  series?: string;
  peer?: boolean;
}

export interface ScatterOptions {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  points: Point[];
  xLog?: boolean;
  digits?: number;
}

const WIDTH = 680;
const FONT_WIDTH = 6.6;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Coordinates to 0.1 px: the page stays small. */
function px(value: number): string {
  return (Math.round(value * 10) / 10).toString();
}

function format(value: number, digits: number): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function wrap(id: string, title: string, marks: number, height: number, body: string[]): string {
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" ` +
    `height="${height}" role="img" aria-label="${escapeXml(title)}" data-chart="${escapeXml(id)}" data-marks="${marks}">` +
    `<title>${escapeXml(title)}</title>${body.join('')}</svg>`;
  return `<div class="chart">${svg}</div>`;
}

/** A label cut to fit its column; the bar's tooltip keeps the whole text. */
function clip(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

/** Ticks at 1, 2, 5 × 10^k inside [min, max]. */
function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= min && t <= max) ticks.push(t);
    }
  }
  return ticks;
}

function linearTicks(min: number, max: number, count: number): number[] {
  const step0 = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= step0)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** Horizontal bars, one row per bar and series; a log axis for values that span decades. */
export function barChart(options: BarChartOptions): string {
  const { bars, log = false, digits = 1 } = options;
  const series = options.series ?? [''];
  const labelWidth = Math.min(300, Math.max(...bars.map((b) => b.label.length)) * FONT_WIDTH + 12);
  const labelChars = Math.floor((labelWidth - 12) / FONT_WIDTH);
  // room for the value label, and for its ± when there are error bars
  const valueWidth = bars.some((b) => b.errors?.some((e) => e > 0)) ? 120 : 70;
  const plotWidth = WIDTH - labelWidth - valueWidth;
  const row = 18;
  const gap = series.length > 1 ? 10 : 4;
  const legend = series.length > 1 ? 22 : 0;
  const top = 8 + legend;
  const groupHeight = series.length * row + gap;
  const height = top + bars.length * groupHeight + 26;
  const values = bars.flatMap((b) => b.values.map((v, s) => v + (b.errors?.[s] ?? 0)));
  const max = Math.max(...values);
  const min = log ? Math.min(...values) / 2 : 0;
  const scale = (v: number) =>
    log
      ? ((Math.log10(v) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) * plotWidth
      : (v / max) * plotWidth;
  const body: string[] = [];
  series.forEach((name, s) => {
    if (series.length === 1) return;
    const x = labelWidth + s * 150;
    body.push(`<rect class="bar s${s}" x="${px(x)}" y="6" width="12" height="12"/>`);
    body.push(`<text x="${px(x + 18)}" y="16">${escapeXml(name)}</text>`);
  });
  const axisY = top + bars.length * groupHeight;
  const ticks = log ? logTicks(min, max) : linearTicks(0, max, 5);
  for (const t of ticks) {
    const x = labelWidth + scale(t);
    body.push(`<line class="tick" x1="${px(x)}" x2="${px(x)}" y1="${top}" y2="${axisY}"/>`);
    body.push(
      `<text x="${px(x)}" y="${axisY + 14}" text-anchor="middle">${format(t, t > 0 && t < 1 ? 2 : 0)}</text>`,
    );
  }
  body.push(`<text x="${WIDTH - 4}" y="${axisY + 14}" text-anchor="end">${escapeXml(options.unit)}</text>`);
  let marks = 0;
  bars.forEach((bar, b) => {
    const y0 = top + b * groupHeight;
    body.push(
      `<text x="${px(labelWidth - 8)}" y="${px(y0 + (series.length * row) / 2 + 4)}" text-anchor="end">${escapeXml(clip(bar.label, labelChars))}</text>`,
    );
    bar.values.forEach((value, s) => {
      const w = Math.max(1, scale(value));
      const y = y0 + s * row + 2;
      const cls =
        series.length > 1 ? `bar s${s}${bar.peer ? ' faded' : ''}` : `bar${bar.peer ? ' peer' : ''}`;
      body.push(
        `<rect class="${cls}" x="${px(labelWidth)}" y="${px(y)}" width="${px(w)}" height="${row - 4}" data-value="${value}"><title>${escapeXml(`${bar.label}${series[s] ? `, ${series[s]}` : ''}: ${format(value, digits)} ${options.unit}`)}</title></rect>`,
      );
      const error = bar.errors?.[s] ?? 0;
      let textX = labelWidth + w + 4;
      if (error > 0) {
        const lo = labelWidth + Math.max(0, scale(Math.max(value - error, log ? min : 0)));
        const hi = labelWidth + scale(value + error);
        const mid = y + (row - 4) / 2;
        body.push(
          `<path class="error-bar" d="M${px(lo)} ${px(mid)}H${px(hi)}M${px(lo)} ${px(mid - 4)}V${px(mid + 4)}M${px(hi)} ${px(mid - 4)}V${px(mid + 4)}"/>`,
        );
        textX = hi + 4;
      }
      body.push(
        `<text x="${px(textX)}" y="${px(y + row - 8)}">${format(value, digits)}${error > 0 ? ` ± ${format(error, digits)}` : ''}</text>`,
      );
      marks++;
    });
  });
  body.push(`<line class="axis" x1="${px(labelWidth)}" x2="${px(labelWidth)}" y1="${top}" y2="${axisY}"/>`);
  return wrap(options.id, options.title, marks, height, body);
}

/** Points on a (log) x axis against a linear y axis; points of a series are joined. */
/** Grid lines, tick labels, both axes and their titles of an x–y chart. */
function axes(o: {
  frame: { left: number; right: number; top: number; bottom: number; height: number };
  xTicks: number[];
  yTicks: number[];
  sx: (x: number) => number;
  sy: (y: number) => number;
  digits: number;
  xLabel: string;
  yLabel: string;
}): string[] {
  const { left, right, top, bottom, height } = o.frame;
  const body: string[] = [];
  for (const t of o.xTicks) {
    body.push(`<line class="tick" x1="${px(o.sx(t))}" x2="${px(o.sx(t))}" y1="${top}" y2="${bottom}"/>`);
    body.push(`<text x="${px(o.sx(t))}" y="${bottom + 14}" text-anchor="middle">${format(t, 0)}</text>`);
  }
  for (const t of o.yTicks) {
    body.push(
      `<line class="tick" x1="${left}" x2="${WIDTH - right}" y1="${px(o.sy(t))}" y2="${px(o.sy(t))}"/>`,
    );
    body.push(
      `<text x="${left - 6}" y="${px(o.sy(t) + 4)}" text-anchor="end">${format(t, o.digits - 1)}</text>`,
    );
  }
  body.push(`<line class="axis" x1="${px(left)}" x2="${px(left)}" y1="${top}" y2="${bottom}"/>`);
  body.push(`<line class="axis" x1="${left}" x2="${WIDTH - right}" y1="${bottom}" y2="${bottom}"/>`);
  body.push(
    `<text x="${(left + WIDTH - right) / 2}" y="${height - 8}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`,
  );
  body.push(
    `<text transform="translate(14 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`,
  );
  return body;
}

export function scatterChart(options: ScatterOptions): string {
  const { points, xLog = false, digits = 4 } = options;
  const left = 64;
  const right = 150;
  const top = 12;
  const height = 340;
  const bottom = height - 44;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [xMin, xMax] = xLog ? [Math.min(...xs) / 1.5, Math.max(...xs) * 1.5] : [0, Math.max(...xs) * 1.1];
  const ySpan = Math.max(...ys) - Math.min(...ys) || Math.abs(ys[0]!) || 1;
  const [yMin, yMax] = [Math.min(...ys) - ySpan * 0.15, Math.max(...ys) + ySpan * 0.15];
  const sx = (x: number) =>
    left +
    (xLog ? (Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin)) : x / xMax) *
      (WIDTH - left - right);
  const sy = (y: number) => bottom - ((y - yMin) / (yMax - yMin)) * (bottom - top);
  const body = axes({
    frame: { left, right, top, bottom, height },
    xTicks: xLog ? logTicks(xMin, xMax) : linearTicks(0, xMax, 6),
    yTicks: linearTicks(yMin, yMax, 5),
    sx,
    sy,
    digits,
    xLabel: options.xLabel,
    yLabel: options.yLabel,
  });
  const seriesNames = [...new Set(points.flatMap((p) => (p.series ? [p.series] : [])))];
  for (const name of seriesNames) {
    const members = points.filter((p) => p.series === name);
    const d = members
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`)
      .join(' ');
    body.push(`<path class="line${members[0]!.peer ? ' peer' : ''}" d="${d}"/>`);
  }
  for (const p of points) {
    const cx = sx(p.x);
    const cy = sy(p.y);
    body.push(
      `<circle class="mark${p.peer ? ' peer' : ''}" cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="5"><title>${escapeXml(`${p.label}: ${format(p.x, 0)} ${options.xLabel}, ${format(p.y, digits)} ${options.yLabel}`)}</title></circle>`,
    );
    body.push(`<text x="${(cx + 8).toFixed(1)}" y="${(cy + 4).toFixed(1)}">${escapeXml(p.label)}</text>`);
  }
  return wrap(options.id, options.title, points.length, height, body);
}

export interface LineSeries {
  name: string;
  /** [x, y] pairs in drawing order. */
  points: readonly (readonly [number, number])[];
  peer?: boolean;
}

export interface LineChartOptions {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  digits?: number;
}

/** Curves of many points (a training loss per step): lines only, named at their right end. */
export function lineChart(options: LineChartOptions): string {
  const { series, digits = 2 } = options;
  const left = 64;
  const right = 150;
  const top = 12;
  const height = 340;
  const bottom = height - 44;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = Math.max(...xs);
  const [yMin, yMax] = [Math.min(0, ...ys), Math.max(...ys) * 1.05];
  const sx = (x: number) => left + (x / xMax) * (WIDTH - left - right);
  const sy = (y: number) => bottom - ((y - yMin) / (yMax - yMin)) * (bottom - top);
  const body = axes({
    frame: { left, right, top, bottom, height },
    xTicks: linearTicks(0, xMax, 6),
    yTicks: linearTicks(yMin, yMax, 5),
    sx,
    sy,
    digits,
    xLabel: options.xLabel,
    yLabel: options.yLabel,
  });
  for (const s of series) {
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${px(sx(p[0]))} ${px(sy(p[1]))}`).join(' ');
    body.push(
      `<path class="line${s.peer ? ' peer' : ''}" d="${d}"><title>${escapeXml(s.name)}</title></path>`,
    );
    const last = s.points[s.points.length - 1]!;
    body.push(`<text x="${px(sx(last[0]) + 6)}" y="${px(sy(last[1]) + 4)}">${escapeXml(s.name)}</text>`);
  }
  return wrap(options.id, options.title, series.length, height, body);
}

export interface MapOptions {
  id: string;
  title: string;
  /** Class names, by label. */
  classes: readonly string[];
  points: readonly { label: number; x: number; y: number }[];
  /** Drawn on top, larger, with their class name. */
  anchors: readonly { label: number; x: number; y: number }[];
}

const CLASS_COLOURS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

/** A 2-D map of embeddings coloured by class, with the class anchors marked and named. */
export function embeddingMap(options: MapOptions): string {
  const { points, anchors, classes } = options;
  const height = 520;
  const pad = 16;
  const legend = 150;
  const all = [...points, ...anchors];
  const [xMin, xMax] = [Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x))];
  const [yMin, yMax] = [Math.min(...all.map((p) => p.y)), Math.max(...all.map((p) => p.y))];
  const sx = (x: number) => pad + ((x - xMin) / (xMax - xMin || 1)) * (WIDTH - legend - 2 * pad);
  const sy = (y: number) => height - pad - ((y - yMin) / (yMax - yMin || 1)) * (height - 2 * pad);
  const colour = (label: number) => CLASS_COLOURS[label % CLASS_COLOURS.length]!;
  const body: string[] = [];
  for (const p of points) {
    body.push(
      `<circle class="point" cx="${px(sx(p.x))}" cy="${px(sy(p.y))}" r="2.5" style="fill:${colour(p.label)};fill-opacity:0.7"/>`,
    );
  }
  for (const a of anchors) {
    body.push(
      `<path class="anchor" d="M${px(sx(a.x))} ${px(sy(a.y) - 8)}L${px(sx(a.x) + 8)} ${px(sy(a.y))}L${px(sx(a.x))} ${px(sy(a.y) + 8)}L${px(sx(a.x) - 8)} ${px(sy(a.y))}Z" fill="${colour(a.label)}" stroke="#000" stroke-width="1.5"><title>anchor of ${escapeXml(classes[a.label] ?? String(a.label))}</title></path>`,
    );
  }
  classes.forEach((name, c) => {
    const y = pad + 10 + c * 18;
    body.push(`<circle cx="${WIDTH - legend + 12}" cy="${y}" r="5" fill="${colour(c)}"/>`);
    body.push(`<text x="${WIDTH - legend + 22}" y="${y + 4}">${escapeXml(name)}</text>`);
  });
  const y = pad + 10 + classes.length * 18 + 8;
  body.push(
    `<path d="M${WIDTH - legend + 12} ${y - 6}L${WIDTH - legend + 18} ${y}L${WIDTH - legend + 12} ${y + 6}L${WIDTH - legend + 6} ${y}Z" fill="#fff" stroke="#000"/>`,
  );
  body.push(`<text x="${WIDTH - legend + 22}" y="${y + 4}">class anchor</text>`);
  return wrap(options.id, options.title, points.length + anchors.length, height, body);
}
