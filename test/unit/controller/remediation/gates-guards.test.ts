/**
 * Issue #12 items 1, 5, 6, 9 as tables of next(): guards (met / not met / errored, on a step and
 * on the Runbook), step approval with a deadline (each onTimeout), escalation (due, checkpointed,
 * sent once) and ineffective runs counted by loop protection.
 */
import { describe, expect, it } from '@jest/globals';
import {
  ANNOTATIONS,
  CONDITION_TYPES,
  REASONS,
  stepApprovalAnnotation,
} from '../../../../src/api/v1alpha1/constants.js';
import type {
  Guard,
  GuardRecord,
  Remediation,
  Runbook,
  RunbookSpec,
} from '../../../../src/api/v1alpha1/schema.js';
import type { ActionOutcome } from '../../../../src/actions/types.js';
import type { Decision, Observed } from '../../../../src/controller/remediation/decision.js';
import { next } from '../../../../src/controller/remediation/protocol.js';
import { findCondition } from '../../../../src/api/v1alpha1/conditions.js';
import { guardAction } from '../../../../src/controller/remediation/guards.js';
import { attemptOutcome, loopProtection } from '../../../../src/controller/remediation/policy.js';
import { FakeClock } from '../../../../src/util/clock.js';
import { NS, T0, aFinished, aRemediation, aRunbook, aStep, cond, observed, withStatus } from './builders.js';

const condOf = (d: Decision, type: string) => findCondition(d.status.conditions, type);
const events = (d: Decision) => d.notes.flatMap((n) => (n.kind === 'event' ? [n.reason] : []));
const audits = (d: Decision) => d.notes.flatMap((n) => (n.kind === 'audit' ? [n.event] : []));
const at = (ms: number) => new FakeClock(new Date(T0.getTime() + ms));

const guard = (over: Partial<Guard> = {}): Guard => ({
  checks: [{ name: 'lag', prometheusQuery: { url: 'http://prom:9090', query: 'lag > 120' } }],
  ...over,
});
const evaluation = (result: GuardRecord['result']): GuardRecord => ({
  result,
  at: '2026-01-01T00:00:00Z',
  checks: [{ name: 'lag', result, message: `lag ${result}` }],
});
const rb = (spec: Partial<RunbookSpec>): Runbook => aRunbook({ spec });

/** Drives `rem` like the reconciler: one decision, its effect (from `effects`), written; `n` times. */
function drive(
  rem: Remediation,
  runbook: Runbook,
  effects: { guard?: GuardRecord; apply?: ActionOutcome; escalate?: ActionOutcome },
  opts: { clock?: FakeClock; peers?: Remediation[]; until?: (d: Decision) => boolean; max?: number } = {},
): { rem: Remediation; d: Decision; ops: string[] } {
  const ops: string[] = [];
  let cur = rem;
  let d: Decision = next(observed(cur, { runbook, clock: opts.clock, peers: opts.peers }));
  for (let i = 0; i < (opts.max ?? 10); i++) {
    const obs: Observed = observed(cur, { runbook, clock: opts.clock, peers: opts.peers });
    d = next(obs);
    ops.push(d.op.kind === 'none' ? 'none' : `${d.op.kind}:${d.op.index}`);
    const op = d.op;
    if (op.kind === 'guard') d = next(obs, { op, evaluation: effects.guard ?? evaluation('Met') });
    else if (op.kind === 'plan') d = next(obs, { op, result: { plan: {} } });
    else if (op.kind === 'apply')
      d = next(obs, { op, outcome: effects.apply ?? { kind: 'done', message: 'ok' }, at: obs.now });
    else if (op.kind === 'escalate')
      d = next(obs, { op, outcome: effects.escalate ?? { kind: 'done', message: 'sent' }, at: obs.now });
    cur = withStatus(cur, d.status);
    if (opts.until?.(d) || (op.kind === 'none' && d.requeueAfterMs === undefined)) break;
    if (op.kind === 'none' && (d.requeueAfterMs ?? 0) > 1) break;
  }
  return { rem: cur, d, ops };
}

describe('guards on a step', () => {
  const two = (g: Guard) =>
    rb({
      steps: [
        aStep({ name: 'degrade', guard: g }),
        aStep({ name: 'notify', action: 'notify', rolloutRestart: undefined, notify: { message: 'hi' } }),
      ],
    });

  it('asks for the read before the step is planned, and records it', () => {
    const runbook = two(guard());
    const rem = aRemediation();
    const d = next(observed(rem, { runbook }));
    expect(d.op).toEqual({ kind: 'guard', index: 0, attempt: 1 });
    expect(d.status.steps?.[0]?.phase).toBe('Pending');
    const obs = observed(withStatus(rem, d.status), { runbook });
    const rec = next(obs, { op: { kind: 'guard', index: 0, attempt: 1 }, evaluation: evaluation('Met') });
    expect(rec.status.steps?.[0]?.guard?.result).toBe('Met');
    expect(rec.requeueAfterMs).toBe(1);
    expect(audits(rec)).toContain('guard_evaluated');
    const after = next(observed(withStatus(rem, rec.status), { runbook }));
    expect(after.op).toEqual({ kind: 'plan', index: 0, attempt: 1 });
  });

  it.each<[string, Guard, GuardRecord['result'], { step0: string; phase: string; reason?: string }]>([
    ['met: the step runs', guard(), 'Met', { step0: 'Succeeded', phase: 'Succeeded' }],
    [
      'not met: the step is skipped, the run goes on',
      guard(),
      'NotMet',
      { step0: 'Skipped', phase: 'Succeeded' },
    ],
    [
      'not met, SkipRemediation: the run ends Skipped',
      guard({ onNotMet: 'SkipRemediation' }),
      'NotMet',
      { step0: 'Pending', phase: 'Skipped', reason: REASONS.guardNotMet },
    ],
    [
      'error: fails by default',
      guard(),
      'Error',
      { step0: 'Failed', phase: 'Failed', reason: REASONS.guardError },
    ],
    [
      'error, onError SkipStep: skipped',
      guard({ onError: 'SkipStep' }),
      'Error',
      { step0: 'Skipped', phase: 'Succeeded' },
    ],
    [
      'error, onError SkipRemediation: the run ends Skipped',
      guard({ onError: 'SkipRemediation' }),
      'Error',
      { step0: 'Pending', phase: 'Skipped', reason: REASONS.guardNotMet },
    ],
  ])('%s', (_name, g, result, want) => {
    const { d } = drive(aRemediation(), two(g), { guard: evaluation(result) });
    expect(d.status.steps?.[0]?.phase).toBe(want.step0);
    expect(d.status.phase).toBe(want.phase);
    if (want.reason) expect(condOf(d, CONDITION_TYPES.succeeded)?.reason).toBe(want.reason);
    expect(d.status.steps?.[0]?.guard?.result).toBe(result);
  });

  it('a retry does not read the guard again', () => {
    const runbook = rb({ steps: [aStep({ guard: guard(), retries: 1 })] });
    const { ops } = drive(
      aRemediation(),
      runbook,
      {
        apply: {
          kind: 'failed',
          message: 'x',
          code: 'KR_ERR_ACTION_FAILED',
          reason: 'StepFailed',
          retryable: true,
        },
      },
      { max: 4 },
    );
    expect(ops.filter((o) => o.startsWith('guard'))).toHaveLength(1);
  });

  it.each<[Guard, GuardRecord['result'], boolean, string]>([
    [guard(), 'Met', false, 'Go'],
    [guard(), 'NotMet', false, 'SkipStep'],
    [guard(), 'NotMet', true, 'SkipRemediation'],
    [guard(), 'Error', false, 'Fail'],
    [guard(), 'Error', true, 'Fail'],
    [guard({ onNotMet: 'SkipStep' }), 'NotMet', true, 'SkipRemediation'],
    [guard({ onError: 'SkipStep' }), 'Error', false, 'SkipStep'],
  ])('guardAction %#: %j %s runbookLevel=%s → %s', (g, result, runbookLevel, want) => {
    expect(guardAction(g, evaluation(result), runbookLevel)).toBe(want);
  });
});

describe('the Runbook guard', () => {
  it('is read after the other start gates, before the start', () => {
    const runbook = rb({ guard: guard(), safety: { requireApproval: true } });
    const waiting = next(observed(aRemediation(), { runbook }));
    expect(waiting.op.kind).toBe('none');
    expect(waiting.status.phase).toBe('AwaitingApproval');
    const approved = aRemediation({ annotations: { [ANNOTATIONS.approvedBy]: 'alice' } });
    const d = next(observed(approved, { runbook }));
    expect(d.op).toEqual({ kind: 'guard', index: -1, attempt: 1 });
    expect(d.status.startedAt).toBeUndefined();
  });

  it('not met: Skipped with reason GuardNotMet, nothing started, and it does not count as a failure', () => {
    const { d, ops } = drive(aRemediation(), rb({ guard: guard() }), { guard: evaluation('NotMet') });
    expect(ops).toEqual(['guard:-1', 'none']);
    expect(d.status.phase).toBe('Skipped');
    expect(d.status.startedAt).toBeUndefined();
    expect(condOf(d, CONDITION_TYPES.succeeded)).toMatchObject({ reason: REASONS.guardNotMet });
    expect(condOf(d, CONDITION_TYPES.succeeded)?.message).toContain('check lag not met: lag NotMet');
    expect(events(d)).toContain('GuardNotMet');
    expect(attemptOutcome(withStatus(aRemediation(), d.status))).toBeUndefined();
  });

  it('met: starts and runs the steps', () => {
    const { d, ops } = drive(aRemediation(), rb({ guard: guard() }), {});
    expect(ops.slice(0, 2)).toEqual(['guard:-1', 'plan:0']);
    expect(d.status.phase).toBe('Succeeded');
    expect(d.status.guard?.result).toBe('Met');
  });

  it('error: Failed with reason GuardError (onError Fail by default)', () => {
    const { d } = drive(aRemediation(), rb({ guard: guard() }), { guard: evaluation('Error') });
    expect(d.status.phase).toBe('Failed');
    expect(condOf(d, CONDITION_TYPES.succeeded)?.reason).toBe(REASONS.guardError);
  });
});

describe('skipped runs and loop protection', () => {
  it('a run skipped mid-way by a guard is no attempt', () => {
    const skipped = aFinished('Failed');
    skipped.status!.conditions = [cond(CONDITION_TYPES.succeeded, 'False', REASONS.guardNotMet)];
    expect(attemptOutcome(skipped)).toBeUndefined();
    const v = loopProtection(
      aRemediation(),
      `Deployment/${NS}/web`,
      rb({ safety: { maxConsecutiveFailures: 1 } }),
      [skipped],
      T0,
    );
    expect(v.blocked).toBe(false);
  });
});

describe('step approval with a deadline', () => {
  const runbook = (over: Partial<NonNullable<RunbookSpec['steps'][number]['requireApproval']>>) =>
    rb({
      steps: [
        aStep({ name: 'flush', requireApproval: { timeout: '5m', ...over } }),
        aStep({ name: 'after', action: 'notify', rolloutRestart: undefined, notify: { message: 'hi' } }),
      ],
    });

  it('waits in AwaitingApproval with the step and its deadline, one Event', () => {
    const rem = aRemediation();
    const d = next(observed(rem, { runbook: runbook({}) }));
    expect(d.op.kind).toBe('none');
    expect(d.status.phase).toBe('AwaitingApproval');
    expect(d.status.awaitingApproval).toEqual({
      step: 'flush',
      index: 0,
      since: '2026-01-01T00:00:00Z',
      deadline: '2026-01-01T00:05:00Z',
    });
    expect(d.status.steps?.[0]?.approval).toEqual({
      requestedAt: '2026-01-01T00:00:00Z',
      deadline: '2026-01-01T00:05:00Z',
    });
    expect(d.requeueAfterMs).toBeGreaterThanOrEqual(300_000);
    expect(events(d)).toContain('AwaitingApproval');
    const again = next(observed(withStatus(rem, d.status), { runbook: runbook({}), clock: at(60_000) }));
    expect(events(again)).toEqual([]);
    expect(again.status.awaitingApproval?.deadline).toBe('2026-01-01T00:05:00Z');
  });

  it('the step annotation approves it: recorded, then planned', () => {
    const rem = aRemediation();
    const waiting = next(observed(rem, { runbook: runbook({}) }));
    const approved = {
      ...withStatus(rem, waiting.status),
      metadata: { ...rem.metadata, annotations: { [stepApprovalAnnotation('flush')]: 'alice' } },
    };
    const d = next(observed(approved, { runbook: runbook({}), clock: at(60_000) }));
    expect(d.op).toEqual({ kind: 'plan', index: 0, attempt: 1 });
    expect(d.status.steps?.[0]?.approval).toMatchObject({
      outcome: 'Approved',
      by: 'alice',
      at: '2026-01-01T00:01:00Z',
    });
    expect(d.status.awaitingApproval).toBeUndefined();
    expect(condOf(d, CONDITION_TYPES.approved)).toMatchObject({ status: 'True', reason: REASONS.approved });
    expect(audits(d)).toContain('approved');
  });

  describe('in serviceAccount mode (ADR 0023)', () => {
    const SA = { mode: 'serviceAccount' as const, defaultServiceAccount: 'default' };
    const cfg = { maxConcurrentRemediations: 20, defaultStepTimeoutMs: 120_000, identity: SA };
    const waitingRem = (): ReturnType<typeof aRemediation> => {
      const rem = aRemediation();
      const waiting = next(observed(rem, { runbook: runbook({}), config: cfg }));
      return withStatus(rem, waiting.status);
    };

    it('the wait names the verified way to approve the step', () => {
      const rem = aRemediation();
      const d = next(observed(rem, { runbook: runbook({}), config: cfg }));
      expect(d.status.phase).toBe('AwaitingApproval');
      expect(condOf(d, CONDITION_TYPES.approved)?.message).toContain(
        `step flush is waiting for a verified approval: kube-remediator approve ${rem.metadata.name ?? ''} -n ${rem.metadata.namespace ?? ''} --step flush`,
      );
    });

    it('the step annotation counts for nothing', () => {
      const rem = waitingRem();
      const annotated = {
        ...rem,
        metadata: { ...rem.metadata, annotations: { [stepApprovalAnnotation('flush')]: 'alice' } },
      };
      const d = next(observed(annotated, { runbook: runbook({}), config: cfg, clock: at(60_000) }));
      expect(d.op.kind).toBe('none');
      expect(d.status.phase).toBe('AwaitingApproval');
      expect(d.status.steps?.[0]?.approval?.outcome).toBeUndefined();
    });

    it('a verified step approval approves it: recorded under the verified name, then planned', () => {
      const rem = waitingRem();
      const approved = withStatus(rem, {
        ...rem.status,
        stepApprovals: [
          {
            step: 'flush',
            by: 'system:serviceaccount:ns:approver',
            at: '2026-01-01T00:00:30Z',
            verified: true,
          },
        ],
      });
      const d = next(observed(approved, { runbook: runbook({}), config: cfg, clock: at(60_000) }));
      expect(d.op).toEqual({ kind: 'plan', index: 0, attempt: 1 });
      expect(d.status.steps?.[0]?.approval).toMatchObject({
        outcome: 'Approved',
        by: 'system:serviceaccount:ns:approver',
      });
      expect(condOf(d, CONDITION_TYPES.approved)?.message).toBe(
        'step flush approved by system:serviceaccount:ns:approver',
      );
    });

    it('a verified rejection while the step waits ends the run Skipped, the record kept', () => {
      const rem = waitingRem();
      const rejection = {
        by: 'system:serviceaccount:ns:approver',
        at: '2026-01-01T00:00:30Z',
        verified: true,
      };
      const d = next(
        observed(withStatus(rem, { ...rem.status, rejection }), { runbook: runbook({}), config: cfg }),
      );
      expect(d.status.phase).toBe('Skipped');
      expect(d.status.rejection).toEqual(rejection);
      expect(d.status.steps?.[0]?.approval?.outcome).toBe('Skipped');
    });

    it('a rejected-by annotation counts for nothing', () => {
      const rem = waitingRem();
      const annotated = {
        ...rem,
        metadata: { ...rem.metadata, annotations: { [ANNOTATIONS.rejectedBy]: 'bob' } },
      };
      expect(next(observed(annotated, { runbook: runbook({}), config: cfg })).status.phase).toBe(
        'AwaitingApproval',
      );
    });
  });

  it('the run-level annotation does not approve a step', () => {
    const rem = aRemediation({ annotations: { [ANNOTATIONS.approvedBy]: 'alice' } });
    expect(next(observed(rem, { runbook: runbook({}) })).status.phase).toBe('AwaitingApproval');
  });

  it.each<
    [string, 'Skip' | 'Proceed' | 'Fail' | undefined, { step0: string; phase: string; outcome: string }]
  >([
    [
      'Skip: the step is skipped, the run goes on',
      'Skip',
      { step0: 'Skipped', phase: 'Succeeded', outcome: 'Skipped' },
    ],
    [
      'Proceed: the step runs without approval',
      'Proceed',
      { step0: 'Succeeded', phase: 'Succeeded', outcome: 'Proceeded' },
    ],
    ['Fail: the step and the run fail', 'Fail', { step0: 'Failed', phase: 'Failed', outcome: 'Failed' }],
    ['default (Fail)', undefined, { step0: 'Failed', phase: 'Failed', outcome: 'Failed' }],
  ])('at the deadline, onTimeout %s', (_name, onTimeout, want) => {
    const rb0 = runbook(onTimeout ? { onTimeout } : {});
    const waiting = next(observed(aRemediation(), { runbook: rb0 }));
    const rem = withStatus(aRemediation(), waiting.status);
    const { d } = drive(rem, rb0, {}, { clock: at(300_000) });
    expect(d.status.steps?.[0]?.phase).toBe(want.step0);
    expect(d.status.steps?.[0]?.approval?.outcome).toBe(want.outcome);
    expect(d.status.phase).toBe(want.phase);
    expect(d.status.awaitingApproval).toBeUndefined();
    if (want.phase === 'Failed')
      expect(condOf(d, CONDITION_TYPES.succeeded)?.reason).toBe(REASONS.approvalTimedOut);
  });

  it('rejection while a step waits ends the run Skipped', () => {
    const rb0 = runbook({});
    const waiting = next(observed(aRemediation(), { runbook: rb0 }));
    const rem = {
      ...withStatus(aRemediation(), waiting.status),
      metadata: { ...aRemediation().metadata, annotations: { [ANNOTATIONS.rejectedBy]: 'bob' } },
    };
    const d = next(observed(rem, { runbook: rb0 }));
    expect(d.status.phase).toBe('Skipped');
    expect(d.status.rejection?.by).toBe('bob');
  });

  it('dry runs do not wait', () => {
    const d = next(observed(aRemediation({ spec: { dryRun: true } }), { runbook: runbook({}) }));
    expect(d.op.kind).toBe('plan');
  });
});

describe('Runbook approval with a deadline (safety.approval)', () => {
  const runbook = (onTimeout: 'Skip' | 'Proceed' | 'Fail') =>
    rb({ safety: { requireApproval: true, approval: { timeout: '5m', onTimeout } } });

  it.each<['Skip' | 'Proceed' | 'Fail', string, string]>([
    ['Skip', 'Skipped', REASONS.notApproved],
    ['Fail', 'Failed', REASONS.approvalTimedOut],
    ['Proceed', 'Running', REASONS.approvalTimedOut],
  ])('onTimeout %s → %s', (onTimeout, phase, reason) => {
    const waiting = next(observed(aRemediation(), { runbook: runbook(onTimeout) }));
    expect(waiting.status.awaitingApproval).toEqual({
      since: '2026-01-01T00:00:00Z',
      deadline: '2026-01-01T00:05:00Z',
    });
    const rem = withStatus(aRemediation(), waiting.status);
    const d = next(observed(rem, { runbook: runbook(onTimeout), clock: at(300_000) }));
    expect(d.status.phase).toBe(phase);
    expect(condOf(d, CONDITION_TYPES.approved)?.reason).toBe(REASONS.approvalTimedOut);
    if (phase !== 'Running') expect(condOf(d, CONDITION_TYPES.succeeded)?.reason).toBe(reason);
    expect(events(d)).toContain('ApprovalTimedOut');
    expect(audits(d)).toContain('approval_timed_out');
    // A Proceed stays proceeded on the next pass (the wait does not start again).
    if (phase === 'Running') {
      const again = next(
        observed(withStatus(rem, d.status), { runbook: runbook(onTimeout), clock: at(301_000) }),
      );
      expect(again.status.phase).not.toBe('AwaitingApproval');
    }
  });
});

describe('escalation on time', () => {
  const runbook = rb({
    steps: [
      aStep({ action: 'waitForRollout', rolloutRestart: undefined, waitForRollout: {}, timeout: '2h' }),
    ],
    escalation: [
      { after: '15m', notify: { message: 'web still down', url: 'http://pager.example/x' } },
      { after: '1h', notify: { message: 'page the DB team' } },
    ],
  });
  const stillWaiting: ActionOutcome = { kind: 'inProgress', message: 'rolling', requeueAfterMs: 5_000 };

  it('before it is due, the pass requeues for it and the steps go on', () => {
    const { d, ops } = drive(aRemediation(), runbook, { apply: stillWaiting }, { max: 3, clock: at(0) });
    expect(ops).toContain('apply:0');
    expect(d.status.escalations).toBeUndefined();
  });

  it('due: checkpointed (Sending) instead of the step operation, sent by the next pass, recorded once', () => {
    const started = drive(aRemediation(), runbook, { apply: stillWaiting }, { max: 2 }).rem;
    const obs = observed(started, { runbook, clock: at(15 * 60_000) });
    const checkpoint = next(obs);
    expect(checkpoint.op.kind).toBe('none');
    expect(checkpoint.requeueAfterMs).toBe(1);
    expect(checkpoint.status.escalations).toEqual([
      { index: 0, after: '15m', state: 'Sending', at: '2026-01-01T00:15:00Z' },
    ]);
    const rem1 = withStatus(started, checkpoint.status);
    const obs1 = observed(rem1, { runbook, clock: at(15 * 60_000) });
    const send = next(obs1);
    expect(send.op).toEqual({ kind: 'escalate', index: 0, attempt: 1 });
    const rec = next(obs1, {
      op: { kind: 'escalate', index: 0, attempt: 1 },
      outcome: { kind: 'done', message: 'sent' },
      at: obs1.now,
    });
    expect(rec.status.escalations?.[0]).toMatchObject({ state: 'Sent', sentAt: '2026-01-01T00:15:00Z' });
    expect(events(rec)).toEqual(['Escalated']);
    expect(audits(rec)).toEqual(['escalated']);
    // Later passes: the step goes on; the first escalation never again; the second waits for 1h.
    const later = next(observed(withStatus(rem1, rec.status), { runbook, clock: at(20 * 60_000) }));
    expect(later.op.kind).toBe('apply');
    expect(later.status.escalations).toHaveLength(1);
    expect(later.requeueAfterMs).toBeLessThanOrEqual(40 * 60_000);
  });

  it('a failed send is recorded Failed with a Warning, not sent again', () => {
    const rem = withStatus(aRemediation(), {
      ...drive(aRemediation(), runbook, { apply: stillWaiting }, { max: 2 }).rem.status,
      escalations: [{ index: 0, after: '15m', state: 'Sending', at: '2026-01-01T00:15:00Z' }],
    });
    const obs = observed(rem, { runbook, clock: at(16 * 60_000) });
    const failed: ActionOutcome = {
      kind: 'failed',
      message: 'HTTP 500',
      code: 'KR_ERR_ACTION_FAILED',
      reason: 'x',
      retryable: true,
    };
    const rec = next(obs, { op: { kind: 'escalate', index: 0, attempt: 1 }, outcome: failed, at: obs.now });
    expect(rec.status.escalations?.[0]?.state).toBe('Failed');
    expect(events(rec)).toEqual(['EscalationFailed']);
    const after = next(observed(withStatus(rem, rec.status), { runbook, clock: at(17 * 60_000) }));
    expect(after.op.kind).toBe('apply');
  });

  it('also after the run finished, while the alert still fires; not once the alert resolved', () => {
    const done = drive(aRemediation(), runbook, {}, { max: 4 }).rem;
    expect(done.status?.phase).toBe('Succeeded');
    const firing = next(observed(done, { runbook, clock: at(15 * 60_000) }));
    expect(firing.status.escalations?.[0]?.state).toBe('Sending');
    const resolved = {
      ...done,
      spec: { ...done.spec, alert: { ...done.spec.alert!, status: 'resolved' as const } },
    };
    const quiet = next(observed(resolved, { runbook, clock: at(15 * 60_000) }));
    expect(quiet.status.escalations).toBeUndefined();
  });

  it('an escalation more than an hour past due is not sent (old Remediations after an upgrade)', () => {
    const done = drive(aRemediation(), runbook, {}, { max: 4 }).rem;
    const d = next(observed(done, { runbook, clock: at(15 * 60_000 + 3_600_001) }));
    expect(d.status.escalations?.map((e) => e.index)).toEqual([1]);
    const later = next(observed(done, { runbook, clock: at(3 * 3_600_000) }));
    expect(later.status.escalations).toBeUndefined();
  });

  it('dry runs never escalate', () => {
    const dry = aRemediation({ spec: { dryRun: true } });
    const d = next(observed(dry, { runbook, clock: at(2 * 3600_000) }));
    expect(d.status.escalations).toBeUndefined();
  });
});

describe('ineffective runs', () => {
  const key = `Deployment/${NS}/web`;
  const succeededAt = (completedAt: string, name = 'prev') => aFinished('Succeeded', { name, completedAt });

  it.each<[string, string, Partial<NonNullable<RunbookSpec['safety']>>, boolean]>([
    ['fired again 5m after a success: ineffective, blocks with 1', '2025-12-31T23:55:00Z', {}, true],
    ['fired again 20m after: effective', '2025-12-31T23:40:00Z', {}, false],
    ['a 30m window', '2025-12-31T23:40:00Z', { ineffectiveWindow: '30m' }, true],
    ['0s turns it off', '2025-12-31T23:59:00Z', { ineffectiveWindow: '0s' }, false],
  ])('%s', (_name, completedAt, safety, blocked) => {
    const runbook = rb({ safety: { maxConsecutiveFailures: 1, ...safety } });
    const v = loopProtection(aRemediation(), key, runbook, [succeededAt(completedAt)], T0);
    expect(v.blocked).toBe(blocked);
    if (blocked) expect(v.failures).toEqual(['prev (ineffective)']);
  });

  it('a new Remediation says so (PreviousRunIneffective, reason Ineffective) and loop protection blocks it', () => {
    const runbook = rb({ safety: { maxConsecutiveFailures: 2 } });
    const peers = [
      succeededAt('2025-12-31T23:55:00Z', 'second'),
      aFinished('Failed', { name: 'first', completedAt: '2025-12-31T23:30:00Z' }),
    ];
    const d = next(observed(aRemediation(), { runbook, peers }));
    expect(condOf(d, CONDITION_TYPES.previousRunIneffective)).toMatchObject({
      status: 'True',
      reason: REASONS.ineffective,
    });
    expect(events(d)).toContain('Ineffective');
    expect(d.status.phase).toBe('Blocked');
    expect(condOf(d, CONDITION_TYPES.blocked)?.message).toContain('second (ineffective)');
  });

  it('an effective success in between lets it through', () => {
    const runbook = rb({ safety: { maxConsecutiveFailures: 1 } });
    const d = next(observed(aRemediation(), { runbook, peers: [succeededAt('2025-12-31T22:00:00Z')] }));
    expect(condOf(d, CONDITION_TYPES.previousRunIneffective)).toBeUndefined();
    expect(d.op.kind).toBe('plan');
  });
});

describe('four eyes (approvals.fourEyes)', () => {
  const SA4 = { mode: 'serviceAccount' as const, defaultServiceAccount: 'default', fourEyes: true };
  const cfg = { maxConcurrentRemediations: 20, defaultStepTimeoutMs: 120_000, identity: SA4 };
  const at0 = '2026-01-01T00:00:00Z';
  const createdBy = (who: string, status: Remediation['status'] = {}): Remediation => {
    const rem = aRemediation({ annotations: { [ANNOTATIONS.createdBy]: who } });
    return withStatus(rem, status ?? {});
  };

  it('the creator’s own verified approval of the run counts as none: SelfApprovalRefused, a Warning', () => {
    const runbook = rb({ safety: { requireApproval: true } });
    const rem = createdBy('alice', { approval: { by: 'alice', at: at0, verified: true } });
    const d = next(observed(rem, { runbook, config: cfg }));
    expect(d.op.kind).toBe('none');
    expect(d.status.phase).toBe('AwaitingApproval');
    expect(condOf(d, CONDITION_TYPES.approved)).toMatchObject({
      status: 'False',
      reason: REASONS.selfApproval,
    });
    expect(condOf(d, CONDITION_TYPES.approved)?.message).toContain(
      'approval by alice refused: they created this Remediation, and four eyes (approvals.fourEyes) needs another person',
    );
    expect(events(d)).toEqual(['SelfApprovalRefused']);
  });

  it('another person’s approval of the run goes', () => {
    const runbook = rb({ safety: { requireApproval: true } });
    const rem = createdBy('alice', { approval: { by: 'bob', at: at0, verified: true } });
    const d = next(observed(rem, { runbook, config: cfg }));
    expect(condOf(d, CONDITION_TYPES.approved)).toMatchObject({ status: 'True', reason: REASONS.approved });
  });

  it('off: the creator may approve', () => {
    const runbook = rb({ safety: { requireApproval: true } });
    const rem = createdBy('alice', { approval: { by: 'alice', at: at0, verified: true } });
    const off = { ...cfg, identity: { ...SA4, fourEyes: false } };
    const d = next(observed(rem, { runbook, config: off }));
    expect(condOf(d, CONDITION_TYPES.approved)?.status).toBe('True');
  });

  it('the creator’s approval of a step counts as none, with the same reason', () => {
    const runbook = rb({ steps: [aStep({ name: 'flush', requireApproval: {} })] });
    const first = next(observed(createdBy('alice'), { runbook, config: cfg }));
    const rem = createdBy('alice', {
      ...first.status,
      stepApprovals: [{ step: 'flush', by: 'alice', at: at0, verified: true }],
    });
    const d = next(observed(rem, { runbook, config: cfg }));
    expect(d.op.kind).toBe('none');
    expect(d.status.steps?.[0]?.approval?.outcome).toBeUndefined();
    expect(condOf(d, CONDITION_TYPES.approved)).toMatchObject({ reason: REASONS.selfApproval });
    expect(condOf(d, CONDITION_TYPES.approved)?.message).toContain('step flush: approval by alice refused');
    expect(events(d)).toContain('SelfApprovalRefused');
  });
});
