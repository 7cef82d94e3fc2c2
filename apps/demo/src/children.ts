import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The TypeScript source of a workspace package's CLI, run through tsx (no build step needed). */
export function cliSource(pkg: '@anchorage/trainer' | '@anchorage/retrieval' | '@anchorage/server'): string {
  return join(dirname(require.resolve(`${pkg}/package.json`)), 'src', 'cli.ts');
}

/** A CLI child that exited with a non-zero status. */
export class ChildFailedError extends Error {
  override readonly name = 'ChildFailedError';
  constructor(
    readonly command: string,
    readonly status: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(`${command} failed (${signal ? `signal ${signal}` : `exit status ${status}`})`);
  }
}

let current: ReturnType<typeof spawn> | undefined;

/** Forwards Ctrl-C to the running child so that it can stop cleanly (the trainer keeps its checkpoint). */
export function interruptChild(signal: NodeJS.Signals): boolean {
  if (current === undefined || current.exitCode !== null) return false;
  current.kill(signal);
  return true;
}

/**
 * Runs a package CLI with the terminal attached (its progress bar and table reach the user) and
 * resolves when it exits with status 0.
 */
export function runCli(
  pkg: Parameters<typeof cliSource>[0],
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  const name = `${pkg.replace('@anchorage/', 'anchorage-')} ${args[0] ?? ''}`.trim();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@anchorage/source', '--import', 'tsx', cliSource(pkg), ...args],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, ...options.env },
      },
    );
    current = child;
    child.on('error', reject);
    child.on('exit', (status, signal) => {
      current = undefined;
      if (status === 0) resolve();
      else reject(new ChildFailedError(name, status, signal));
    });
  });
}
