import { Hono } from 'hono';
import { NONCE, type SecureHeadersVariables, secureHeaders } from 'hono/secure-headers';
import { apiPage } from '../api-page.js';
import { demoPage } from '../demo-page.js';
import type { RouteContext } from './context.js';
import type { Env } from './http.js';

/**
 * The demo page `/` and the API page `/docs` (pages, not API routes: not in the OpenAPI document).
 * They allow only their own inline style and script (by nonce), images from this server, data:
 * and blob:.
 */
export function pageRoutes(ctx: RouteContext): Hono<Env & { Variables: SecureHeadersVariables }> {
  const app = new Hono<Env & { Variables: SecureHeadersVariables }>();
  const pageHeaders = secureHeaders({
    xFrameOptions: 'DENY',
    strictTransportSecurity: false,
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: [NONCE],
      styleSrc: [NONCE],
      imgSrc: ["'self'", 'data:', 'blob:'],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  });
  app.get('/', pageHeaders, (c) => c.html(demoPage(c.get('secureHeadersNonce')!, ctx.options.demoSamples)));
  app.get('/docs', pageHeaders, (c) => c.html(apiPage(c.get('secureHeadersNonce')!)));
  return app;
}
