import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from './config.js';
import { demoPage } from './demo-page.js';
import { loadDemoSamples, MAX_DEMO_SAMPLE_BYTES, MAX_DEMO_SAMPLES } from './demo-samples.js';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-samples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function image(format: 'png' | 'jpeg'): Promise<Buffer> {
  return sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } })
    [format]()
    .toBuffer();
}

describe('loadDemoSamples', () => {
  it('reads the images of a folder in name order, recognised by their bytes, and skips the rest', async () => {
    const png = await image('png');
    const jpeg = await image('jpeg');
    const folder = join(dir, 'mixed');
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder);
    writeFileSync(join(folder, 'b-seven.png'), png);
    writeFileSync(join(folder, 'a-two.jpg'), jpeg);
    writeFileSync(join(folder, 'notes.txt'), 'not an image');
    writeFileSync(join(folder, 'c-fake.png'), 'text named like a png');
    const samples = loadDemoSamples(folder);
    expect(samples.map((s) => s.name)).toEqual(['a-two', 'b-seven']);
    expect(samples[0]!.dataUrl).toBe(`data:image/jpeg;base64,${jpeg.toString('base64')}`);
    expect(samples[1]!.dataUrl).toBe(`data:image/png;base64,${png.toString('base64')}`);
  });

  it(`keeps at most ${MAX_DEMO_SAMPLES} and refuses a sample over ${MAX_DEMO_SAMPLE_BYTES} bytes`, async () => {
    const png = await image('png');
    const folder = join(dir, 'many');
    mkdirSync(folder, { recursive: true });
    for (let i = 0; i < MAX_DEMO_SAMPLES + 5; i++)
      writeFileSync(join(folder, `s${String(i).padStart(2, '0')}.png`), png);
    expect(loadDemoSamples(folder)).toHaveLength(MAX_DEMO_SAMPLES);
    writeFileSync(join(folder, 'a-huge.png'), Buffer.concat([png, Buffer.alloc(MAX_DEMO_SAMPLE_BYTES)]));
    expect(() => loadDemoSamples(folder)).toThrow(/a-huge\.png is \d+ bytes; at most 524288/);
    expect(() => loadDemoSamples(join(dir, 'missing'))).toThrow(ConfigError);
  });
});

describe('demoPage with samples', () => {
  it('embeds the samples as JSON that no name can break out of', () => {
    const page = demoPage('n0nce', [
      { name: '</script><script>alert(1)</script>', dataUrl: 'data:image/png;base64,AAAA' },
    ]);
    const script = page.slice(page.indexOf('<script nonce="n0nce">'), page.lastIndexOf('</script>'));
    expect(script).not.toContain('</script><script>');
    expect(script).toContain('\\u003c/script>\\u003cscript>alert(1)\\u003c/script>');
    expect(script).toContain('"dataUrl":"data:image/png;base64,AAAA"');
  });
});
