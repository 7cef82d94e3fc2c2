import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, fitImage, type RawImage, sniffImageFormat } from './image';

const ramp = (height: number, width: number, channels = 1): RawImage => ({
  data: Uint8Array.from({ length: height * width * channels }, (_, i) => (i * 7 + 1) % 256),
  height,
  width,
  channels,
});

/** The pixel at (y, x, c) of a row-major H×W×C image, the independent reference for padding. */
const at = (image: RawImage, y: number, x: number, c = 0) =>
  image.data[(y * image.width + x) * image.channels + c]!;

describe('fitImage', () => {
  it('pad centres a smaller image on black and crops the centre of a larger one', async () => {
    const small = ramp(2, 3);
    const padded = await fitImage(small, { height: 4, width: 5, channels: 1, fit: 'pad' });
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 5; x++) {
        const inside = y >= 1 && y < 3 && x >= 1 && x < 4;
        expect(padded[y * 5 + x]).toBe(inside ? at(small, y - 1, x - 1) : 0);
      }
    const large = ramp(5, 6);
    const cropped = await fitImage(large, { height: 3, width: 3, channels: 1, fit: 'pad' });
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 3; x++) expect(cropped[y * 3 + x]).toBe(at(large, y + 1, x + 1));
  });

  it('cover keeps the centre: a 4×8 image covering 4×4 is its middle four columns', async () => {
    const wide = ramp(4, 8, 3);
    const out = await fitImage(wide, { height: 4, width: 4, channels: 3, fit: 'cover' });
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 4; x++)
        for (let c = 0; c < 3; c++) expect(out[(y * 4 + x) * 3 + c]).toBe(at(wide, y, x + 2, c));
  });

  it('grey becomes RGB by repeating the value, grey-valued RGB becomes that grey, alpha is flattened onto black', async () => {
    const grey = ramp(3, 3);
    const rgb = await fitImage(grey, { height: 3, width: 3, channels: 3, fit: 'pad' });
    for (let p = 0; p < 9; p++)
      expect([rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]]).toEqual(Array(3).fill(grey.data[p]));
    const back = await fitImage(
      { data: rgb, height: 3, width: 3, channels: 3 },
      { height: 3, width: 3, channels: 1, fit: 'pad' },
    );
    expect(Array.from(back)).toEqual(Array.from(grey.data));
    const rgba = new Uint8Array([200, 100, 50, 0, 200, 100, 50, 255]);
    const flat = await fitImage(
      { data: rgba, height: 1, width: 2, channels: 4 },
      { height: 1, width: 2, channels: 3, fit: 'pad' },
    );
    expect(Array.from(flat)).toEqual([0, 0, 0, 200, 100, 50]);
  });

  it('an encoded PNG gives the same pixels as its raw pixels', async () => {
    const image = ramp(7, 5, 3);
    const png = await sharp(image.data, { raw: { width: 5, height: 7, channels: 3 } })
      .png()
      .toBuffer();
    for (const fit of ['cover', 'contain', 'fill', 'pad'] as const) {
      const geometry = { height: 6, width: 6, channels: 3, fit };
      expect(Array.from(await fitImage(new Uint8Array(png), geometry))).toEqual(
        Array.from(await fitImage(image, geometry)),
      );
    }
  });
});

describe('decodeImage', () => {
  it('resizes a query by the manifest fit (fill when absent) and names bad input', async () => {
    const image = ramp(7, 5, 3);
    const png = new Uint8Array(
      await sharp(image.data, { raw: { width: 5, height: 7, channels: 3 } })
        .png()
        .toBuffer(),
    );
    expect(sniffImageFormat(png)).toBe('png');
    const input = { height: 4, width: 4, channels: 3 as const };
    expect(await decodeImage(png, { ...input, fit: 'pad' })).toEqual(
      await fitImage(image, { ...input, fit: 'pad' }),
    );
    expect(await decodeImage(png, input)).toEqual(await fitImage(image, { ...input, fit: 'fill' }));
    await expect(decodeImage(Uint8Array.from([1, 2, 3, 4]), input)).rejects.toMatchObject({
      code: 'UNSUPPORTED',
    });
    await expect(decodeImage(png.subarray(0, 40), input)).rejects.toMatchObject({
      code: 'CORRUPT_FILE',
      message: expect.stringContaining('png image cannot be decoded'),
    });
  });
});
