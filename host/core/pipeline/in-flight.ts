/**
 * Coalescing: one outside query per key at a time. A cache miss that finds its key in flight
 * waits for that answer instead of asking again.
 */

import type { Counter } from '../metrics.js';

export class InFlight {
  private readonly jobs = new Map<string, Promise<unknown>>();

  constructor(private readonly coalesced: Counter) {}

  /** The job running under `key` (counted as coalesced), or a new one from `start`, kept until it settles. */
  join<T = Uint8Array>(key: string, start: () => Promise<T>): Promise<T> {
    const running = this.jobs.get(key) as Promise<T> | undefined;
    if (running) {
      this.coalesced.inc();
      return running;
    }
    const job = start();
    this.jobs.set(key, job);
    const done = () => this.jobs.delete(key);
    job.then(done, done);
    return job;
  }
}
