import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  // `pnpm start` (the demo app) is a command too, though no package publishes it.
  const demo = join(repoRoot, 'apps/demo');
  if (existsSync(join(demo, 'src/main.ts')))
    clis.push({ bin: 'pnpm start', packageDir: demo, source: 'src/main.ts' });
  // The order a user meets them in: start, train, then index, then serve.
  const order = ['pnpm start', 'anchorage-train', 'anchorage-index', 'anchorage-serve'];
  const rank = (bin: string) => (order.includes(bin) ? order.indexOf(bin) : order.length);
  return clis.sort((a, b) => rank(a.bin) - rank(b.bin) || a.bin.localeCompare(b.bin));
}

const nodeArgs = ['--conditions=@anchorage/source', '--import', 'tsx'];
const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
const preload = fileURLToPath(new URL('./help-preload.cjs', import.meta.url));

/** `--help` as a user sees it: the source run through tsx, 80 columns (stdout is not a terminal). */
async function help(cli: Cli, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [...nodeArgs, cli.source, ...args, '--help'], {
    cwd: cli.packageDir,
    env,
  });
  return stdout.trimEnd();
}

/** The program's help and every subcommand's, from one process (see help-preload.cjs). */
async function allHelp(cli: Cli): Promise<{ help: string; subcommands: Record<string, string> }> {
  const { stdout } = await run(process.execPath, ['--require', preload, ...nodeArgs, cli.source], {
    cwd: cli.packageDir,
    env,
  });
  try {
    const parsed = JSON.parse(stdout) as { help: string; subcommands: Record<string, string> };
    const trim = (text: string) => text.trimEnd();
    return {
      help: trim(parsed.help),
      subcommands: Object.fromEntries(Object.entries(parsed.subcommands).map(([k, v]) => [k, trim(v)])),
    };
  } catch {
    // Not a commander program: ask it for --help, once per subcommand it lists.
    const top = await help(cli, []);
    const names = subcommands(top);
    const texts = await Promise.all(names.map((name) => help(cli, [name])));
    return { help: top, subcommands: Object.fromEntries(names.map((name, i) => [name, texts[i]!])) };
  }
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
      const { help: top, subcommands: subs } = await allHelp(cli);
      const parts = [`## ${cli.bin}`, fence(top)];
      for (const [name, text] of Object.entries(subs)) parts.push(`### ${cli.bin} ${name}`, fence(text));
      return parts.join('\n\n');
    }),
  );
  const page = [
    generatedNote('scripts/cli-reference.ts', "each command's --help"),
    '# Command line',
    'Every command below is printed exactly as its `--help` prints it; this page is regenerated from ' +
      'the commands themselves on every docs build. Installed from npm the package commands are on the ' +
      'PATH (`npx anchorage-train …`); inside this repository `pnpm train`, `pnpm index` and ' +
      '`pnpm serve` run `anchorage-train`, `anchorage-index` and `anchorage-serve` from source ' +
      '([Getting started](../getting-started.md)).',
    `Commands: ${clis.map((c) => `[\`${c.bin}\`](#${c.bin.replace(/ /g, '-')})`).join(', ')}.`,
    ...sections,
  ].join('\n\n');
  const path = join(docsSrc, 'reference/cli.md');
  writeFileSync(path, `${page}\n`);
  return path;
}
