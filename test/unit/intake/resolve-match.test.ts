/** Which Remediations a resolved notification touches (ADR 0021), as tables. */
import { describe, expect, it } from '@jest/globals';
import type { Condition, Remediation, StepStatus } from '../../../src/api/v1alpha1/index.js';
import {
  fingerprintSelector,
  hasLabels,
  resolveMatches,
  resolveVerdict,
  type ResolveVerdict,
} from '../../../src/intake/resolve-match.js';
import { labelValue } from '../../../src/intake/naming.js';
import { aRunbook } from './builders.js';

const FP = 'a1b2c3d4e5f60718';
const RB = aRunbook({ name: 'restart-web' });
const ENDS = '2026-01-01T10:30:00Z';

const cond = (type: string, status: Condition['status'], reason = 'X'): Condition => ({
  type,
  status,
  reason,
  message: '',
  lastTransitionTime: '2026-01-01T10:00:00Z',
});
const step = (phase: StepStatus['phase'], revertOnResolve = true, before?: object): StepStatus => ({
  name: 'degrade',
  action: 'setEnv',
  phase,
  spec: { name: 'degrade', action: 'setEnv', revertOnResolve },
  ...(before ? { before: before as Record<string, unknown> } : {}),
});

function aRem(
  o: {
    name?: string;
    runbook?: string;
    fingerprint?: string;
    startsAt?: string;
    alertStatus?: 'firing' | 'resolved';
    conditions?: Condition[];
    steps?: StepStatus[];
    dryRun?: boolean;
    deleting?: boolean;
  } = {},
): Remediation {
  const fingerprint = o.fingerprint ?? FP;
  const runbook = o.runbook ?? 'restart-web';
  return {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Remediation',
    metadata: {
      name: o.name ?? 'restart-web-1',
      namespace: 'shop',
      labels: fingerprintSelector(runbook, fingerprint),
      ...(o.deleting ? { deletionTimestamp: '2026-01-01T10:20:00Z' } : {}),
    },
    spec: {
      runbookRef: { name: runbook },
      alert: {
        name: 'WebDown',
        fingerprint,
        startsAt: o.startsAt ?? '2026-01-01T10:00:00.123456789Z',
        status: o.alertStatus ?? 'firing',
      },
    },
    ...(o.conditions || o.steps || o.dryRun
      ? { status: { conditions: o.conditions ?? [], steps: o.steps ?? [], dryRun: o.dryRun } }
      : {}),
  };
}

const succeeded = cond('Succeeded', 'True', 'AllStepsSucceeded');
const failed = cond('Succeeded', 'False', 'StepFailed');

describe('resolveVerdict', () => {
  const rows: [string, Remediation, ResolveVerdict][] = [
    ['not started yet (Pending)', aRem(), 'mark'],
    ['running', aRem({ conditions: [cond('Progressing', 'True')], steps: [step('Running')] }), 'mark'],
    ['awaiting approval', aRem({ conditions: [cond('Approved', 'False', 'AwaitingApproval')] }), 'mark'],
    [
      'succeeded with a revertOnResolve change',
      aRem({ conditions: [succeeded], steps: [step('Succeeded')] }),
      'mark',
    ],
    [
      'failed after its revertOnResolve change may have landed',
      aRem({ conditions: [failed], steps: [step('Failed', true, { env: [] })] }),
      'mark',
    ],
    [
      'failed before any change (marked: the record says the alert resolved)',
      aRem({ conditions: [failed], steps: [step('Failed')] }),
      'mark',
    ],
    [
      'succeeded, nothing marked revertOnResolve (onResolve steps may run)',
      aRem({ conditions: [succeeded], steps: [step('Succeeded', false)] }),
      'mark',
    ],
    [
      'already reverted',
      aRem({ conditions: [succeeded, cond('Reverted', 'True')], steps: [step('Reverted')] }),
      'over',
    ],
    [
      'a revert that failed (a person must look)',
      aRem({ conditions: [succeeded, cond('Reverted', 'False')], steps: [step('Succeeded')] }),
      'over',
    ],
    ['a dry run', aRem({ conditions: [succeeded], steps: [step('DryRun')], dryRun: true }), 'over'],
    [
      'skipped (rejected): marked, nothing runs',
      aRem({ conditions: [cond('Succeeded', 'False', 'Rejected')] }),
      'mark',
    ],
    ['being deleted', aRem({ deleting: true }), 'over'],
    ['marked by an earlier resolved notification', aRem({ alertStatus: 'resolved' }), 'already'],
    [
      'startsAt differs from the resolved one but is before its end (the case of issue #14)',
      aRem({ startsAt: '2026-01-01T10:29:59.999999Z' }),
      'mark',
    ],
    ['started exactly when the resolved one ended', aRem({ startsAt: ENDS }), 'mark'],
    ['a newer occurrence, started after the end', aRem({ startsAt: '2026-01-01T10:30:00.5Z' }), 'later'],
    ['another Runbook', aRem({ runbook: 'other' }), 'other'],
    ['another fingerprint', aRem({ fingerprint: 'ffffffffffffffff' }), 'other'],
    ['the fingerprint in upper case', aRem({ fingerprint: FP.toUpperCase() }), 'mark'],
  ];
  it.each(rows)('%s → %s', (_what, rem, verdict) => {
    expect(resolveVerdict(rem, RB, FP, ENDS)).toBe(verdict);
  });
});

describe('resolveMatches', () => {
  it('marks every live occurrence, newest first, lists the ones already marked, and leaves the rest', () => {
    const old = aRem({
      name: 'old',
      startsAt: '2026-01-01T08:00:00Z',
      conditions: [succeeded],
      steps: [step('Succeeded')],
    });
    const mid = aRem({ name: 'mid', startsAt: '2026-01-01T09:00:00Z' });
    const marked = aRem({ name: 'marked', startsAt: '2026-01-01T09:30:00Z', alertStatus: 'resolved' });
    const done = aRem({
      name: 'done',
      startsAt: '2026-01-01T07:00:00Z',
      conditions: [succeeded, cond('Reverted', 'True')],
    });
    const later = aRem({ name: 'later', startsAt: '2026-01-01T11:00:00Z' });
    const m = resolveMatches([old, done, later, mid, marked], RB, FP, ENDS);
    expect(m.mark.map((r) => r.metadata.name)).toEqual(['mid', 'old']);
    expect(m.already.map((r) => r.metadata.name)).toEqual(['marked']);
  });

  it('finds nothing when no Remediation of the fingerprint is live', () => {
    expect(resolveMatches([aRem({ runbook: 'other' })], RB, FP, ENDS)).toEqual({ mark: [], already: [] });
  });
});

describe('fingerprintSelector', () => {
  it('is the labels intake puts on the Remediation, hashed when too long for a label value', () => {
    const long = 'f'.repeat(64);
    const sel = fingerprintSelector('restart-web', long);
    expect(sel['kube-remediator.io/fingerprint']).toBe(labelValue(long));
    expect(sel['kube-remediator.io/fingerprint']!.length).toBeLessThanOrEqual(63);
    expect(hasLabels(aRem({ fingerprint: long }), sel)).toBe(true);
    expect(hasLabels(aRem(), sel)).toBe(false);
  });
});
