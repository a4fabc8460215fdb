/**
 * The per-process LimitStore: the embedded default, and the stand-in while Redis or Postgres
 * is unreachable. Expiry is checked against the clock on every read instead of with timers,
 * so nothing keeps the event loop alive and a fake clock drives it completely in tests.
 */
import { systemClock, type Clock } from '../util/clock.js';
import { claimThenIncrement, inTurn } from './admission.js';
import type { AdmissionRequest, AdmissionResult, LimitStore, WindowCount } from './types.js';

/** How often at most a sweep of expired entries runs, counted on the store's clock. */
const SWEEP_INTERVAL_MS = 60_000;
/** Below this many entries a sweep is not worth its cost. */
const MIN_SWEEP_SIZE = 1024;

interface Entry<T> {
  value: T;
  expiresAt: number;
}

/** A live claim, as handed to a real store when it comes back (see FallbackStore). */
export interface ClaimSnapshot {
  key: string;
  owner: string;
  ttlMs: number;
}

/** A counter of one window, as handed to a real store when it comes back. */
export interface CounterSnapshot {
  key: string;
  windowMs: number;
  /** Start of the window (ms since the epoch) the count belongs to. */
  windowStart: number;
  count: number;
}

export interface LimitSnapshot {
  claims: ClaimSnapshot[];
  counters: CounterSnapshot[];
}

export interface MemoryLimitStoreOptions {
  clock?: Clock;
}

/** The window a fixed-window counter falls in: every store buckets the same way. */
export function windowStart(nowMs: number, windowMs: number): number {
  return Math.floor(nowMs / windowMs) * windowMs;
}

export class MemoryLimitStore implements LimitStore {
  readonly kind = 'memory' as const;
  private readonly clock: Clock;
  private readonly claims = new Map<string, Entry<string>>();
  private readonly counters = new Map<string, Entry<CounterSnapshot>>();
  private lastSweep: number;
  /** Grows with the live set so a store full of live entries is not swept on every call. */
  private nextSweepSize = MIN_SWEEP_SIZE;

  constructor(opts: MemoryLimitStoreOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.lastSweep = this.clock.now().getTime();
  }

  claim(key: string, owner: string, ttlMs: number): Promise<{ acquired: boolean; owner: string }> {
    const now = this.tick();
    const held = this.claims.get(key);
    if (held && held.expiresAt > now) return Promise.resolve({ acquired: false, owner: held.value });
    this.claims.set(key, { value: owner, expiresAt: now + ttlMs });
    return Promise.resolve({ acquired: true, owner });
  }

  release(key: string, owner: string): Promise<void> {
    if (this.claims.get(key)?.value === owner) this.claims.delete(key);
    return Promise.resolve();
  }

  increment(key: string, windowMs: number): Promise<WindowCount> {
    const now = this.tick();
    const start = windowStart(now, windowMs);
    const entry = this.counterOf(key, windowMs, start, now);
    if (entry) {
      entry.value.count += 1;
      return Promise.resolve({ count: entry.value.count, windowStart: start });
    }
    this.counters.set(counterKey(key, windowMs, start), {
      value: { key, windowMs, windowStart: start, count: 1 },
      expiresAt: start + windowMs,
    });
    return Promise.resolve({ count: 1, windowStart: start });
  }

  /** Reaches the window's entry until a sweep drops it, past its end too, as Redis and Postgres do. */
  decrement(key: string, windowMs: number, start: number): Promise<void> {
    this.tick();
    const entry = this.counters.get(counterKey(key, windowMs, start));
    if (entry && entry.value.count > 0) entry.value.count -= 1;
    return Promise.resolve();
  }

  /** Both calls answer synchronously, so nothing can come between them. */
  claimAndIncrement(request: AdmissionRequest): Promise<AdmissionResult> {
    return claimThenIncrement(this, request);
  }

  claimAndIncrementMany(requests: readonly AdmissionRequest[]): Promise<AdmissionResult[]> {
    return inTurn(this, requests);
  }

  close(): Promise<void> {
    this.claims.clear();
    this.counters.clear();
    return Promise.resolve();
  }

  /** Live entries only; used to carry fallback-time claims and counts back to the real store. */
  snapshot(): LimitSnapshot {
    const now = this.clock.now().getTime();
    const claims: ClaimSnapshot[] = [];
    for (const [key, e] of this.claims) {
      if (e.expiresAt > now) claims.push({ key, owner: e.value, ttlMs: e.expiresAt - now });
    }
    const counters: CounterSnapshot[] = [];
    for (const e of this.counters.values()) {
      if (e.expiresAt > now && e.value.count > 0) counters.push({ ...e.value });
    }
    return { claims, counters };
  }

  /** Number of entries held, expired or not (for tests of the memory bound). */
  size(): number {
    return this.claims.size + this.counters.size;
  }

  /** The live counter of the window that starts at `start`, if any. */
  private counterOf(
    key: string,
    windowMs: number,
    start: number,
    now: number,
  ): Entry<CounterSnapshot> | undefined {
    const entry = this.counters.get(counterKey(key, windowMs, start));
    return entry && entry.expiresAt > now ? entry : undefined;
  }

  /** Returns now, sweeping first when enough time passed or the maps grew enough since the last sweep. */
  private tick(): number {
    const now = this.clock.now().getTime();
    if (now - this.lastSweep >= SWEEP_INTERVAL_MS || this.size() >= this.nextSweepSize) this.sweep(now);
    return now;
  }

  private sweep(now: number): void {
    for (const [k, e] of this.claims) if (e.expiresAt <= now) this.claims.delete(k);
    for (const [k, e] of this.counters) if (e.expiresAt <= now) this.counters.delete(k);
    this.lastSweep = now;
    this.nextSweepSize = Math.max(MIN_SWEEP_SIZE, this.size() * 2);
  }
}

function counterKey(key: string, windowMs: number, start: number): string {
  return `${key}\u0000${windowMs}\u0000${start}`;
}

/** What `after` holds beyond `before`: new claims, and counts that grew since. */
export function snapshotDelta(before: LimitSnapshot, after: LimitSnapshot): LimitSnapshot {
  const claimed = new Set(before.claims.map((c) => `${c.key}\u0000${c.owner}`));
  const counted = new Map(
    before.counters.map((c) => [counterKey(c.key, c.windowMs, c.windowStart), c.count]),
  );
  return {
    claims: after.claims.filter((c) => !claimed.has(`${c.key}\u0000${c.owner}`)),
    counters: after.counters
      .map((c) => ({
        ...c,
        count: c.count - (counted.get(counterKey(c.key, c.windowMs, c.windowStart)) ?? 0),
      }))
      .filter((c) => c.count > 0),
  };
}

/**
 * What was given back between two snapshots of one store: claims of `before` no longer in
 * `after` (released, or expired, which giving back again does no harm to) and counts taken
 * back (`count`: how many). The other half of `snapshotDelta()`, which carries only gains.
 */
export function snapshotGivenBack(
  before: LimitSnapshot,
  after: LimitSnapshot,
): { claims: { key: string; owner: string }[]; counters: CounterSnapshot[] } {
  const held = new Set(after.claims.map((c) => `${c.key}\u0000${c.owner}`));
  const counted = new Map(after.counters.map((c) => [counterKey(c.key, c.windowMs, c.windowStart), c.count]));
  return {
    claims: before.claims
      .filter((c) => !held.has(`${c.key}\u0000${c.owner}`))
      .map(({ key, owner }) => ({ key, owner })),
    counters: before.counters
      .map((c) => ({
        ...c,
        count: c.count - (counted.get(counterKey(c.key, c.windowMs, c.windowStart)) ?? 0),
      }))
      .filter((c) => c.count > 0),
  };
}
