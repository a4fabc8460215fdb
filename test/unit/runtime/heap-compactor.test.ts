/** When the heap compactor asks V8 for a collection (ADR 9). The gc function is a recording stand-in. */
import { describe, expect, it } from '@jest/globals';
import { HeapCompactor, type GcFunction } from '../../../src/runtime/heap-compactor.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeTimers } from './fake-timers.js';

function setup(opts: { gc?: GcFunction | undefined; busy?: boolean } = {}) {
  const timers = new FakeTimers();
  const calls: number[] = [];
  const state = { busy: opts.busy ?? false };
  const gc: GcFunction | undefined = 'gc' in opts ? opts.gc : () => void calls.push(Date.now());
  const c = new HeapCompactor({
    logger: silentLogger(),
    gc,
    busy: () => state.busy,
    minWork: 100,
    settleMs: 1000,
    timers,
    now: timers.now,
  });
  return { c, timers, calls, state };
}

describe('HeapCompactor', () => {
  it('collects once after enough work and a settled pause', () => {
    const { c, timers, calls } = setup();
    c.note(100);
    c.maybeCompact();
    timers.advance(999);
    expect(calls).toHaveLength(0);
    timers.advance(1);
    expect(calls).toHaveLength(1);
    expect(c.compactions).toBe(1);
    // The count starts over: idling does not collect again.
    c.maybeCompact();
    timers.advance(10_000);
    expect(calls).toHaveLength(1);
  });

  it('does not collect for a little work', () => {
    const { c, timers, calls } = setup();
    c.note(99);
    c.maybeCompact();
    timers.advance(10_000);
    expect(calls).toHaveLength(0);
    expect(timers.pendingCount()).toBe(0);
  });

  it('waits while work is queued or in flight, and goes again when it ends', () => {
    const { c, timers, calls, state } = setup({ busy: true });
    c.note(500);
    c.maybeCompact();
    expect(timers.pendingCount()).toBe(0);
    state.busy = false;
    c.maybeCompact();
    // Work arrives during the settle time: no collection under it.
    state.busy = true;
    timers.advance(1000);
    expect(calls).toHaveLength(0);
    state.busy = false;
    c.maybeCompact();
    timers.advance(1000);
    expect(calls).toHaveLength(1);
  });

  it('keeps one settle timer however often it is asked', () => {
    const { c, timers } = setup();
    c.note(100);
    for (let i = 0; i < 5; i++) c.maybeCompact();
    expect(timers.pendingCount()).toBe(1);
  });

  it('does nothing without --expose-gc', () => {
    const { c, timers } = setup({ gc: undefined });
    expect(c.enabled).toBe(false);
    c.note(1000);
    c.maybeCompact();
    expect(timers.pendingCount()).toBe(0);
  });

  it('stop() cancels a pending collection', () => {
    const { c, timers, calls } = setup();
    c.note(100);
    c.maybeCompact();
    c.stop();
    timers.advance(5000);
    expect(calls).toHaveLength(0);
  });

  it('a gc that throws is logged, not thrown', () => {
    const { c, timers } = setup({
      gc: () => {
        throw new Error('no');
      },
    });
    c.note(100);
    c.maybeCompact();
    expect(() => timers.advance(1000)).not.toThrow();
    expect(c.compactions).toBe(0);
  });

  it('waits for a whole quiet pause: work between the checks puts it off', () => {
    const { c, timers, calls } = setup();
    c.note(100);
    c.maybeCompact();
    timers.advance(600);
    c.note(); // a pass ran and ended (the queue was empty again before the timer fired)
    timers.advance(400);
    expect(calls).toHaveLength(0);
    timers.advance(599);
    expect(calls).toHaveLength(0);
    timers.advance(1);
    expect(calls).toHaveLength(1);
  });
});
