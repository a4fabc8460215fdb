import { describe, expect, it } from '@jest/globals';
import { WorkQueue } from '../../../src/runtime/work-queue.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { FakeTimers } from './fake-timers.js';

function aQueue(opts: { baseDelayMs?: number; maxDelayMs?: number } = {}) {
  const timers = new FakeTimers();
  const metrics = createMetrics({ defaultMetrics: false });
  const queue = new WorkQueue({ name: 'remediation', timers, metrics, ...opts }, timers.now);
  return { queue, timers, metrics };
}

/** Resolves with the next key, or 'pending' if get() would block. */
async function peek(queue: WorkQueue): Promise<string | undefined> {
  return Promise.race([queue.get(), new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
}

async function metricValue(
  metrics: ReturnType<typeof createMetrics>,
  name: string,
): Promise<number | undefined> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return m?.values.find((v) => v.labels.name === 'remediation')?.value;
}

describe('WorkQueue', () => {
  it('merges a key added while it is queued', async () => {
    const { queue } = aQueue();
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    expect(queue.len()).toBe(2);
    expect(await queue.get()).toBe('ns/a');
    expect(await queue.get()).toBe('ns/b');
    expect(await peek(queue)).toBe('pending');
  });

  it('never hands one key to two workers: an add during processing is re-queued once after done', async () => {
    const { queue } = aQueue();
    queue.add('ns/a');
    const first = await queue.get();
    expect(first).toBe('ns/a');
    queue.add('ns/a');
    queue.add('ns/a');
    // A second worker asking now must not get the key in flight...
    let second: string | undefined = 'pending';
    const secondGet = queue.get().then((k) => (second = k));
    await new Promise((r) => setImmediate(r));
    expect(second).toBe('pending');
    // ...and gets it, once, when the first is done.
    queue.done('ns/a');
    await secondGet;
    expect(second).toBe('ns/a');
    queue.done('ns/a');
    expect(queue.len()).toBe(0);
    expect(await peek(queue)).toBe('pending');
  });

  it('lets other keys proceed while one is in flight', async () => {
    const { queue } = aQueue();
    queue.add('ns/a');
    await queue.get();
    queue.add('ns/a');
    queue.add('ns/b');
    expect(await queue.get()).toBe('ns/b');
  });

  it('wakes a waiting worker on add', async () => {
    const { queue } = aQueue();
    const next = queue.get();
    queue.add('ns/a');
    expect(await next).toBe('ns/a');
  });

  it('backs off exponentially per key, up to the cap, and forget() resets it', () => {
    const { queue, timers } = aQueue({ baseDelayMs: 10, maxDelayMs: 100 });
    const delays = [1, 2, 3, 4, 5, 6].map(() => queue.addRateLimited('ns/a'));
    expect(delays).toEqual([10, 20, 40, 80, 100, 100]);
    expect(queue.numRequeues('ns/a')).toBe(6);
    // Another key has its own count.
    expect(queue.addRateLimited('ns/b')).toBe(10);
    queue.forget('ns/a');
    expect(queue.numRequeues('ns/a')).toBe(0);
    expect(queue.addRateLimited('ns/a')).toBe(10);
    expect(timers.pendingCount()).toBe(2);
  });

  it('adds a rate-limited key only once its delay has passed', async () => {
    const { queue, timers } = aQueue({ baseDelayMs: 10 });
    queue.addRateLimited('ns/a');
    expect(queue.len()).toBe(0);
    timers.advance(9);
    expect(queue.len()).toBe(0);
    timers.advance(1);
    expect(await queue.get()).toBe('ns/a');
  });

  it('addAfter keeps one timer per key and the earliest time wins', async () => {
    const { queue, timers } = aQueue();
    queue.addAfter('ns/a', 1000);
    queue.addAfter('ns/a', 5000);
    expect(timers.pendingDelays()).toEqual([1000]);
    queue.addAfter('ns/a', 200);
    expect(timers.pendingDelays()).toEqual([200]);
    timers.advance(200);
    expect(queue.len()).toBe(1);
    timers.advance(10_000);
    expect(await queue.get()).toBe('ns/a');
    expect(await peek(queue)).toBe('pending');
  });

  it('addAfter with no delay adds at once', () => {
    const { queue } = aQueue();
    queue.addAfter('ns/a', 0);
    expect(queue.len()).toBe(1);
  });

  it('shutDown releases waiting workers, drops timers and resolves when in-flight keys are done', async () => {
    const { queue, timers } = aQueue();
    queue.add('ns/a');
    queue.add('ns/b');
    const inFlight = await queue.get();
    queue.addAfter('ns/c', 1000);

    let drained = false;
    const shut = queue.shutDown().then(() => (drained = true));
    expect(timers.pendingCount()).toBe(0);
    expect(await queue.get()).toBeUndefined();
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    // Adds during shutdown are ignored, and the in-flight key is not re-queued.
    queue.add('ns/d');
    queue.add(inFlight!);
    queue.done(inFlight!);
    await shut;
    expect(drained).toBe(true);
    expect(queue.len()).toBe(1); // ns/b was queued, never handed out
    expect(await queue.get()).toBeUndefined();
  });

  it('wakes workers blocked in get() on shutdown', async () => {
    const { queue } = aQueue();
    const waiting = [queue.get(), queue.get()];
    await queue.shutDown();
    expect(await Promise.all(waiting)).toEqual([undefined, undefined]);
  });

  it('reports depth, adds and retries', async () => {
    const { queue, metrics, timers } = aQueue({ baseDelayMs: 10 });
    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/b');
    expect(await metricValue(metrics, 'workqueue_depth')).toBe(2);
    expect(await metricValue(metrics, 'workqueue_adds_total')).toBe(2);
    await queue.get();
    expect(await metricValue(metrics, 'workqueue_depth')).toBe(1);
    queue.addRateLimited('ns/c');
    timers.advance(10);
    expect(await metricValue(metrics, 'workqueue_retries_total')).toBe(1);
    expect(await metricValue(metrics, 'workqueue_adds_total')).toBe(3);
  });

  it('reports how long a key waited from its add until a worker took it', async () => {
    const { queue, metrics, timers } = aQueue();
    const waited = async (): Promise<{ count?: number; sum?: number }> => {
      const m = await metrics.queueDuration.get();
      expect(m.name).toBe('workqueue_queue_duration_seconds');
      const v = (suffix: string) =>
        m.values.find((x) => x.labels.name === 'remediation' && x.metricName === `${m.name}_${suffix}`)
          ?.value;
      return { count: v('count'), sum: v('sum') };
    };
    // Pre-initialised, so the series exists before the first key.
    expect(await waited()).toEqual({ count: 0, sum: 0 });

    queue.add('ns/a');
    timers.advance(30);
    queue.add('ns/a'); // merged: the wait still counts from the first add
    timers.advance(20);
    expect(await queue.get()).toBe('ns/a');
    expect(await waited()).toEqual({ count: 1, sum: expect.closeTo(0.05) });

    // Added while in flight: it waits through the rest of the pass.
    queue.add('ns/a');
    timers.advance(100);
    queue.done('ns/a');
    expect(await queue.get()).toBe('ns/a');
    queue.done('ns/a');
    expect(await waited()).toEqual({ count: 2, sum: expect.closeTo(0.15) });

    // A delayed add counts from when its timer fires, and a waiting worker takes it at once.
    queue.addAfter('ns/b', 1000);
    const next = queue.get();
    timers.advance(1000);
    expect(await next).toBe('ns/b');
    expect(await waited()).toEqual({ count: 3, sum: expect.closeTo(0.15) });
  });

  it("counts a standby's backlog from when the workers start, not from its add", async () => {
    const { queue, metrics, timers } = aQueue();
    queue.add('ns/a');
    timers.advance(3_600_000); // an hour as a standby
    queue.startWaitClocks(); // leadership: the workers start
    timers.advance(5);
    expect(await queue.get()).toBe('ns/a');
    const m = await metrics.queueDuration.get();
    const sum = m.values.find(
      (x) => x.labels.name === 'remediation' && x.metricName === 'workqueue_queue_duration_seconds_sum',
    )?.value;
    expect(sum).toBeCloseTo(0.005);
  });
});
