import { describe, expect, it } from 'vitest';
import { ReadWriteLock } from './rw-lock.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ReadWriteLock', () => {
  it('runs readers together, a writer alone, and in arrival order around a writer', async () => {
    const lock = new ReadWriteLock();
    const log: string[] = [];
    let active = 0;
    let most = 0;
    const task = (name: string, ticks: number) => async () => {
      active++;
      most = Math.max(most, active);
      log.push(`+${name}`);
      for (let i = 0; i < ticks; i++) await tick();
      log.push(`-${name}`);
      active--;
    };
    await Promise.all([
      lock.read(task('r1', 3)),
      lock.read(task('r2', 1)),
      lock.write(task('w1', 2)),
      lock.read(task('r3', 1)),
      lock.write(task('w2', 1)),
    ]);
    expect(log).toEqual(['+r1', '+r2', '-r2', '-r1', '+w1', '-w1', '+r3', '-r3', '+w2', '-w2']);
    expect(most).toBe(2);
  });

  it('releases the lock when a task throws', async () => {
    const lock = new ReadWriteLock();
    await expect(
      lock.write(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await lock.read(() => 7)).toBe(7);
    expect(await lock.write(async () => 8)).toBe(8);
  });
});
