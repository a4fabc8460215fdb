import { afterEach, describe, expect, it } from '@jest/globals';
import { claimThenIncrement, inTurn } from '../../../src/stores/admission.js';
import { MemoryLimitStore, snapshotDelta, windowStart } from '../../../src/stores/memory.js';
import type { LimitStore, WindowCount } from '../../../src/stores/types.js';
import { FakeClock } from '../../../src/util/clock.js';
import { limitStoreContract } from '../../e2e/stores/contract.js';

const count = async (p: Promise<WindowCount>) => (await p).count;

function aStore() {
  const clock = new FakeClock(new Date('2026-01-01T00:00:00Z'));
  return { clock, store: new MemoryLimitStore({ clock }) };
}

describe('MemoryLimitStore claims', () => {
  it('gives a free key to the first caller and reports the holder to the others', async () => {
    const { store } = aStore();
    await expect(store.claim('k', 'a', 1000)).resolves.toEqual({ acquired: true, owner: 'a' });
    await expect(store.claim('k', 'b', 1000)).resolves.toEqual({ acquired: false, owner: 'a' });
  });

  it('reports the caller as holder when it claims again (a repeated notification)', async () => {
    const { store } = aStore();
    await store.claim('k', 'a', 1000);
    await expect(store.claim('k', 'a', 1000)).resolves.toEqual({ acquired: false, owner: 'a' });
  });

  it('frees the key when the ttl has passed, not before', async () => {
    const { clock, store } = aStore();
    await store.claim('k', 'a', 1000);
    clock.advance(999);
    await expect(store.claim('k', 'b', 1000)).resolves.toEqual({ acquired: false, owner: 'a' });
    clock.advance(1);
    await expect(store.claim('k', 'b', 1000)).resolves.toEqual({ acquired: true, owner: 'b' });
  });

  it('releases only for the owner', async () => {
    const { store } = aStore();
    await store.claim('k', 'a', 1000);
    await store.release('k', 'b');
    await expect(store.claim('k', 'b', 1000)).resolves.toEqual({ acquired: false, owner: 'a' });
    await store.release('k', 'a');
    await expect(store.claim('k', 'b', 1000)).resolves.toEqual({ acquired: true, owner: 'b' });
  });

  it('gives one winner among concurrent callers', async () => {
    const { store } = aStore();
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => store.claim('k', `o${i}`, 1000)));
    expect(results.filter((r) => r.acquired)).toHaveLength(1);
    expect(new Set(results.map((r) => r.owner)).size).toBe(1);
  });
});

describe('MemoryLimitStore counters', () => {
  it('counts within a fixed window and starts again in the next one', async () => {
    const { clock, store } = aStore();
    const ten = Date.UTC(2026, 0, 1, 10, 0, 0);
    clock.set(new Date(ten));
    await expect(store.increment('r', 3_600_000)).resolves.toEqual({ count: 1, windowStart: ten });
    clock.advance(3_599_999);
    await expect(store.increment('r', 3_600_000)).resolves.toEqual({ count: 2, windowStart: ten });
    clock.advance(1);
    await expect(store.increment('r', 3_600_000)).resolves.toEqual({
      count: 1,
      windowStart: ten + 3_600_000,
    });
  });

  it('keeps keys and window sizes apart', async () => {
    const { store } = aStore();
    await store.increment('a', 60_000);
    expect(await count(store.increment('a', 60_000))).toBe(2);
    expect(await count(store.increment('b', 60_000))).toBe(1);
    expect(await count(store.increment('a', 3_600_000))).toBe(1);
  });

  it('takes one back and never goes below zero', async () => {
    const { store } = aStore();
    await store.increment('r', 60_000);
    const { windowStart: w } = await store.increment('r', 60_000);
    await store.decrement('r', 60_000, w);
    expect(await count(store.increment('r', 60_000))).toBe(2);
    await store.decrement('x', 60_000, w);
    await store.decrement('r', 60_000, w);
    await store.decrement('r', 60_000, w);
    await store.decrement('r', 60_000, w);
    expect(await count(store.increment('r', 60_000))).toBe(1);
  });

  it('takes a decrement made after the boundary back from the window counted in, not the new one', async () => {
    const { clock, store } = aStore();
    const eleven = Date.UTC(2026, 0, 1, 11, 0, 0);
    clock.set(new Date(eleven - 1));
    const counted = await store.increment('r', 3_600_000);
    expect(counted).toEqual({ count: 1, windowStart: eleven - 3_600_000 });
    clock.advance(2);
    await store.increment('r', 3_600_000);
    await store.decrement('r', 3_600_000, counted.windowStart);
    expect(store.snapshot().counters).toEqual([
      { key: 'r', windowMs: 3_600_000, windowStart: eleven, count: 1 },
    ]);
    // The old window went down: a clock still inside it (a replica behind) counts from zero again.
    clock.set(new Date(eleven - 1));
    await expect(store.increment('r', 3_600_000)).resolves.toEqual({
      count: 1,
      windowStart: eleven - 3_600_000,
    });
  });

  it('does nothing for a window whose entry was swept, and does not bring it back', async () => {
    const { clock, store } = aStore();
    const { windowStart: w } = await store.increment('r', 60_000);
    clock.advance(120_000);
    await store.decrement('r', 60_000, w);
    expect(store.size()).toBe(0);
  });

  it('buckets windows on epoch multiples, as Redis and Postgres do', () => {
    expect(windowStart(3_600_000 * 5 + 17, 3_600_000)).toBe(3_600_000 * 5);
  });
});

describe('MemoryLimitStore memory bound', () => {
  it('sweeps expired entries as time passes, with no timer', async () => {
    const { clock, store } = aStore();
    for (let i = 0; i < 500; i++) {
      await store.claim(`k${i}`, 'a', 1000);
      await store.increment(`c${i}`, 1000);
    }
    expect(store.size()).toBe(1000);
    clock.advance(61_000);
    await store.claim('fresh', 'a', 1000);
    expect(store.size()).toBe(1);
  });

  it('stays bounded by the live set under a steady stream of short claims', async () => {
    const { clock, store } = aStore();
    let peak = 0;
    for (let i = 0; i < 50_000; i++) {
      await store.claim(`k${i}`, 'a', 100);
      clock.advance(1);
      peak = Math.max(peak, store.size());
    }
    // 100 live at any time; expired ones are swept once the map doubles past the floor.
    expect(peak).toBeLessThanOrEqual(2048);
  });
});

describe('MemoryLimitStore snapshots', () => {
  it('lists live claims with their remaining ttl and live counts', async () => {
    const { clock, store } = aStore();
    await store.claim('k', 'a', 1000);
    await store.claim('old', 'a', 10);
    await store.increment('r', 60_000);
    clock.advance(400);
    const snap = store.snapshot();
    expect(snap.claims).toEqual([{ key: 'k', owner: 'a', ttlMs: 600 }]);
    expect(snap.counters).toEqual([expect.objectContaining({ key: 'r', windowMs: 60_000, count: 1 })]);
  });

  it('gives the delta between two snapshots', async () => {
    const { store } = aStore();
    await store.claim('k1', 'a', 1000);
    await store.increment('r', 60_000);
    const before = store.snapshot();
    await store.claim('k2', 'a', 1000);
    await store.increment('r', 60_000);
    await store.increment('r', 60_000);
    const delta = snapshotDelta(before, store.snapshot());
    expect(delta.claims.map((c) => c.key)).toEqual(['k2']);
    expect(delta.counters).toEqual([expect.objectContaining({ key: 'r', count: 2 })]);
  });
});

describe('MemoryLimitStore, the contract of every store', () => {
  const opened: LimitStore[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  limitStoreContract((clock) => new MemoryLimitStore({ clock }), opened);
});

describe('inTurn (claimAndIncrementMany of the memory store)', () => {
  it('all or nothing: when one fails, the others give back what they took', async () => {
    const { store } = aStore();
    const failing = {
      claimAndIncrement: (r: Parameters<LimitStore['claimAndIncrement']>[0]) =>
        r.cooldown?.key === 'bad'
          ? Promise.reject(new Error('Connection is closed.'))
          : store.claimAndIncrement(r),
      release: store.release.bind(store),
      decrement: store.decrement.bind(store),
    };
    const req = (key: string) => ({
      cooldown: { key, owner: 'a', ttlMs: 60_000 },
      rate: { key: 'r', windowMs: 60_000 },
    });
    await expect(inTurn(failing, [req('k1'), req('k2'), req('bad'), req('k3')])).rejects.toThrow(
      'Connection is closed.',
    );
    await expect(store.claim('k1', 'b', 1000)).resolves.toEqual({ acquired: true, owner: 'b' });
    await expect(store.claim('k2', 'b', 1000)).resolves.toEqual({ acquired: true, owner: 'b' });
    await expect(store.claim('k3', 'b', 1000)).resolves.toEqual({ acquired: true, owner: 'b' });
    await expect(store.increment('r', 60_000)).resolves.toMatchObject({ count: 1 });
  });
});

describe('claimThenIncrement (claimAndIncrement of the memory store)', () => {
  it('gives the claim back when the count fails, and passes the count error on', async () => {
    const { store } = aStore();
    const failing = {
      claim: store.claim.bind(store),
      release: store.release.bind(store),
      increment: () => Promise.reject(new Error('Connection is closed.')),
    };
    await expect(
      claimThenIncrement(failing, {
        cooldown: { key: 'k', owner: 'a', ttlMs: 1000 },
        rate: { key: 'r', windowMs: 60_000 },
      }),
    ).rejects.toThrow('Connection is closed.');
    await expect(store.claim('k', 'b', 1000)).resolves.toEqual({ acquired: true, owner: 'b' });
  });

  it('leaves a claim it did not take alone when the count fails', async () => {
    const { store } = aStore();
    await store.claim('k', 'a', 1000);
    const failing = {
      claim: store.claim.bind(store),
      release: store.release.bind(store),
      increment: () => Promise.reject(new Error('down')),
    };
    // Held by itself (a repeat): nothing is counted, so nothing fails and nothing is released.
    await expect(
      claimThenIncrement(failing, {
        cooldown: { key: 'k', owner: 'a', ttlMs: 1000 },
        rate: { key: 'r', windowMs: 60_000 },
      }),
    ).resolves.toEqual({ claim: { acquired: false, owner: 'a' } });
    await expect(store.claim('k', 'b', 1000)).resolves.toEqual({ acquired: false, owner: 'a' });
  });
});
