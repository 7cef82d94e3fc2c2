/**
 * A browsable page over `/openapi.json` served at `GET /docs`: every operation with its summary,
 * parameters, request and response schemas. Self-contained (no CDN), so it works offline. `nonce`
 * marks the inline style and script as the page's own for the Content-Security-Policy.
 */
export function apiPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>anchorage API</title>
<style nonce="${nonce}">
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 980px; padding: 20px; color: #1d2330; }
  details { border: 1px solid #dde; border-radius: 6px; margin: 8px 0; padding: 6px 10px; }
  summary { cursor: pointer; }
  .m { display: inline-block; min-width: 4.5em; font-weight: 700; font-family: monospace; }
  pre { background: #f5f6f8; padding: 8px; overflow: auto; font-size: 12px; }
</style>
</head>
<body>
<h1>anchorage API</h1>
<p id="info">Loading <a href="/openapi.json">/openapi.json</a>…</p>
<div id="ops"></div>
<script nonce="${nonce}">
function resolve(doc, schema) {
  if (schema && schema.$ref) {
    const name = schema.$ref.split('/').pop();
    return Object.assign({ title: name }, doc.components.schemas[name]);
  }
  return schema;
}
fetch('/openapi.json').then((r) => r.json()).then((doc) => {
  const info = document.getElementById('info');
  info.textContent = (doc.info.description || '') + ' ';
  const link = document.createElement('a');
  link.href = '/openapi.json';
  link.textContent = 'OpenAPI document';
  info.append(link);
  const ops = document.getElementById('ops');
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const d = document.createElement('details');
      const s = document.createElement('summary');
      const m = document.createElement('span');
      m.className = 'm';
      m.textContent = method.toUpperCase();
      s.append(m, ' ' + path + ' — ' + (op.summary || ''));
      d.append(s);
      if (op.description) { const p = document.createElement('p'); p.textContent = op.description; d.append(p); }
      const parts = [];
      if (op.parameters) parts.push(['parameters', op.parameters]);
      if (op.requestBody) for (const [type, c] of Object.entries(op.requestBody.content)) parts.push(['request ' + type, resolve(doc, c.schema)]);
      for (const [status, r] of Object.entries(op.responses || {})) {
        const c = r.content && (r.content['application/json'] || r.content['text/plain']);
        parts.push(['response ' + status + ' ' + (r.description || ''), c ? resolve(doc, c.schema) : null]);
      }
      for (const [title, body] of parts) {
        const h = document.createElement('h4');
        h.textContent = title;
        d.append(h);
        if (body) { const pre = document.createElement('pre'); pre.textContent = JSON.stringify(body, null, 2); d.append(pre); }
      }
      ops.append(d);
    }
  }
});
</script>
</body>
</html>
`;
}
