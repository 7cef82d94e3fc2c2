import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumPath } from '@anchorage/loss-core/testing';
import pino from 'pino';
import { type Browser, chromium } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from './config.js';
import { type RunningServer, startServer } from './server.js';
import { linearEmbedding, writeBundle } from './test-fixtures.js';

// $CHROMIUM_PATH or Debian's chromium; a missing one fails the run where CI requires fixtures
const CHROMIUM = chromiumPath();
const hasChromium = CHROMIUM !== undefined;
const reason = hasChromium ? '' : ' (skipped: no Chromium; apt-get install chromium or set CHROMIUM_PATH)';

describe(`demo page in a real browser${reason}`, () => {
  let root: string;
  let server: RunningServer;
  let browser: Browser;
  let imagePath: string;

  beforeAll(async () => {
    if (!hasChromium) return;
    root = mkdtempSync(join(tmpdir(), 'anchorage-demo-'));
    const fixture = writeBundle(join(root, 'bundle'), {
      dim: 4,
      classes: 3,
      model: { height: 8, width: 8, channels: 1 },
    });
    server = await startServer(
      resolveConfig({ bundle: fixture.dir, port: 0, host: '127.0.0.1' }),
      pino({ level: 'silent' }),
    );
    const pixels = Uint8Array.from({ length: 64 }, (_, i) => (i * 29) % 256);
    imagePath = join(root, 'query.png');
    writeFileSync(
      imagePath,
      await sharp(Buffer.from(pixels), { raw: { width: 8, height: 8, channels: 1 } })
        .png()
        .toBuffer(),
    );
    const center = Float32Array.from(linearEmbedding(pixels, fixture.weights!, 4));
    await server.catalog.put(
      Array.from({ length: 5 }, (_, i) => ({
        id: `item-${i}`,
        vector: center.map((x) => x + i),
        label: 1,
        metadata: { i },
      })),
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 0,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it.skipIf(!hasChromium)(
    'uploads an image and renders the results with distances and the predicted class',
    async () => {
      const page = await browser.newPage();
      // a loaded machine can be slow; vitest's limit catches a hang
      page.setDefaultTimeout(0);
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // the page must only ever talk to this server
      const foreign: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(`http://127.0.0.1:${server.port}/`) && !r.url().startsWith('blob:'))
          foreign.push(r.url());
      });
      await page.goto(`http://127.0.0.1:${server.port}/`);
      await page.locator('#buckets li').first().waitFor();
      expect(await page.locator('#stats').textContent()).toContain('5 items');
      await page.setInputFiles('#file', imagePath);
      await page.locator('.hit').nth(4).waitFor();
      const hits = await page.locator('.hit').allInnerTexts();
      expect(hits).toHaveLength(5);
      expect(hits[0]).toContain('item-0');
      expect(hits[0]).toContain('distance² 0.0000');
      expect(hits[1]).toContain('distance² 4.0000');
      expect(hits[0]).toContain('class class-1');
      expect(await page.locator('.predicted').textContent()).toContain('predicted class: class-');
      expect(errors).toEqual([]);
      expect(foreign).toEqual([]);
      await page.close();
    },
    60_000,
  );
});
