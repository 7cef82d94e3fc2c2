import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumPath } from '@anchorage/loss-core/testing';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';

const main = join(import.meta.dirname, 'main.ts');
const children: ChildProcess[] = [];
const workDir = mkdtempSync(join(tmpdir(), 'anchorage-start-'));

/** Starts the main job and resolves with its output once it prints the serving line. */
function start(): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', main, '--quick', '--port', '0', '--work-dir', workDir],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /serving mnist at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      if (match) resolve({ child, url: match[1]!, output: () => output });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) =>
      reject(new Error(`the main job exited with ${code} before serving:\n${output}`)),
    );
  });
}

function stopped(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

afterAll(() => {
  // a failed assertion must not leave a server running
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(workDir, { recursive: true, force: true });
});

describe('pnpm start --quick', () => {
  it('trains, exports, evaluates, indexes with thumbnails and serves image search; a second start reuses it all', async () => {
    const first = await start();
    const table = first.output();
    expect(table).toMatch(/▶ training refcnn with the cam loss on mnist/);
    expect(table).toMatch(/exhaustive \(FlatIndex\)\s+0\.\d{4}/);
    expect(table).toMatch(/two-stage, probe 1 \(AnchorIndex\)\s+0\.\d{4}/);

    const folder = readdirSync(workDir).find((name) => name.startsWith('mnist-refcnn-cam-1ep-'))!;
    const samples = join(workDir, folder, 'samples');
    const sample = readdirSync(samples).find((name) => name.endsWith('.png'))!;
    const form = new FormData();
    form.append('image', new Blob([readFileSync(join(samples, sample))], { type: 'image/png' }), sample);
    form.append('k', '5');
    const response = await fetch(`${first.url}v1/search`, { method: 'POST', body: form });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      results: { id: string; label: number; metadata: { thumbnail: string; class: string } }[];
    };
    expect(body.results).toHaveLength(5);
    for (const hit of body.results) {
      expect(hit.id).toMatch(/^train-\d+$/);
      expect(hit.metadata.thumbnail).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
      expect(hit.metadata.class).toBe(String(hit.label));
    }

    // the demo page, in a real browser: a click on a sample test image shows result thumbnails
    const executablePath = chromiumPath();
    if (executablePath !== undefined) {
      const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'], timeout: 0 });
      try {
        const page = await browser.newPage();
        // a loaded machine can be slow; vitest's limit catches a hang
        page.setDefaultTimeout(0);
        await page.goto(first.url);
        const samplesShown = await page.locator('#samples button.sample').count();
        expect(samplesShown).toBe(12);
        await page.locator('#samples button.sample').first().click();
        await page.locator('#results .hit img').first().waitFor();
        const thumbnails = await page.locator('#results .hit img').count();
        expect(thumbnails).toBe(12);
        expect(await page.locator('#query .predicted').textContent()).toMatch(/predicted class: \d/);
        const width = await page
          .locator('#results .hit img')
          .first()
          .evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth);
        expect(width).toBe(28);
      } finally {
        await browser.close();
      }
    }

    first.child.kill('SIGINT');
    expect(await stopped(first.child)).toBe(0);

    // the second start finds the model, the evaluation and the items, and trains nothing
    const second = await start();
    expect(second.output()).toMatch(/✓ model: reusing/);
    expect(second.output()).toMatch(/✓ index: 2,000 items already/);
    expect(second.output()).not.toMatch(/▶ training/);
    second.child.kill('SIGINT');
    expect(await stopped(second.child)).toBe(0);
  });
});
