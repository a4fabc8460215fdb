/** Which finished Remediations retention deletes (ADR 0022), as tables. */
import { describe, expect, it } from '@jest/globals';
import type {
  Condition,
  Remediation,
  RemediationPhase,
  Runbook,
  StepStatus,
} from '../../../../src/api/v1alpha1/schema.js';
import { retentionPlan, type RetentionLimits } from '../../../../src/controller/runbook/retention.js';
import { validateRunbook } from '../../../../src/runbook/validate.js';

const NOW = new Date('2026-02-01T00:00:00Z');
const DEFAULTS: RetentionLimits = {
  successfulHistoryLimit: 2,
  failedHistoryLimit: 1,
  ttlSecondsAfterFinished: 86_400,
};
const minutesAgo = (m: number): string => new Date(NOW.getTime() - m * 60_000).toISOString();

function aRunbook(spec: Partial<Runbook['spec']> = {}): Runbook {
  return {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Runbook',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { steps: [{ name: 'restart', action: 'rolloutRestart', rolloutRestart: {} }], ...spec },
  };
}

const cond = (type: string, status: Condition['status'], reason = 'X'): Condition => ({
  type,
  status,
  reason,
  message: '',
  lastTransitionTime: NOW.toISOString(),
});

/** The conditions a phase is derived from (remediation/status.ts). */
const CONDITIONS: Record<RemediationPhase, Condition[]> = {
  Pending: [],
  AwaitingApproval: [cond('Approved', 'False', 'AwaitingApproval')],
  Running: [cond('Progressing', 'True')],
  Verifying: [cond('Progressing', 'True')],
  Succeeded: [cond('Succeeded', 'True', 'AllStepsSucceeded')],
  Failed: [cond('Succeeded', 'False', 'StepFailed')],
  Blocked: [cond('Succeeded', 'False', 'LoopProtection'), cond('Blocked', 'True', 'LoopProtection')],
  Skipped: [cond('Succeeded', 'False', 'Rejected')],
  DryRun: [cond('Succeeded', 'True', 'DryRun')],
  Reverting: [cond('Succeeded', 'True'), cond('Reverted', 'Unknown')],
  Reverted: [cond('Succeeded', 'True'), cond('Reverted', 'True')],
};

function aRem(
  name: string,
  phase: RemediationPhase,
  o: { finished?: number; runbook?: string; target?: string; steps?: StepStatus[]; started?: boolean } = {},
): Remediation {
  const final = CONDITIONS[phase].some((c) => c.type === 'Succeeded') && phase !== 'Reverting';
  return {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Remediation',
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, creationTimestamp: minutesAgo(10_000) },
    spec: { runbookRef: { name: o.runbook ?? 'web' } },
    status: {
      phase,
      conditions: CONDITIONS[phase],
      target: o.target ?? 'Deployment/web',
      ...(o.started === false || phase === 'Skipped' || phase === 'Blocked'
        ? {}
        : { startedAt: minutesAgo(10_000) }),
      ...(final ? { completedAt: minutesAgo(o.finished ?? 1) } : {}),
      ...(o.steps ? { steps: o.steps } : {}),
    },
  };
}

const changed = (phase: StepStatus['phase'], revertOnResolve = true): StepStatus => ({
  name: 'degrade',
  action: 'setEnv',
  phase,
  spec: { name: 'degrade', action: 'setEnv', revertOnResolve },
  before: { env: [] },
});

function deleted(
  rems: Remediation[],
  o: { runbook?: Runbook; unaudited?: string[]; defaults?: RetentionLimits } = {},
): Record<string, string> {
  const plan = retentionPlan({
    runbook: o.runbook ?? aRunbook(),
    remediations: rems,
    defaults: o.defaults ?? DEFAULTS,
    now: NOW,
    unaudited: new Set(o.unaudited ?? []),
  });
  return Object.fromEntries(plan.delete.map((d) => [d.rem.metadata.name!, d.reason]));
}

describe('retentionPlan: the limits', () => {
  it('keeps the newest successful ones up to the limit, each target apart for loop protection', () => {
    // Successes on five targets: loop protection keeps the newest 3 attempts per target, so
    // each on its own target is deletable by count only once it is not among them.
    const rems = ['a', 'b', 'c', 'd', 'e'].map((n, i) =>
      aRem(n, 'Succeeded', { finished: i + 1, target: `Deployment/${n}` }),
    );
    expect(deleted(rems)).toEqual({});
    const many = [1, 2, 3, 4, 5, 6].map((i) => aRem(`s${i}`, 'Succeeded', { finished: i }));
    expect(deleted(many)).toEqual({
      s4: 'successfulHistoryLimit',
      s5: 'successfulHistoryLimit',
      s6: 'successfulHistoryLimit',
    });
  });

  it('counts Reverted, Skipped and DryRun as successful history, Failed and Blocked as failed', () => {
    const rems = [
      aRem('rev', 'Reverted', { finished: 1, started: false }),
      aRem('skip', 'Skipped', { finished: 2 }),
      aRem('dry', 'DryRun', { finished: 3, started: false }),
      aRem('blk', 'Blocked', { finished: 4 }),
      aRem('blk2', 'Blocked', { finished: 5 }),
    ];
    expect(deleted(rems)).toEqual({ dry: 'successfulHistoryLimit', blk2: 'failedHistoryLimit' });
  });

  it('deletes past ttlSecondsAfterFinished whatever the count, and says when to look again', () => {
    const rems = [
      aRem('new', 'Reverted', { finished: 60, started: false }),
      aRem('old', 'Reverted', { finished: 2000, started: false }),
    ];
    expect(deleted(rems)).toEqual({ old: 'ttl' });
    const plan = retentionPlan({
      runbook: aRunbook(),
      remediations: rems,
      defaults: DEFAULTS,
      now: NOW,
      unaudited: new Set(),
    });
    expect(plan.nextAt).toEqual(new Date(NOW.getTime() - 60 * 60_000 + 86_400_000));
  });

  it("uses the Runbook's own limits over the defaults; 0 keeps none", () => {
    const rb = aRunbook({ successfulHistoryLimit: 0, ttlSecondsAfterFinished: 3600 });
    const rems = [
      aRem('r1', 'Reverted', { finished: 1, started: false }),
      aRem('r2', 'Reverted', { finished: 2, started: false }),
    ];
    expect(deleted(rems, { runbook: rb })).toEqual({
      r1: 'successfulHistoryLimit',
      r2: 'successfulHistoryLimit',
    });
    expect(
      deleted([aRem('x', 'Reverted', { finished: 61, started: false })], {
        runbook: aRunbook({ ttlSecondsAfterFinished: 3600 }),
      }),
    ).toEqual({ x: 'ttl' });
  });

  it('orders runs that finish within one second by their milliseconds, and an exact tie by creation', () => {
    // r-2 and r-3 finished 400 ms apart in one second; at second precision r-2 sorted first (by
    // name) and r-3, the newest, was deleted in its place (the flaky retention e2e).
    const rb = aRunbook({ successfulHistoryLimit: 1, safety: { maxConsecutiveFailures: 1 } });
    const at = (name: string, completedAt: string, created: string): Remediation => {
      const r = aRem(name, 'Succeeded');
      return {
        ...r,
        metadata: { ...r.metadata, creationTimestamp: created },
        status: { ...r.status, completedAt },
      };
    };
    const rems = [
      at('r-1', '2026-01-31T23:58:00.000Z', '2026-01-31T23:57:59Z'),
      at('r-2', '2026-01-31T23:59:00.300Z', '2026-01-31T23:58:59Z'),
      at('r-3', '2026-01-31T23:59:00.700Z', '2026-01-31T23:59:00Z'),
    ];
    expect(deleted(rems, { runbook: rb })).toEqual({
      'r-1': 'successfulHistoryLimit',
      'r-2': 'successfulHistoryLimit',
    });
    // Second precision (objects written before) and one second for both: the later created is newer.
    const tied = [
      at('b', '2026-01-31T23:59:00Z', '2026-01-31T23:59:00Z'),
      at('a', '2026-01-31T23:59:00Z', '2026-01-31T23:58:59Z'),
    ];
    expect(deleted(tied, { runbook: rb })).toEqual({ a: 'successfulHistoryLimit' });
  });

  it("leaves other Runbooks' Remediations to their own Runbook", () => {
    const rems = [1, 2, 3, 4].map((i) =>
      aRem(`o${i}`, 'Reverted', { finished: i, runbook: 'other', started: false }),
    );
    expect(deleted(rems)).toEqual({});
  });
});

describe('retentionPlan: never deleted', () => {
  const old = 5000; // past the TTL of a day
  const rows: [string, Remediation[], string[]][] = [
    ['running', [aRem('x', 'Running', { finished: old })], []],
    ['reverting', [aRem('x', 'Reverting', { finished: old })], []],
    ['awaiting approval', [aRem('x', 'AwaitingApproval', { finished: old })], []],
    [
      'succeeded with a revertOnResolve change in place',
      [aRem('x', 'Succeeded', { finished: old, steps: [changed('Succeeded')], started: false })],
      [],
    ],
    [
      'failed after a revertOnResolve change may have landed',
      [aRem('x', 'Failed', { finished: old, steps: [changed('Failed')], started: false })],
      [],
    ],
    [
      'with its audit rows not yet written',
      [aRem('x', 'Reverted', { finished: old, started: false })],
      ['shop/x'],
    ],
  ];
  it.each(rows)('%s', (_what, rems, unaudited) => {
    expect(deleted(rems, { unaudited })).toEqual({});
  });

  it('a Remediation that a newer change is layered on, until that step is reverted', () => {
    const base = aRem('base', 'Reverted', { finished: old, started: false });
    const layered = (phase: StepStatus['phase']) =>
      aRem('top', 'Running', {
        runbook: 'other',
        steps: [
          { ...changed(phase), layeredOn: [{ remediation: 'shop/base', uid: 'uid-base', step: 'degrade' }] },
        ],
      });
    expect(deleted([base, layered('Succeeded')])).toEqual({});
    expect(deleted([base, layered('Reverted')])).toEqual({ base: 'ttl' });
  });

  it('the newest maxConsecutiveFailures attempts on a target: loop protection reads them', () => {
    const fails = [1, 2, 3, 4, 5].map((i) => aRem(`f${i}`, 'Failed', { finished: i * 1000 }));
    // f1..f3 are the evidence (limit 3 by default) though past the TTL and the failed limit.
    expect(deleted(fails)).toEqual({ f4: 'ttl', f5: 'ttl' });
    const rb = aRunbook({ safety: { maxConsecutiveFailures: 1 } });
    expect(deleted(fails, { runbook: rb })).toEqual({ f2: 'ttl', f3: 'ttl', f4: 'ttl', f5: 'ttl' });
  });
});

describe('validation of the retention fields', () => {
  it('names the field of a negative or fractional value (the schema check, so Ready=False says which)', () => {
    const spec = { ...aRunbook().spec, failedHistoryLimit: -1, ttlSecondsAfterFinished: 1.5 };
    expect(validateRunbook(spec, 'shop')).toEqual([
      'failedHistoryLimit: Expected integer to be greater or equal to 0',
      'ttlSecondsAfterFinished: Expected integer',
    ]);
  });
});
