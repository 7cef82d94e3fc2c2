import sharp from 'sharp';

/** Pixel layout of a batch of images: N×height×width×channels bytes. */
export interface ImageLayout {
  height: number;
  width: number;
  channels: number;
}

/** Image `index` of a batch encoded as PNG. */
export function encodePng(images: Uint8Array, index: number, layout: ImageLayout): Promise<Buffer> {
  const size = layout.height * layout.width * layout.channels;
  const pixels = images.subarray(index * size, (index + 1) * size);
  return sharp(pixels, {
    raw: { width: layout.width, height: layout.height, channels: layout.channels as 1 | 2 | 3 | 4 },
  })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

/** Image `index` as a `data:image/png;base64,…` URL, the form the demo page shows as a thumbnail. */
export async function thumbnailUrl(images: Uint8Array, index: number, layout: ImageLayout): Promise<string> {
  return `data:image/png;base64,${(await encodePng(images, index, layout)).toString('base64')}`;
}

/** Runs `task(i)` for i in [start, end) with at most `concurrency` in flight, results in order. */
export async function mapConcurrent<T>(
  start: number,
  end: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const out = new Array<T>(end - start);
  let next = start;
  const lane = async () => {
    while (next < end) {
      const i = next++;
      out[i - start] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, end - start) }, lane));
  return out;
}
