import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { docsSrc, generatedNote, repoRoot } from './paths.js';

const run = promisify(execFile);

interface Cli {
  bin: string;
  packageDir: string;
  source: string;
}

/** Every `bin` of every package, mapped from its built file to the TypeScript source it is built from. */
function findClis(): Cli[] {
  const clis: Cli[] = [];
  const packages = join(repoRoot, 'packages');
  for (const name of readdirSync(packages).sort()) {
    const packageDir = join(packages, name);
    let manifest: { bin?: Record<string, string> | string; name?: string };
    try {
      manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    const bins = typeof manifest.bin === 'string' ? { [manifest.name ?? name]: manifest.bin } : manifest.bin;
    for (const [bin, target] of Object.entries(bins ?? {})) {
      const source = target.replace(/^\.\/dist\//, 'src/').replace(/\.c?js$/, '.ts');
      clis.push({ bin, packageDir, source });
    }
  }
  // The order a user meets them in: train, then index, then serve.
  const order = ['anchorage-train', 'anchorage-index', 'anchorage-serve'];
  const rank = (bin: string) => (order.includes(bin) ? order.indexOf(bin) : order.length);
  return clis.sort((a, b) => rank(a.bin) - rank(b.bin) || a.bin.localeCompare(b.bin));
}

/** `--help` as a user sees it: the source run through tsx, 80 columns (stdout is not a terminal). */
async function help(cli: Cli, args: string[]): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ['--conditions=@anchorage/source', '--import', 'tsx', cli.source, ...args, '--help'],
    { cwd: cli.packageDir, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
  );
  return stdout.trimEnd();
}

/** Subcommand names from commander's "Commands:" section, without `help`. */
function subcommands(text: string): string[] {
  const section = text.split(/^Commands:\s*$/m)[1];
  if (!section) return [];
  return [...section.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!).filter((name) => name !== 'help');
}

function fence(text: string): string {
  return `\`\`\`text\n${text}\n\`\`\``;
}

export async function generateCliReference(): Promise<string> {
  const clis = findClis();
  const sections = await Promise.all(
    clis.map(async (cli) => {
      const top = await help(cli, []);
      const subs = subcommands(top);
      const subHelps = await Promise.all(subs.map((sub) => help(cli, [sub])));
      const parts = [`## ${cli.bin}`, fence(top)];
      subs.forEach((sub, i) => {
        parts.push(`### ${cli.bin} ${sub}`, fence(subHelps[i]!));
      });
      return parts.join('\n\n');
    }),
  );
  const page = [
    generatedNote('scripts/cli-reference.ts', "each command's --help"),
    '# Command line',
    'Every command below is printed exactly as its `--help` prints it; this page is regenerated from ' +
      'the commands themselves on every docs build. Installed from npm the commands are on the PATH ' +
      '(`npx anchorage-train …`); inside this repository run them from source as shown in ' +
      '[Getting started](../getting-started.md).',
    `Commands: ${clis.map((c) => `[\`${c.bin}\`](#${c.bin})`).join(', ')}.`,
    ...sections,
  ].join('\n\n');
  const path = join(docsSrc, 'reference/cli.md');
  writeFileSync(path, `${page}\n`);
  return path;
}
