/**
 * Wraps a shared store (Redis or Postgres) so that no call ever fails because its server is
 * down: the first failed call switches at once to an in-memory store, and a probe switches
 * back when the server answers again (the pattern of the Redis outage runbook).
 *
 * Any error of the real store switches, not only connection errors: a caller that got an
 * error here would answer Alertmanager with a 5xx and be retried into the same error, while
 * memory still gives a per-replica answer. The log line carries the error for the rare case
 * where the server is up and the fault is elsewhere.
 */
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { systemClock, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import type { BackendStore } from './backend.js';
import { MemoryLimitStore, snapshotDelta, snapshotGivenBack, type LimitSnapshot } from './memory.js';
import type { AdmissionRequest, AdmissionResult, LimitStore, WindowCount } from './types.js';

export interface FallbackStoreOptions {
  logger: Logger;
  metrics?: Pick<Metrics, 'storeFallback'>;
  /** While in fallback, how often to ask the real store whether it is back. */
  probeIntervalMs: number;
  clock?: Clock;
}

export class FallbackStore implements LimitStore {
  private memory: MemoryLimitStore | undefined;
  private since = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;

  constructor(
    private readonly real: BackendStore,
    private readonly opts: FallbackStoreOptions,
  ) {
    opts.metrics?.storeFallback.set({ store: real.kind }, 0);
  }

  get kind(): 'redis' | 'postgres' {
    return this.real.kind;
  }

  /** True while memory serves instead of the real store. */
  get inFallback(): boolean {
    return this.memory !== undefined;
  }

  /** Checks the server once, so a store that is down at start begins in fallback instead of failing a first call. */
  async start(): Promise<this> {
    try {
      await this.real.ping();
    } catch (err) {
      this.enterFallback(err);
    }
    return this;
  }

  claim(key: string, owner: string, ttlMs: number): Promise<{ acquired: boolean; owner: string }> {
    return this.run((s) => s.claim(key, owner, ttlMs));
  }

  release(key: string, owner: string): Promise<void> {
    return this.run((s) => s.release(key, owner));
  }

  increment(key: string, windowMs: number): Promise<WindowCount> {
    return this.run((s) => s.increment(key, windowMs));
  }

  /**
   * Goes to whichever store serves now. A count taken in memory during an outage reaches the
   * real store (absorb) under the same window start, so the decrement still finds it there.
   */
  decrement(key: string, windowMs: number, windowStart: number): Promise<void> {
    return this.run((s) => s.decrement(key, windowMs, windowStart));
  }

  /** One call to one store: when the real one fails, memory answers the whole of it. */
  claimAndIncrement(request: AdmissionRequest): Promise<AdmissionResult> {
    return this.run((s) => s.claimAndIncrement(request));
  }

  claimAndIncrementMany(requests: readonly AdmissionRequest[]): Promise<AdmissionResult[]> {
    return this.run((s) => s.claimAndIncrementMany(requests));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.probeTimer);
    await this.memory?.close();
    await this.real
      .close()
      .catch((err: unknown) =>
        this.opts.logger.debug('store close failed', { store: this.kind, error: errorMessage(err) }),
      );
  }

  /** Runs one probe now (tests use it instead of waiting for the interval). */
  async probe(): Promise<void> {
    const memory = this.memory;
    if (this.probing || !memory || this.closed) return;
    this.probing = true;
    try {
      await this.real.ping();
      // Carry over what memory granted during the outage, then switch, then carry over what
      // was granted while the first carry-over ran. Memory answers synchronously, so once
      // `this.memory` is cleared nothing more lands in it.
      const first = memory.snapshot();
      await this.real.absorb(first);
      this.memory = undefined;
      clearInterval(this.probeTimer);
      this.probeTimer = undefined;
      this.opts.metrics?.storeFallback.set({ store: this.kind }, 0);
      this.opts.logger.info('leaving fallback mode', {
        store: this.kind,
        fallbackMs: this.now() - this.since,
      });
      const second = memory.snapshot();
      await this.carryOver(first, second).catch((err: unknown) => {
        this.opts.logger.warn('store carry-over failed', { store: this.kind, error: errorMessage(err) });
      });
      await memory.close();
    } catch (err) {
      this.opts.logger.debug('store still unreachable', { store: this.kind, error: errorMessage(err) });
    } finally {
      this.probing = false;
    }
  }

  /**
   * What memory did while the first carry-over ran: the claims and counts it granted, and the
   * ones it gave back (an alert whose create failed releases its claim and takes its count
   * back). Without the give-backs, the claim carried over first would hold its cooldown on the
   * real store until its ttl, and the count would stay one too high.
   */
  private async carryOver(first: LimitSnapshot, second: LimitSnapshot): Promise<void> {
    await this.real.absorb(snapshotDelta(first, second));
    const back = snapshotGivenBack(first, second);
    for (const c of back.claims) await this.real.release(c.key, c.owner);
    for (const c of back.counters)
      for (let i = 0; i < c.count; i++) await this.real.decrement(c.key, c.windowMs, c.windowStart);
  }

  private async run<T>(op: (s: LimitStore) => Promise<T>): Promise<T> {
    if (this.memory) return op(this.memory);
    if (!this.real.isReady())
      return op(this.enterFallback(new Error(`${this.kind} client is not connected`)));
    try {
      return await op(this.real);
    } catch (err) {
      // The real call may or may not have landed; memory is per replica anyway, and a count
      // one too high only errs towards remediating less.
      return op(this.enterFallback(err));
    }
  }

  private enterFallback(err: unknown): MemoryLimitStore {
    // Concurrent failures all land here; only the first switches, logs and starts the probe.
    if (this.memory) return this.memory;
    const memory = new MemoryLimitStore({ clock: this.opts.clock ?? systemClock });
    this.memory = memory;
    this.since = this.now();
    this.opts.metrics?.storeFallback.set({ store: this.kind }, 1);
    this.opts.logger.warn('entering fallback mode', { store: this.kind, error: errorMessage(err) });
    if (!this.closed) {
      this.probeTimer = setInterval(() => void this.probe(), this.opts.probeIntervalMs);
      // The probe only matters while something else keeps the process running.
      this.probeTimer.unref();
    }
    return memory;
  }

  private now(): number {
    return (this.opts.clock ?? systemClock).now().getTime();
  }
}
