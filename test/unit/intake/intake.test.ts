/**
 * AlertIntake against a memory store and an API server that cannot be reached: what the intake
 * takes from the store, and gives back when the create fails.
 */
import { describe, expect, it } from '@jest/globals';
import { AlertIntake } from '../../../src/intake/intake.js';
import { RATE_WINDOW_MS } from '../../../src/intake/plan.js';
import { MemoryEventRecorder } from '../../../src/observability/events.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { MemoryLimitStore } from '../../../src/stores/memory.js';
import type { AdmissionRequest, AdmissionResult } from '../../../src/stores/types.js';
import { FakeClock } from '../../../src/util/clock.js';
import { aRunbook, anAlert, unreachableClients } from './builders.js';

const ELEVEN = Date.UTC(2026, 0, 1, 11, 0, 0);

/**
 * Counts just before the hour ends; the create that follows (and fails) runs in the next hour,
 * where another replica has meanwhile counted one.
 */
class BoundaryStore extends MemoryLimitStore {
  constructor(private readonly fakeClock: FakeClock) {
    super({ clock: fakeClock });
  }

  override async claimAndIncrement(request: AdmissionRequest): Promise<AdmissionResult> {
    const taken = await super.claimAndIncrement(request);
    this.fakeClock.set(new Date(ELEVEN + 10));
    if (request.rate) await this.increment(request.rate.key, request.rate.windowMs);
    return taken;
  }
}

describe('AlertIntake gives back what it took when the create fails', () => {
  it('takes the count back from the window it counted in when the create fails after the boundary', async () => {
    const clock = new FakeClock(new Date(ELEVEN - 10));
    const store = new BoundaryStore(clock);
    const intake = new AlertIntake({
      clients: unreachableClients(),
      runbooks: () => [aRunbook({ spec: { safety: { maxPerHour: 5 } } })],
      store,
      metrics: createMetrics({ defaultMetrics: false }),
      log: silentLogger(),
      events: new MemoryEventRecorder(),
      clock,
    });

    const { alerts, failure } = await intake.handle([anAlert()]);
    expect(alerts[0]!.results).toEqual([
      expect.objectContaining({ outcome: 'error', code: 'KR_ERR_KUBE_UNAVAILABLE' }),
    ]);
    expect(failure).toBeDefined();
    // The new hour keeps the other replica's count...
    expect(store.snapshot().counters).toEqual([
      expect.objectContaining({ windowMs: RATE_WINDOW_MS, windowStart: ELEVEN, count: 1 }),
    ]);
    // ...and the old hour is back to zero, as a replica whose clock is behind sees it.
    clock.set(new Date(ELEVEN - 1));
    expect(store.snapshot().counters).toEqual([expect.objectContaining({ windowStart: ELEVEN, count: 1 })]);
    await intake.flush();
    await store.close();
  });
});
