import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Application } from 'typedoc';
import { docsSrc } from './paths.js';

/** TypeDoc over each package's entry point (typedoc.json), one markdown page per package. */
export async function generateApiReference(): Promise<string> {
  const out = join(docsSrc, 'reference/api');
  rmSync(out, { recursive: true, force: true });
  const app = await Application.bootstrapWithPlugins({
    options: new URL('../typedoc.json', import.meta.url).pathname,
  });
  const project = await app.convert();
  if (!project) throw new Error('TypeDoc could not convert the packages');
  await app.generateOutputs(project);
  return out;
}
