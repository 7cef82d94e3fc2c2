import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './config.js';
import { sniffImageFormat } from './image.js';

/** One sample query offered on the demo page. */
export interface DemoSample {
  /** The file name without its extension. */
  name: string;
  /** The image as a `data:image/…;base64,` URL. */
  dataUrl: string;
}

/** At most this many samples are shown, the first in file-name order. */
export const MAX_DEMO_SAMPLES = 24;
/** A sample larger than this is refused: the page carries every sample inline. */
export const MAX_DEMO_SAMPLE_BYTES = 512 * 1024;

/**
 * Reads the demo page's sample queries from a folder: its JPEG, PNG and WebP files (recognised by
 * their bytes), in name order, at most {@link MAX_DEMO_SAMPLES}. A folder that cannot be read, or a
 * sample over {@link MAX_DEMO_SAMPLE_BYTES}, is a `ConfigError` naming the path.
 */
export function loadDemoSamples(dir: string): DemoSample[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    throw new ConfigError(`cannot read the demo samples folder ${dir}`);
  }
  const samples: DemoSample[] = [];
  for (const file of names) {
    if (samples.length === MAX_DEMO_SAMPLES) break;
    const path = join(dir, file);
    if (!statSync(path).isFile()) continue;
    const bytes = readFileSync(path);
    const format = sniffImageFormat(bytes);
    if (format === undefined) continue;
    if (bytes.length > MAX_DEMO_SAMPLE_BYTES) {
      throw new ConfigError(`demo sample ${path} is ${bytes.length} bytes; at most ${MAX_DEMO_SAMPLE_BYTES}`);
    }
    samples.push({
      name: file.replace(/\.[^.]*$/, ''),
      dataUrl: `data:image/${format};base64,${bytes.toString('base64')}`,
    });
  }
  return samples;
}
