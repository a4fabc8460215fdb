/**
 * FallbackStore against a scripted backend: the switching logic in isolation. The same
 * behaviour against real, killed Redis and Postgres servers is in test/e2e/stores.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import type { BackendStore } from '../../../src/stores/backend.js';
import { FallbackStore } from '../../../src/stores/fallback.js';
import { MemoryLimitStore, type LimitSnapshot } from '../../../src/stores/memory.js';
import type { AdmissionRequest } from '../../../src/stores/types.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { FakeClock, type Clock } from '../../../src/util/clock.js';
import { capturingLogger, metricValue } from './helpers.js';

/** A backend that serves from memory while `up`, and fails like a dropped connection otherwise. */
class ScriptedBackend implements BackendStore {
  readonly kind = 'redis' as const;
  up = true;
  ready = true;
  calls = 0;
  absorbed: LimitSnapshot[] = [];
  readonly inner: MemoryLimitStore;

  constructor(clock?: Clock) {
    this.inner = new MemoryLimitStore({ clock });
  }

  isReady(): boolean {
    return this.ready;
  }
  ping(): Promise<void> {
    return this.up ? Promise.resolve() : Promise.reject(new Error('connect ECONNREFUSED'));
  }
  async absorb(s: LimitSnapshot): Promise<void> {
    await this.ping();
    this.absorbed.push(s);
    for (const c of s.claims) await this.inner.claim(c.key, c.owner, c.ttlMs);
    // Counts land in the current window (the tests that check them use a clock that stands still).
    for (const c of s.counters)
      for (let i = 0; i < c.count; i++) await this.inner.increment(c.key, c.windowMs);
  }
  private guard(): void {
    this.calls++;
    if (!this.up) throw new Error('Connection is closed.');
  }
  async claim(key: string, owner: string, ttlMs: number) {
    this.guard();
    return this.inner.claim(key, owner, ttlMs);
  }
  async release(key: string, owner: string) {
    this.guard();
    return this.inner.release(key, owner);
  }
  async increment(key: string, windowMs: number) {
    this.guard();
    return this.inner.increment(key, windowMs);
  }
  async decrement(key: string, windowMs: number, windowStart: number) {
    this.guard();
    return this.inner.decrement(key, windowMs, windowStart);
  }
  async claimAndIncrement(request: AdmissionRequest) {
    this.guard();
    return this.inner.claimAndIncrement(request);
  }
  async claimAndIncrementMany(requests: readonly AdmissionRequest[]) {
    this.guard();
    return this.inner.claimAndIncrementMany(requests);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const stores: FallbackStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

function setup(clock?: Clock) {
  const backend = new ScriptedBackend(clock);
  const log = capturingLogger();
  const metrics = createMetrics({ defaultMetrics: false });
  const store = new FallbackStore(backend, {
    logger: log.logger,
    metrics,
    probeIntervalMs: 3_600_000,
    clock,
  });
  stores.push(store);
  const gauge = () => metricValue(metrics, 'kube_remediator_store_fallback', { store: 'redis' });
  return { backend, log, store, gauge };
}

describe('FallbackStore', () => {
  it('uses the real store while it answers', async () => {
    const { backend, store, gauge } = setup();
    await expect(store.claim('k', 'a', 1000)).resolves.toEqual({ acquired: true, owner: 'a' });
    expect(backend.calls).toBe(1);
    expect(store.inFallback).toBe(false);
    expect(await gauge()).toBe(0);
  });

  it('answers from memory on the first failed call, logging and flagging it once', async () => {
    const { backend, store, log, gauge } = setup();
    backend.up = false;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.claim('k', `o${i}`, 1000)));
    expect(results.filter((r) => r.acquired)).toHaveLength(1);
    await expect(store.increment('r', 60_000)).resolves.toMatchObject({ count: 1 });
    expect(store.inFallback).toBe(true);
    expect(await gauge()).toBe(1);
    const entering = log.entries.filter((e) => e.message === 'entering fallback mode');
    expect(entering).toHaveLength(1);
    expect(entering[0]).toMatchObject({ level: 'warn', store: 'redis', error: 'Connection is closed.' });
  });

  it('answers claimAndIncrement from the real store while it answers, and wholly from memory once it fails', async () => {
    const { backend, store } = setup();
    const request = {
      cooldown: { key: 'k', owner: 'a', ttlMs: 60_000 },
      rate: { key: 'r', windowMs: 60_000 },
    };
    await expect(store.claimAndIncrement(request)).resolves.toEqual({
      claim: { acquired: true, owner: 'a' },
      count: 1,
      windowStart: expect.any(Number),
    });
    expect(backend.calls).toBe(1);
    backend.up = false;
    // Memory starts empty: the claim is free there and the count starts again.
    await expect(
      store.claimAndIncrement({ ...request, cooldown: { ...request.cooldown, owner: 'b' } }),
    ).resolves.toEqual({
      claim: { acquired: true, owner: 'b' },
      count: 1,
      windowStart: expect.any(Number),
    });
    expect(store.inFallback).toBe(true);
    await expect(store.claimAndIncrement(request)).resolves.toEqual({
      claim: { acquired: false, owner: 'b' },
    });
  });

  it('takes a decrement made after the boundary back from the window counted in, on the real store and in memory', async () => {
    const hour = 3_600_000;
    const eleven = Date.UTC(2026, 0, 1, 11, 0, 0);
    const clock = new FakeClock(new Date(eleven - 10));
    const { backend, store } = setup(clock);
    const counted = await store.increment('r', hour);
    clock.advance(20);
    await store.increment('r', hour);
    await store.decrement('r', hour, counted.windowStart);
    expect(backend.inner.snapshot().counters).toEqual([
      expect.objectContaining({ windowStart: eleven, count: 1 }),
    ]);

    backend.up = false;
    clock.set(new Date(eleven + hour - 10));
    const inMemory = await store.increment('r', hour);
    expect(store.inFallback).toBe(true);
    clock.advance(20);
    await store.increment('r', hour);
    await store.decrement('r', hour, inMemory.windowStart);
    await expect(store.increment('r', hour)).resolves.toEqual({ count: 2, windowStart: eleven + hour });
  });

  it('does not even try the real store when its client is known to be disconnected', async () => {
    const { backend, store } = setup();
    backend.ready = false;
    await store.increment('r', 60_000);
    expect(backend.calls).toBe(0);
    expect(store.inFallback).toBe(true);
  });

  it('stays in fallback while the probe fails and returns when it succeeds', async () => {
    const { backend, store, log, gauge } = setup();
    backend.up = false;
    await store.claim('k', 'a', 60_000);
    await store.probe();
    expect(store.inFallback).toBe(true);
    backend.up = true;
    await store.probe();
    expect(store.inFallback).toBe(false);
    expect(await gauge()).toBe(0);
    expect(log.messages()).toContain('leaving fallback mode');
    // The claim granted during the outage was carried over, so it still holds.
    await expect(store.claim('k', 'b', 60_000)).resolves.toEqual({ acquired: false, owner: 'a' });
  });

  it('carries over what memory gave back while the first carry-over ran (helper-16)', async () => {
    const { backend, store } = setup(new FakeClock(new Date(Date.UTC(2026, 0, 1, 12))));
    backend.up = false;
    const rate = { key: 'r', windowMs: 3_600_000 };
    const taken = await store.claimAndIncrement({ cooldown: { key: 'k', owner: 'a', ttlMs: 600_000 }, rate });
    // The first carry-over is slow; meanwhile the alert's create fails and it gives back what it took.
    let finishFirst!: () => void;
    const gate = new Promise<void>((r) => (finishFirst = r));
    const absorb = backend.absorb.bind(backend);
    backend.absorb = async (snap) => {
      if (backend.absorbed.length === 0) await gate;
      await absorb(snap);
    };
    backend.up = true;
    const probing = store.probe();
    await new Promise((r) => setImmediate(r));
    await store.release('k', 'a');
    await store.decrement(rate.key, rate.windowMs, taken.windowStart!);
    finishFirst();
    await probing;
    expect(store.inFallback).toBe(false);
    // On the real store now: the cooldown is free again, and the count is back to zero.
    await expect(store.claim('k', 'b', 60_000)).resolves.toEqual({ acquired: true, owner: 'b' });
    await expect(backend.inner.increment(rate.key, rate.windowMs)).resolves.toMatchObject({ count: 1 });
  });

  it('starts in fallback when the store is down at start', async () => {
    const { backend, store } = setup();
    backend.up = false;
    await store.start();
    expect(store.inFallback).toBe(true);
  });

  it('probes on its own every probeInterval', async () => {
    const backend = new ScriptedBackend();
    const log = capturingLogger();
    const store = new FallbackStore(backend, { logger: log.logger, probeIntervalMs: 20 });
    stores.push(store);
    backend.up = false;
    await store.increment('r', 60_000);
    backend.up = true;
    const deadline = Date.now() + 5000;
    while (store.inFallback && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(store.inFallback).toBe(false);
  });
});
