import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = join(dirname(fileURLToPath(import.meta.url)), 'cli.ts');

/** A server child process started from source. */
export interface ServerProcess {
  child: ChildProcess;
  port: number;
  url: string;
  /** stdout lines so far (pino JSON). */
  lines: string[];
  stderr: () => string;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  exited: Promise<number | string>;
}

/** Runs `anchorage-serve` from source (`node --import tsx src/cli.ts …`) and waits for "listening". */
export function startServerProcess(args: string[], env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, '--port', '0', '--host', '127.0.0.1', ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let err = '';
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      err += d;
    });
    child.stdout!.on('data', (d: string) => {
      buffer += d;
      let at = buffer.indexOf('\n');
      while (at >= 0) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 1);
        lines.push(line);
        try {
          const entry = JSON.parse(line) as { msg?: string; port?: number };
          if (entry.msg === 'listening' && entry.port) {
            resolve({
              child,
              port: entry.port,
              url: `http://127.0.0.1:${entry.port}`,
              lines,
              stderr: () => err,
              exited,
            });
          }
        } catch {
          // not JSON: ignore
        }
        at = buffer.indexOf('\n');
      }
    });
    exited.then((code) => reject(new Error(`server exited (${code}) before listening: ${err}`)));
  });
}

/** Runs the CLI to completion (for start-up errors); resolves with its exit code and stderr. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code: code ?? -1, stderr })));
}
