import type { DemoSample } from './demo-samples.js';

/**
 * The page's check of an image URL read from stored metadata (JavaScript source, run in the
 * browser): only `data:` images of raster types and paths on this server. `//host/…`, `/\host/…`
 * and tab- or newline-split forms resolve to another origin and are refused.
 */
export const SAFE_IMAGE_SOURCE = `function safeImageSource(src, base) {
  if (typeof src !== 'string') return false;
  if (/^data:image\\/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+\\/=]*$/.test(src)) return true;
  if (src[0] !== '/' || src[1] === '/' || src[1] === '\\\\') return false;
  try {
    const url = new URL(src, base);
    return url.origin === new URL(base).origin && (url.protocol === 'http:' || url.protocol === 'https:');
  } catch (e) {
    return false;
  }
}`;

/**
 * The demo search page served at `GET /`: pick or drop an image, see the nearest items with their
 * distances and the predicted class, and the index stats. Self-contained: no external scripts,
 * styles or fonts, so it works offline and sends nothing anywhere but this server.
 */
export function demoPage(nonce: string, samples: readonly DemoSample[] = []): string {
  // JSON inside a script element: escape '<' so no sample name can close the element
  const sampleJson = JSON.stringify(samples).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>anchorage search</title>
<style nonce="${nonce}">
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
  header { padding: 12px 20px; background: #1d2330; color: #fff; display: flex; gap: 16px; align-items: baseline; }
  header a { color: #9cc3ff; }
  main { padding: 20px; max-width: 1100px; margin: auto; }
  #drop { border: 2px dashed #8a94a6; border-radius: 8px; padding: 24px; text-align: center; background: #fff; cursor: pointer; }
  #drop.over { border-color: #2f6fed; background: #eef3ff; }
  #query { display: flex; gap: 16px; align-items: center; margin: 16px 0; }
  #query img { max-width: 96px; max-height: 96px; image-rendering: pixelated; border: 1px solid #ccd; }
  #results { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
  .hit { background: #fff; border: 1px solid #dde; border-radius: 6px; padding: 8px; font-size: 13px; overflow-wrap: anywhere; }
  .hit img { width: 100%; image-rendering: pixelated; }
  .hit b { display: block; }
  #error { color: #b00020; min-height: 1.4em; }
  #stats { font-size: 13px; color: #555; }
  label { font-size: 13px; }
  #samples { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 12px 0; }
  #samples button { padding: 2px; border: 1px solid #ccd; border-radius: 4px; background: #fff; cursor: pointer; }
  #samples button:hover { border-color: #2f6fed; }
  #samples img { width: 48px; height: 48px; image-rendering: pixelated; display: block; }
  input[type=number] { width: 5em; }
</style>
</head>
<body>
<header><strong>anchorage</strong><span>two-stage image search</span><a href="/docs">API</a></header>
<main>
  <div id="drop" tabindex="0">Drop an image here or <u>pick a file</u> (JPEG, PNG, WebP)
    <input id="file" type="file" accept="image/jpeg,image/png,image/webp" hidden>
  </div>
  <div id="samples" hidden><span>or try a test image:</span></div>
  <p>
    <label>k <input id="k" type="number" min="1" max="1000" value="12"></label>
    <label>probe <input id="probe" type="number" min="1" value="1"></label>
    <label>API key (if reads need one) <input id="key" type="password" autocomplete="off"></label>
  </p>
  <div id="error" role="alert"></div>
  <div id="query"></div>
  <div id="results" aria-live="polite"></div>
  <h3>Index</h3>
  <div id="stats">loading…</div>
</main>
<script nonce="${nonce}">
${SAFE_IMAGE_SOURCE}
const $ = (id) => document.getElementById(id);
function headers() {
  const key = $('key').value.trim();
  return key ? { Authorization: 'Bearer ' + key } : {};
}
function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}
let classNames = [];
async function loadStats() {
  try {
    const res = await fetch('/v1/stats', { headers: headers() });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ? body.error.message : res.statusText);
    classNames = body.buckets.map((b) => b.name);
    $('probe').max = String(body.anchors);
    const stats = $('stats');
    stats.textContent = '';
    stats.append(text('div', body.items + ' items, dim ' + body.dim + ', ' + body.anchors + ' anchors, storage ' + body.storage +
      (body.imageQueries ? '' : ' (no model.onnx: image queries are off)')));
    const list = document.createElement('ul');
    list.id = 'buckets';
    for (const b of body.buckets) list.append(text('li', b.name + ': ' + b.size));
    stats.append(list);
  } catch (e) {
    $('stats').textContent = 'stats unavailable: ' + e.message;
  }
}
async function search(file) {
  $('error').textContent = '';
  $('results').textContent = '';
  const preview = document.createElement('img');
  preview.src = URL.createObjectURL(file);
  preview.alt = 'query';
  $('query').replaceChildren(preview, text('span', 'searching…', 'status'));
  const form = new FormData();
  form.append('image', file);
  form.append('k', $('k').value || '12');
  form.append('probe', $('probe').value || '1');
  try {
    const res = await fetch('/v1/search', { method: 'POST', body: form, headers: headers() });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ? body.error.code + ': ' + body.error.message : res.statusText);
    const predicted = body.anchors[0];
    $('query').replaceChildren(preview, text('span', 'predicted class: ' + (predicted ? predicted.name : '?') +
      ' · ' + body.results.length + ' results · ' + body.scanned + ' scanned · ' + body.timing.totalMs.toFixed(1) + ' ms', 'predicted'));
    for (const hit of body.results) {
      const card = document.createElement('div');
      card.className = 'hit';
      const meta = hit.metadata && typeof hit.metadata === 'object' ? hit.metadata : {};
      const src = typeof meta.thumbnail === 'string' ? meta.thumbnail : typeof meta.url === 'string' ? meta.url : '';
      if (safeImageSource(src, location.href)) { const img = document.createElement('img'); img.src = src; img.alt = hit.id; card.append(img); }
      card.append(text('b', hit.id));
      card.append(text('div', 'distance² ' + hit.distance.toFixed(4), 'distance'));
      const cls = hit.label === null ? hit.bucket : hit.label;
      card.append(text('div', 'class ' + (classNames[cls] !== undefined ? classNames[cls] : cls), 'class'));
      $('results').append(card);
    }
  } catch (e) {
    $('query').replaceChildren(preview);
    $('error').textContent = e.message;
  }
}
$('drop').addEventListener('click', () => $('file').click());
$('drop').addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') $('file').click(); });
$('file').addEventListener('change', () => { if ($('file').files[0]) search($('file').files[0]); });
$('drop').addEventListener('dragover', (e) => { e.preventDefault(); $('drop').classList.add('over'); });
$('drop').addEventListener('dragleave', () => $('drop').classList.remove('over'));
$('drop').addEventListener('drop', (e) => {
  e.preventDefault();
  $('drop').classList.remove('over');
  if (e.dataTransfer.files[0]) search(e.dataTransfer.files[0]);
});
const SAMPLES = ${sampleJson};
function sampleFile(sample) {
  const [head, data] = sample.dataUrl.split(',');
  const bytes = Uint8Array.from(atob(data), (ch) => ch.charCodeAt(0));
  return new File([bytes], sample.name, { type: head.slice(5, head.indexOf(';')) });
}
for (const sample of SAMPLES) {
  if (!safeImageSource(sample.dataUrl, location.href)) continue;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'sample';
  button.title = sample.name;
  const img = document.createElement('img');
  img.src = sample.dataUrl;
  img.alt = sample.name;
  button.append(img);
  button.addEventListener('click', () => search(sampleFile(sample)));
  $('samples').append(button);
  $('samples').hidden = false;
}
$('key').addEventListener('change', loadStats);
loadStats();
</script>
</body>
</html>
`;
}
