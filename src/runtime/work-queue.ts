/**
 * A keyed work queue with client-go's semantics (util/workqueue): a key is queued at most
 * once, a key is never handed to two workers at once, and failures back off per key.
 *
 * - `add` while the key is queued: merged. `add` while the key is being processed: the key
 *   is marked dirty and queued once more when `done` is called, so the newest state is
 *   always looked at again but never concurrently.
 * - `addRateLimited` re-adds after `base * 2^failures`, capped at `maxDelayMs`; `forget`
 *   resets the count once a pass succeeds.
 * - `addAfter` is the requeue-after path: one pending timer per key, the earliest wins.
 */
import type { Metrics } from '../observability/metrics.js';

/** controller-runtime's default per-item backoff starts at 5 ms. */
export const DEFAULT_BASE_DELAY_MS = 5;
/** The cap when the caller gives none; the manager passes config.controller.maxBackoff. */
export const DEFAULT_MAX_DELAY_MS = 5 * 60_000;

/** Timers as a dependency, so tests can drive delays without waiting on the wall clock. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending requeue must not keep a stopping process alive.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface WorkQueueOptions {
  /** The `name` label of the workqueue_* metrics (the controller's name). */
  name: string;
  baseDelayMs?: number;
  maxDelayMs?: number;
  metrics?: Pick<Metrics, 'queueDepth' | 'queueAdds' | 'queueRetries' | 'queueDuration'>;
  timers?: Timers;
}

interface Waiting {
  readyAt: number;
  handle: unknown;
}

export class WorkQueue {
  readonly name: string;
  private readonly queue: string[] = [];
  /** Keys that need processing: queued, or added again while processing. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly waiting = new Map<string, Waiting>();
  /**
   * When each dirty key was added, for workqueue_queue_duration_seconds. A delayed add counts
   * from when its timer fires: the delay was asked for, not spent waiting for a worker.
   */
  private readonly addedAt = new Map<string, number>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private drainWaiters: (() => void)[] = [];
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timers: Timers;
  private readonly metrics: WorkQueueOptions['metrics'];
  /** Monotonic time for readyAt comparisons; wall-clock jumps must not reorder timers. */
  private readonly now: () => number;

  constructor(opts: WorkQueueOptions, now: () => number = () => performance.now()) {
    this.name = opts.name;
    this.baseDelayMs = opts.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.maxDelayMs = opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.timers = opts.timers ?? realTimers;
    this.metrics = opts.metrics;
    this.now = now;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.metrics) {
      this.metrics.queueAdds.inc({ name: this.name });
      // As client-go: a key added while in flight waits from now, through the rest of that pass.
      this.addedAt.set(key, this.now());
    }
    // Re-queued by done(): handing it out now would run the key on two workers.
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Adds the key once `delayMs` has passed; a sooner pending add for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.now() + delayMs;
    const existing = this.waiting.get(key);
    if (existing) {
      if (existing.readyAt <= readyAt) return;
      this.timers.clearTimeout(existing.handle);
    }
    const handle = this.timers.setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, delayMs);
    this.waiting.set(key, { readyAt, handle });
  }

  /** Re-adds the key after its next backoff delay and returns that delay. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2^n overflows to Infinity long before it matters; the cap keeps it finite.
    const delay = Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
    this.metrics?.queueRetries.inc({ name: this.name });
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the key's backoff, after a pass that did not fail. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Keys waiting to be handed out (not those in flight nor those waiting on a timer). */
  len(): number {
    return this.queue.length;
  }

  /**
   * The workers start now (this replica became the leader): keys queued before count their wait
   * in workqueue_queue_duration_seconds from here. A standby's informers queue every change for
   * hours; that is not time a key waited for a worker, and it would fill the top bucket at every
   * failover.
   */
  startWaitClocks(): void {
    const now = this.now();
    for (const key of this.addedAt.keys()) this.addedAt.set(key, now);
  }

  /** Whether a key is queued or in flight (keys waiting on a timer do not count). */
  busy(): boolean {
    return this.queue.length > 0 || this.processing.size > 0;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * The next key, marked as processing until `done(key)`; undefined once the queue shuts
   * down, which is the signal for a worker to return.
   */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.startProcessing(key));
    return new Promise((resolve) => this.getters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
    if (this.processing.size === 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * Stops handing out keys (waiting workers get undefined), drops pending timers and
   * resolves once every key in flight is done. The caller bounds the wait.
   */
  shutDown(): Promise<void> {
    this.shuttingDown = true;
    for (const w of this.waiting.values()) this.timers.clearTimeout(w.handle);
    this.waiting.clear();
    for (const g of this.getters.splice(0)) g(undefined);
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private push(key: string): void {
    const getter = this.getters.shift();
    if (getter) {
      getter(this.startProcessing(key));
      return;
    }
    this.queue.push(key);
    this.setDepth();
  }

  private startProcessing(key: string): string {
    this.processing.add(key);
    this.dirty.delete(key);
    const addedAt = this.addedAt.get(key);
    if (addedAt !== undefined) {
      this.addedAt.delete(key);
      this.metrics?.queueDuration.observe({ name: this.name }, (this.now() - addedAt) / 1000);
    }
    this.setDepth();
    return key;
  }

  private setDepth(): void {
    this.metrics?.queueDepth.set({ name: this.name }, this.queue.length);
  }
}
