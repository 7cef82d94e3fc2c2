/**
 * Writes every generated page of the site (CLI, HTTP API, package API, results) before
 * `vitepress build`. Offline and quick: the commands' --help, the server's OpenAPI document built
 * in process, TypeDoc over the packages' entry points, and the committed result files.
 */
import { performance } from 'node:perf_hooks';
import { generateApiReference } from './api-reference.js';
import { generateCliReference } from './cli-reference.js';
import { generateHttpReference } from './http-reference.js';
import { generateResults } from './results.js';

const only = process.argv.slice(2);
const steps: [string, () => Promise<unknown>][] = [
  ['cli', generateCliReference],
  ['http', generateHttpReference],
  ['api', generateApiReference],
  ['results', generateResults],
];

// The steps are independent; run together they share the two cores' idle time (child processes,
// file reads) instead of waiting in turn.
const chosen = steps.filter(([name]) => only.length === 0 || only.includes(name));
await Promise.all(
  chosen.map(async ([name, step]) => {
    const start = performance.now();
    await step();
    process.stdout.write(`docs: ${name} pages in ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
  }),
);
