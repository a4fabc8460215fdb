/**
 * The LimitStore contract, run against each real store (shared servers, unique keys per run)
 * and against the memory store (test/unit/stores/memory.test.ts).
 */
import { describe, expect, it } from '@jest/globals';
import type { LimitStore, WindowCount } from '../../../src/stores/types.js';
import { FakeClock, type Clock } from '../../../src/util/clock.js';

export type StoreFactory = (clock?: Clock) => LimitStore;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = async (p: Promise<WindowCount>) => (await p).count;
const HOUR = 3_600_000;

export function limitStoreContract(make: StoreFactory, opened: LimitStore[]): void {
  const store = (clock?: Clock) => {
    const s = make(clock);
    opened.push(s);
    return s;
  };

  it('claims a free key once and reports the holder to others and to itself', async () => {
    const s = store();
    await expect(s.claim('c1', 'a', 60_000)).resolves.toEqual({ acquired: true, owner: 'a' });
    await expect(s.claim('c1', 'b', 60_000)).resolves.toEqual({ acquired: false, owner: 'a' });
    await expect(s.claim('c1', 'a', 60_000)).resolves.toEqual({ acquired: false, owner: 'a' });
  });

  it('gives exactly one winner among 100 concurrent claims', async () => {
    const s = store();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => s.claim('race', `o${i}`, 60_000)),
    );
    const winners = results.filter((r) => r.acquired);
    expect(winners).toHaveLength(1);
    expect(results.every((r) => r.owner === winners[0]!.owner)).toBe(true);
  });

  it('frees a claim after its ttl', async () => {
    const s = store();
    await s.claim('ttl', 'a', 200);
    await sleep(350);
    await expect(s.claim('ttl', 'b', 60_000)).resolves.toEqual({ acquired: true, owner: 'b' });
  });

  it('releases only for the owner', async () => {
    const s = store();
    await s.claim('rel', 'a', 60_000);
    await s.release('rel', 'b');
    await expect(s.claim('rel', 'b', 60_000)).resolves.toMatchObject({ acquired: false });
    await s.release('rel', 'a');
    await expect(s.claim('rel', 'b', 60_000)).resolves.toEqual({ acquired: true, owner: 'b' });
  });

  it('counts in fixed windows, decrements, and never loses a concurrent increment', async () => {
    const clock = new FakeClock(new Date(Date.UTC(2026, 0, 1, 10, 0, 0)));
    const s = store(clock);
    const ten = clock.now().getTime();
    const counts = await Promise.all(Array.from({ length: 50 }, () => s.increment('n', 3_600_000)));
    expect(counts.map((c) => c.count).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    expect(counts.every((c) => c.windowStart === ten)).toBe(true);
    await s.decrement('n', 3_600_000, ten);
    await expect(s.increment('n', 3_600_000)).resolves.toEqual({ count: 50, windowStart: ten });
    expect(await count(s.increment('other', 3_600_000))).toBe(1);
    expect(await count(s.increment('n', 60_000))).toBe(1);
    clock.advance(3_600_000);
    await expect(s.increment('n', 3_600_000)).resolves.toEqual({ count: 1, windowStart: ten + 3_600_000 });
  });

  it('takes a decrement back from the window the increment counted in, even after its end', async () => {
    const clock = new FakeClock(new Date(Date.UTC(2026, 0, 1, 15, 59, 59, 900)));
    const s = store(clock);
    const old = Date.UTC(2026, 0, 1, 15, 0, 0);
    await s.increment('b', HOUR);
    const { count: before, windowStart: counted } = await s.increment('b', HOUR);
    expect([before, counted]).toEqual([2, old]);
    clock.advance(200);
    expect(await count(s.increment('b', HOUR))).toBe(1);
    // The undo of the increment made before the boundary, run after it.
    await s.decrement('b', HOUR, counted);
    // The new window keeps its count...
    expect(await count(s.increment('b', HOUR))).toBe(2);
    // ...and the old one lost the one taken back, as a replica whose clock is behind sees it.
    clock.set(new Date(old + HOUR - 1));
    expect(await count(s.increment('b', HOUR))).toBe(2);
  });

  describe('claimAndIncrement', () => {
    const both = (s: LimitStore, key: string, owner: string, rateKey: string) =>
      s.claimAndIncrement({
        cooldown: { key, owner, ttlMs: 60_000 },
        rate: { key: rateKey, windowMs: HOUR },
      });

    it('claims then counts, and counts nothing when the claim is held by another or by itself', async () => {
      const noon = Date.UTC(2026, 0, 1, 12, 0, 0);
      const clock = new FakeClock(new Date(noon));
      const s = store(clock);
      await expect(both(s, 'g1', 'a', 'gr')).resolves.toEqual({
        claim: { acquired: true, owner: 'a' },
        count: 1,
        windowStart: noon,
      });
      await expect(both(s, 'g1', 'b', 'gr')).resolves.toEqual({ claim: { acquired: false, owner: 'a' } });
      await expect(both(s, 'g1', 'a', 'gr')).resolves.toEqual({ claim: { acquired: false, owner: 'a' } });
      await expect(both(s, 'g2', 'a', 'gr')).resolves.toEqual({
        claim: { acquired: true, owner: 'a' },
        count: 2,
        windowStart: noon,
      });
      // The same claims and counters as claim() and increment().
      await expect(s.claim('g1', 'c', 60_000)).resolves.toEqual({ acquired: false, owner: 'a' });
      await expect(s.increment('gr', HOUR)).resolves.toEqual({ count: 3, windowStart: noon });
      await s.claim('g3', 'd', 60_000);
      await expect(both(s, 'g3', 'a', 'gr')).resolves.toEqual({ claim: { acquired: false, owner: 'd' } });
      clock.advance(HOUR);
      await expect(both(s, 'g4', 'a', 'gr')).resolves.toEqual({
        claim: { acquired: true, owner: 'a' },
        count: 1,
        windowStart: noon + HOUR,
      });
    });

    it('does one of the two alone when only one is asked, and nothing when neither is', async () => {
      const one = Date.UTC(2026, 0, 1, 13, 0, 0);
      const clock = new FakeClock(new Date(one + 1234));
      const s = store(clock);
      await expect(s.claimAndIncrement({ rate: { key: 'or', windowMs: HOUR } })).resolves.toEqual({
        count: 1,
        windowStart: one,
      });
      await expect(s.claimAndIncrement({ rate: { key: 'or', windowMs: HOUR } })).resolves.toEqual({
        count: 2,
        windowStart: one,
      });
      await expect(
        s.claimAndIncrement({ cooldown: { key: 'oc', owner: 'a', ttlMs: 60_000 } }),
      ).resolves.toEqual({ claim: { acquired: true, owner: 'a' } });
      await expect(
        s.claimAndIncrement({ cooldown: { key: 'oc', owner: 'b', ttlMs: 60_000 } }),
      ).resolves.toEqual({ claim: { acquired: false, owner: 'a' } });
      await expect(s.claimAndIncrement({})).resolves.toEqual({});
      expect(await count(s.increment('or', HOUR))).toBe(3);
    });

    it('takes over an expired claim and counts it', async () => {
      const s = store();
      await s.claim('gx', 'a', 200);
      await sleep(350);
      await expect(both(s, 'gx', 'b', 'gxr')).resolves.toEqual({
        claim: { acquired: true, owner: 'b' },
        count: 1,
        windowStart: expect.any(Number),
      });
    });

    it('gives one winner among 100 concurrent calls, and counts only the winner', async () => {
      const s = store();
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => both(s, 'grace', `o${i}`, 'grace-r')),
      );
      const winners = results.filter((r) => r.claim?.acquired);
      expect(winners).toHaveLength(1);
      expect(winners[0]!.count).toBe(1);
      expect(results.filter((r) => r.count !== undefined)).toHaveLength(1);
      expect(results.every((r) => r.claim?.owner === winners[0]!.claim!.owner)).toBe(true);
      expect(await count(s.increment('grace-r', HOUR))).toBe(2);
    });

    it('never loses a concurrent count', async () => {
      const s = store();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => both(s, `gn${i}`, 'o', 'gn-r')));
      expect(results.every((r) => r.claim?.acquired)).toBe(true);
      expect(results.map((r) => r.count!).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
    });

    it('leaves the store as it was once the caller gives back what it took (limit exceeded, create failed)', async () => {
      const two = Date.UTC(2026, 0, 1, 14, 0, 0);
      const clock = new FakeClock(new Date(two));
      const s = store(clock);
      await both(s, 'gb0', 'x', 'gbr');
      await expect(both(s, 'gb', 'a', 'gbr')).resolves.toEqual({
        claim: { acquired: true, owner: 'a' },
        count: 2,
        windowStart: two,
      });
      await s.release('gb', 'a');
      await s.decrement('gbr', HOUR, two);
      await expect(both(s, 'gb', 'b', 'gbr')).resolves.toEqual({
        claim: { acquired: true, owner: 'b' },
        count: 2,
        windowStart: two,
      });
    });

    it('reports the window it counted in, for the undo to take it back from there after the boundary', async () => {
      const end = Date.UTC(2026, 0, 1, 17, 0, 0);
      const clock = new FakeClock(new Date(end - 50));
      const s = store(clock);
      const taken = await both(s, 'gw', 'a', 'gwr');
      expect(taken).toEqual({ claim: { acquired: true, owner: 'a' }, count: 1, windowStart: end - HOUR });
      clock.advance(100);
      await expect(both(s, 'gw2', 'a', 'gwr')).resolves.toMatchObject({ count: 1, windowStart: end });
      // The create of the first failed after the boundary: it gives back what it took.
      await s.release('gw', 'a');
      await s.decrement('gwr', HOUR, taken.windowStart!);
      await expect(s.increment('gwr', HOUR)).resolves.toEqual({ count: 2, windowStart: end });
      clock.set(new Date(end - 1));
      await expect(s.increment('gwr', HOUR)).resolves.toEqual({ count: 1, windowStart: end - HOUR });
    });
  });

  describe('claimAndIncrementMany', () => {
    const req = (key: string, owner: string, rateKey: string) => ({
      cooldown: { key, owner, ttlMs: 60_000 },
      rate: { key: rateKey, windowMs: HOUR },
    });

    it('answers each in turn, as claimAndIncrement one after the other would', async () => {
      const noon = Date.UTC(2026, 0, 1, 12, 0, 0);
      const s = store(new FakeClock(new Date(noon)));
      await s.claim('m-held', 'z', 60_000);
      await expect(
        s.claimAndIncrementMany([
          req('m1', 'a', 'mr'),
          req('m2', 'b', 'mr'),
          req('m1', 'c', 'mr'), // held by the first of this very call
          req('m-held', 'd', 'mr'),
          req('m3', 'e', 'mr2'),
        ]),
      ).resolves.toEqual([
        { claim: { acquired: true, owner: 'a' }, count: 1, windowStart: noon },
        { claim: { acquired: true, owner: 'b' }, count: 2, windowStart: noon },
        { claim: { acquired: false, owner: 'a' } },
        { claim: { acquired: false, owner: 'z' } },
        { claim: { acquired: true, owner: 'e' }, count: 1, windowStart: noon },
      ]);
      await expect(s.increment('mr', HOUR)).resolves.toEqual({ count: 3, windowStart: noon });
      await expect(s.claimAndIncrementMany([])).resolves.toEqual([]);
    });

    it('takes requests with only a cooldown or only a rate too', async () => {
      const noon = Date.UTC(2026, 0, 1, 12, 0, 0);
      const s = store(new FakeClock(new Date(noon)));
      await expect(
        s.claimAndIncrementMany([
          { cooldown: { key: 'o1', owner: 'a', ttlMs: 60_000 } },
          { rate: { key: 'or', windowMs: HOUR } },
          req('o2', 'b', 'or'),
          {},
        ]),
      ).resolves.toEqual([
        { claim: { acquired: true, owner: 'a' } },
        { count: 1, windowStart: noon },
        { claim: { acquired: true, owner: 'b' }, count: 2, windowStart: noon },
        {},
      ]);
    });

    it('counts mixed requests in the order asked, every time', async () => {
      // Sent one by one on a pool's connections, the counts came back in either order (a CI flake).
      const noon = Date.UTC(2026, 0, 1, 12, 0, 0);
      const s = store(new FakeClock(new Date(noon)));
      for (let round = 0; round < 20; round++) {
        const rate = { key: `mix${round}`, windowMs: HOUR };
        const got = await s.claimAndIncrementMany([
          { rate },
          { cooldown: { key: `mixc${round}`, owner: 'a', ttlMs: 60_000 }, rate },
          { rate },
          { cooldown: { key: `mixc${round}`, owner: 'b', ttlMs: 60_000 } },
        ]);
        expect(got).toEqual([
          { count: 1, windowStart: noon },
          { claim: { acquired: true, owner: 'a' }, count: 2, windowStart: noon },
          { count: 3, windowStart: noon },
          { claim: { acquired: false, owner: 'a' } },
        ]);
      }
    });
  });

  it('does not decrement below zero', async () => {
    const eleven = Date.UTC(2026, 0, 1, 11, 0, 0);
    const clock = new FakeClock(new Date(eleven));
    const s = store(clock);
    await s.decrement('z', 60_000, eleven);
    await s.increment('z', 60_000);
    await s.decrement('z', 60_000, eleven);
    await s.decrement('z', 60_000, eleven);
    expect(await count(s.increment('z', 60_000))).toBe(1);
  });
}
