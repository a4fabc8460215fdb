import { describe, expect, it } from '@jest/globals';
import type { RemediationStatus, StepStatus } from '../../../../src/api/v1alpha1/schema.js';
import {
  isFirstEnd,
  milestones,
  secondsSinceAlert,
} from '../../../../src/controller/remediation/milestones.js';
import { createMetrics } from '../../../../src/observability/metrics.js';

const T = '2026-11-24T01:00:00Z';
const step = (o: Partial<StepStatus> = {}): StepStatus => ({
  name: 's',
  action: 'scale',
  phase: 'Pending',
  ...o,
});

describe('milestones: what one status transition reached', () => {
  it.each<
    [string, RemediationStatus | undefined, RemediationStatus, { started: boolean; firstAction: boolean }]
  >([
    ['nothing yet', undefined, { phase: 'Pending' }, { started: false, firstAction: false }],
    [
      'the start',
      { phase: 'Pending' },
      { phase: 'Running', startedAt: T, steps: [step()] },
      { started: true, firstAction: false },
    ],
    [
      'the first step checkpointed',
      { phase: 'Running', startedAt: T, steps: [step()] },
      { phase: 'Running', startedAt: T, steps: [step({ phase: 'Running', startedAt: T })] },
      { started: false, firstAction: true },
    ],
    [
      'a later step',
      { phase: 'Running', startedAt: T, steps: [step({ startedAt: T }), step({ name: 't' })] },
      { phase: 'Running', startedAt: T, steps: [step({ startedAt: T }), step({ name: 't', startedAt: T })] },
      { started: false, firstAction: false },
    ],
    [
      'start and first step in one write',
      undefined,
      { phase: 'Running', startedAt: T, steps: [step({ startedAt: T })] },
      { started: true, firstAction: true },
    ],
  ])('%s', (_what, prior, next, expected) => {
    expect(milestones(prior, next)).toEqual(expected);
  });

  it('reverts are not first ends', () => {
    expect(
      ['succeeded', 'failed', 'skipped', 'dry_run', 'blocked'].every((r) => isFirstEnd(r as never)),
    ).toBe(true);
    expect(isFirstEnd('reverted')).toBe(false);
    expect(isFirstEnd('revert_failed')).toBe(false);
  });

  it('measures from the alert, never below 0, and not at all without one', () => {
    const now = new Date('2026-11-24T01:00:30Z');
    expect(secondsSinceAlert(T, now)).toBe(30);
    expect(secondsSinceAlert('2026-11-24T01:00:31Z', now)).toBe(0);
    expect(secondsSinceAlert(undefined, now)).toBeUndefined();
    expect(secondsSinceAlert('not a time', now)).toBeUndefined();
  });
});

describe('runbookSeen', () => {
  it("starts a runbook's series at 0 once, and never wipes what was observed since", async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.runbookSeen('web');
    const finished = (await m.remediationsFinished.get()).values.filter((v) => v.labels.runbook === 'web');
    expect(finished.map((v) => [v.labels.result, v.value])).toEqual(
      ['succeeded', 'failed', 'skipped', 'dry_run', 'blocked', 'reverted', 'revert_failed'].map((r) => [
        r,
        0,
      ]),
    );
    m.alertToFinish.observe({ runbook: 'web' }, 3);
    m.runbookSeen('web');
    const count = (await m.alertToFinish.get()).values.find(
      (v) => v.metricName === 'kube_remediator_alert_to_finish_seconds_count' && v.labels.runbook === 'web',
    );
    expect(count?.value).toBe(1);
    expect((await m.remediationsStarted.get()).values).toEqual([
      expect.objectContaining({ labels: { runbook: 'web' }, value: 0 }),
    ]);
  });
});
