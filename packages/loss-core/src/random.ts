import { AnchorageError } from './errors';

/** The complete state of a {@link Random}: four uint32 words, JSON-serialisable for checkpoints. */
export interface RandomState {
  readonly algorithm: 'sfc32';
  readonly words: readonly [number, number, number, number];
}

const TWO_POW_32 = 4294967296;

/** splitmix32: spreads a small integer seed over all 32 bits so nearby seeds give unrelated streams. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

/**
 * A small, fast, seeded pseudo-random generator (sfc32, 128-bit state). The same seed gives the
 * same stream on every platform, and `getState`/`setState` restore a stream exactly (checkpoints).
 * @example
 * const rng = new Random(42);
 * rng.shuffle(indices);
 * const saved = rng.getState(); // JSON.stringify-able
 */
export class Random {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  /** @param seed any finite number; its integer part (mod 2^32) selects the stream. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new AnchorageError('INVALID_ARGUMENT', `seed must be a finite number, got ${seed}`, {
        argument: 'seed',
        value: seed,
      });
    }
    let s = Math.trunc(seed) | 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(s);
      s = next;
      words.push(out);
    }
    [this.a, this.b, this.c, this.d] = words as [number, number, number, number];
    // sfc32's authors discard the first outputs so that weak seeds are mixed in.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniform integer in [0, 2^32). */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform float in [0, 1) with 32 bits of randomness. */
  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** A uniform integer in [0, n), without modulo bias; n must be an integer in [1, 2^32]. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new AnchorageError('INVALID_ARGUMENT', `n must be an integer in [1, 2^32], got ${n}`, {
        argument: 'n',
        value: n,
      });
    }
    // Rejection sampling: accept only draws below the largest multiple of n.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** A standard normal draw (Box–Muller; one pair of uniforms per call so the state stays 4 words). */
  normal(): number {
    const u = 1 - this.nextFloat(); // (0, 1]: log(0) must not happen
    const v = this.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles `array` in place (Fisher–Yates) and returns it. */
  shuffle<T extends { length: number; [index: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** The current state; `setState` with it resumes the exact same stream. */
  getState(): RandomState {
    return { algorithm: 'sfc32', words: [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0] };
  }

  /** Restores a state from `getState` (e.g. read back from a checkpoint's JSON). */
  setState(state: RandomState): void {
    const words = (state as { words?: unknown } | null)?.words;
    if (
      state?.algorithm !== 'sfc32' ||
      !Array.isArray(words) ||
      words.length !== 4 ||
      !words.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32)
    ) {
      throw new AnchorageError('INVALID_ARGUMENT', 'state is not a valid sfc32 RandomState', {
        argument: 'state',
        value: state,
      });
    }
    this.a = words[0] | 0;
    this.b = words[1] | 0;
    this.c = words[2] | 0;
    this.d = words[3] | 0;
  }

  /** Creates a generator positioned at `state`. */
  static fromState(state: RandomState): Random {
    const rng = new Random(0);
    rng.setState(state);
    return rng;
  }
}
