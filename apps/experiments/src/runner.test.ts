import { describe, expect, it } from 'vitest';
import { forEachConcurrently } from './runner.js';

/** A task that finishes when the test says so, recording how many ran at once. */
function gate() {
  const started: number[] = [];
  const release = new Map<number, (error?: Error) => void>();
  let inFlight = 0;
  let most = 0;
  const task = (_: string, index: number) =>
    new Promise<void>((resolve, reject) => {
      started.push(index);
      inFlight++;
      most = Math.max(most, inFlight);
      release.set(index, (error) => {
        inFlight--;
        if (error === undefined) resolve();
        else reject(error);
      });
    });
  const tick = () => new Promise((r) => setImmediate(r));
  return { started, release, task, tick, most: () => most };
}

describe('forEachConcurrently', () => {
  it('runs every item, at most `jobs` at a time, starting them in order', async () => {
    const g = gate();
    const done = forEachConcurrently(['a', 'b', 'c', 'd', 'e'], 2, g.task);
    await g.tick();
    expect(g.started).toEqual([0, 1]);
    g.release.get(1)!();
    await g.tick();
    expect(g.started).toEqual([0, 1, 2]);
    g.release.get(0)!();
    await g.tick();
    g.release.get(2)!();
    await g.tick();
    g.release.get(3)!();
    await g.tick();
    g.release.get(4)!();
    await done;
    expect(g.started).toEqual([0, 1, 2, 3, 4]);
    expect(g.most()).toBe(2);
  });

  it('starts nothing new after a failure, lets the running ones finish, then throws the first error', async () => {
    const g = gate();
    const done = forEachConcurrently(['a', 'b', 'c', 'd'], 2, g.task);
    const outcome = done.then(
      () => 'resolved',
      (error: Error) => error.message,
    );
    await g.tick();
    g.release.get(0)!(new Error('first'));
    await g.tick();
    expect(g.started).toEqual([0, 1]); // no new start after the failure
    let settled = false;
    void outcome.then(() => {
      settled = true;
    });
    await g.tick();
    expect(settled).toBe(false); // still waiting for the running one
    g.release.get(1)!(new Error('second'));
    expect(await outcome).toBe('first');
  });

  it('stops starting when asked, and handles fewer items than jobs', async () => {
    let stop = false;
    const seen: number[] = [];
    await forEachConcurrently(
      [1, 2, 3],
      1,
      async (item) => {
        seen.push(item);
        stop = item === 2;
      },
      () => stop,
    );
    expect(seen).toEqual([1, 2]);
    const all: number[] = [];
    await forEachConcurrently([7], 4, async (item) => {
      all.push(item);
    });
    expect(all).toEqual([7]);
    await forEachConcurrently([], 3, async () => {
      throw new Error('never called');
    });
  });
});
