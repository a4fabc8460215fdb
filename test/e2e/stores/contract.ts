/** The LimitStore contract, run against each real store (shared servers, unique keys per run). */
import { expect, it } from '@jest/globals';
import type { LimitStore } from '../../../src/stores/types.js';
import { FakeClock, type Clock } from '../../../src/util/clock.js';

export type StoreFactory = (clock?: Clock) => LimitStore;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
    const counts = await Promise.all(Array.from({ length: 50 }, () => s.increment('n', 3_600_000)));
    expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    await s.decrement('n', 3_600_000);
    expect(await s.increment('n', 3_600_000)).toBe(50);
    expect(await s.increment('other', 3_600_000)).toBe(1);
    expect(await s.increment('n', 60_000)).toBe(1);
    clock.advance(3_600_000);
    expect(await s.increment('n', 3_600_000)).toBe(1);
  });

  it('does not decrement below zero', async () => {
    const clock = new FakeClock(new Date(Date.UTC(2026, 0, 1, 11, 0, 0)));
    const s = store(clock);
    await s.decrement('z', 60_000);
    await s.increment('z', 60_000);
    await s.decrement('z', 60_000);
    await s.decrement('z', 60_000);
    expect(await s.increment('z', 60_000)).toBe(1);
  });
}
