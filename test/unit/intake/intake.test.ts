/**
 * AlertIntake against a memory store and an API server that cannot be reached: what the intake
 * takes from the store, and gives back when the create fails.
 */
import { describe, expect, it } from '@jest/globals';
import type { Remediation } from '../../../src/api/v1alpha1/index.js';
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

describe('AlertIntake on a resolved alert (ADR 0021)', () => {
  const resolved = anAlert({
    status: 'resolved',
    startsAt: '2026-01-01T10:05:00Z',
    endsAt: '2026-01-01T10:05:00Z',
  });
  function intakeWith(cached: Remediation[]): AlertIntake {
    return new AlertIntake({
      clients: unreachableClients(),
      runbooks: () => [aRunbook()],
      store: new MemoryLimitStore(),
      metrics: createMetrics({ defaultMetrics: false }),
      log: silentLogger(),
      events: new MemoryEventRecorder(),
      clock: new FakeClock(new Date(ELEVEN)),
      remediations: () => cached,
    });
  }
  const marked = (name: string, startsAt: string): Remediation => ({
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Remediation',
    metadata: {
      name,
      namespace: 'shop',
      labels: {
        'kube-remediator.io/runbook': 'restart-web',
        'kube-remediator.io/fingerprint': resolved.fingerprint,
      },
    },
    spec: {
      runbookRef: { name: 'restart-web' },
      alert: { name: 'WebDown', fingerprint: resolved.fingerprint, startsAt, status: 'resolved' },
    },
  });

  it('never answers resolved_unknown without asking the API server: unreachable, it is a failure to retry', async () => {
    const { alerts, failure } = await intakeWith([]).handle([resolved]);
    expect(alerts[0]!.results).toEqual([
      expect.objectContaining({ outcome: 'error', code: 'KR_ERR_KUBE_UNAVAILABLE' }),
    ]);
    expect(failure?.code).toBe('KR_ERR_KUBE_UNAVAILABLE');
  });

  it('lists what the cache holds already marked, newest first, without an API call (a retry costs nothing)', async () => {
    const { alerts, failure } = await intakeWith([
      marked('restart-web-old', '2026-01-01T09:00:00Z'),
      marked('restart-web-new', '2026-01-01T10:00:00Z'),
    ]).handle([resolved]);
    expect(failure).toBeUndefined();
    expect(alerts[0]!.results).toEqual([
      {
        runbook: 'shop/restart-web',
        outcome: 'resolved_marked',
        remediation: 'shop/restart-web-new',
        remediations: ['shop/restart-web-new', 'shop/restart-web-old'],
      },
    ]);
  });
});
