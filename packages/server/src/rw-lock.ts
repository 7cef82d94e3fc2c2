/**
 * A first-come-first-served readers–writer lock for async work: readers run together, a writer
 * alone, and a writer that is waiting holds back the readers that arrive after it, so writes are
 * applied in the order they were asked for and never starve. A reader never sees a write half
 * applied, and every reader that starts after a write finished sees it.
 * @example await lock.read(() => index.search(q)); await lock.write(() => commitAndApply(batch));
 */
export class ReadWriteLock {
  private readers = 0;
  private writing = false;
  private readonly queue: { write: boolean; start: () => void }[] = [];

  /** Runs `task` once no write is running or waiting ahead of it. */
  read<T>(task: () => T | Promise<T>): Promise<T> {
    return this.run(false, task);
  }

  /** Runs `task` alone, after every task that asked before it. */
  write<T>(task: () => T | Promise<T>): Promise<T> {
    return this.run(true, task);
  }

  private async run<T>(write: boolean, task: () => T | Promise<T>): Promise<T> {
    if (!this.admit(write)) {
      await new Promise<void>((start) => this.queue.push({ write, start }));
    }
    try {
      return await task();
    } finally {
      if (write) this.writing = false;
      else this.readers--;
      this.next();
    }
  }

  /** Takes the lock at once when nothing is queued and it is free for this kind; else false. */
  private admit(write: boolean): boolean {
    if (this.queue.length > 0 || this.writing || (write && this.readers > 0)) return false;
    if (write) this.writing = true;
    else this.readers++;
    return true;
  }

  private next(): void {
    while (this.queue.length > 0 && !this.writing) {
      const head = this.queue[0]!;
      if (head.write) {
        if (this.readers > 0) return;
        this.writing = true;
      } else {
        this.readers++;
      }
      this.queue.shift();
      head.start();
    }
  }
}
