import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic } from './static-server.js';

const docsDir = fileURLToPath(new URL('..', import.meta.url));
const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);

// In CI a missing browser must fail the check, not skip it.
if (!haveChromium && process.env.CI) {
  throw new Error(
    `Chromium not found at ${chromiumPath}: install Debian's chromium or set CHROMIUM_PATH (CI is set, so this fails)`,
  );
}

describe.skipIf(!haveChromium)('the built docs site in Chromium', () => {
  let browser: Browser;
  let site: Awaited<ReturnType<typeof serveStatic>>;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // turbo's test task does not depend on build: build the site here when it is missing.
    if (!existsSync(`${dist}index.html`)) {
      const build = spawnSync('pnpm', ['run', 'build'], { cwd: docsDir, stdio: 'inherit' });
      if (build.status !== 0) throw new Error(`the docs build failed (exit ${build.status})`);
    }
    site = await serveStatic(dist);
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'], timeout: 0 });
  });

  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage();
    // a loaded machine can be slow; vitest's limit catches a hang
    page.setDefaultTimeout(0);
    page.on('pageerror', (error) => pageErrors.push(`${path}: ${error.message}`));
    const response = await page.goto(`${site.url}${path}`, { waitUntil: 'load' });
    expect(response?.status(), path).toBe(200);
    return page;
  }

  it('renders the home page with its title', async () => {
    const page = await open('/');
    await page.waitForFunction(() => document.title.includes('anchorage'));
    expect(await page.title()).toContain('anchorage');
    const name = page.locator('.VPHero .name');
    expect((await name.textContent())?.trim()).toBe('anchorage');
    expect(await name.isVisible()).toBe(true);
    await page.close();
  });

  it('renders the CAM formulas with KaTeX', async () => {
    const page = await open('/concepts/cam-loss');
    const display = page.locator('.katex-display .katex');
    expect(await display.count()).toBeGreaterThanOrEqual(4);
    const box = await display.first().boundingBox();
    expect(box?.width).toBeGreaterThan(50);
    expect(box?.height).toBeGreaterThan(10);
    // Typeset, not raw TeX: KaTeX's HTML half is laid out and no formula failed to parse.
    const html = await display.first().locator('.katex-html').boundingBox();
    expect(html?.height).toBeGreaterThan(10);
    expect(await page.locator('.katex-error').count()).toBe(0);
    await page.close();
  });

  it('draws every row of a committed retrieval result as a mark', async () => {
    const file = 'packages/retrieval/bench/results/clustered-n100000-q1000.json';
    const run = JSON.parse(readFileSync(`${repoRoot}${file}`, 'utf8')) as { rows: unknown[] };
    const page = await open('/results/search');
    const chart = page.locator('svg[data-chart="search-recall-clustered-n100000-q1000"]');
    await chart.first().waitFor();
    expect(await chart.count()).toBe(1);
    const marks = chart.locator('circle.mark');
    expect(await marks.count()).toBe(run.rows.length);
    for (let i = 0; i < run.rows.length; i++) {
      const box = await marks.nth(i).boundingBox();
      expect(box?.width, `mark ${i}`).toBeGreaterThan(0);
    }
    const bars = page.locator('svg[data-chart="search-latency-clustered-n100000-q1000"] rect.bar');
    expect(await bars.count()).toBe(run.rows.length);
    const widths = await bars.evaluateAll((rects) => rects.map((r) => r.getBoundingClientRect().width));
    expect(Math.min(...widths)).toBeGreaterThan(0);
    await page.close();
  });

  it('draws the committed comparison: a bar and an error bar per loss and seeds', async () => {
    const { aggregate, readResults, SUITE_RESULTS, settingOf, verdicts } = await import(
      '@anchorage/experiments'
    );
    const results = await readResults(SUITE_RESULTS);
    const cells = aggregate(results).filter((c) => c.group === 'main');
    const page = await open('/results/experiments');
    await page.getByRole('heading', { name: 'Verdict' }).waitFor();
    // every claim with its verdict, as the result file gives it
    for (const v of verdicts(results)) {
      const paragraph = page.locator('p', { hasText: v.claim.slice(0, 40) });
      expect(await paragraph.count(), v.claim).toBe(1);
      expect(await paragraph.locator('strong').textContent()).toBe(`${v.verdict}:`);
    }
    for (const table of new Set(cells.map(settingOf))) {
      const list = cells.filter((c) => settingOf(c) === table);
      const id = `experiments-${table.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
      const chart = page.locator(`svg[data-chart="${id}"]`);
      expect(await chart.count(), id).toBe(1);
      expect(await chart.locator('rect.bar').count(), id).toBe(list.length);
      const spread = list.filter((c) => c.metrics.mAP.std > 0).length;
      expect(await chart.locator('path.error-bar').count(), id).toBe(spread);
    }
    // the ablation, sweep and tuning charts: a bar per variant, after each loss's default (grey)
    const all = aggregate(results);
    for (const group of ['ablation', 'sweep', 'tuning']) {
      const variants = all.filter((c) => c.group === group);
      for (const setting of new Set(variants.map(settingOf))) {
        const list = variants.filter((c) => settingOf(c) === setting);
        const losses = new Set(list.map((c) => c.loss)).size;
        const id = `${group}-${setting.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
        const chart = page.locator(`svg[data-chart="${id}"]`);
        expect(await chart.count(), id).toBe(1);
        const bars = await chart.locator('rect.bar').count();
        expect(bars, id).toBeGreaterThanOrEqual(list.length);
        expect(bars, id).toBeLessThanOrEqual(list.length + losses);
      }
    }
    await page.close();
  });

  it('draws the committed embedding map: every projected point and one anchor per class', async () => {
    const file = 'apps/docs/data/embedding-map.fmnist-cam.json';
    const map = JSON.parse(readFileSync(`${repoRoot}${file}`, 'utf8')) as {
      points: unknown[];
      classes: unknown[];
    };
    const page = await open('/results/quality');
    const chart = page.locator('svg[data-chart="quality-embedding-map"]');
    await chart.first().waitFor();
    expect(await chart.count()).toBe(1);
    expect(await chart.locator('circle.point').count()).toBe(map.points.length);
    expect(await chart.locator('path.anchor').count()).toBe(map.classes.length);
    const box = await chart.boundingBox();
    expect(box?.height).toBeGreaterThan(300);
    await page.close();
  });

  it('raised no script errors on those pages', () => {
    expect(pageErrors).toEqual([]);
  });
});
