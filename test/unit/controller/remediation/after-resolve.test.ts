/**
 * The work after resolve (onResolve: before, gate, after), driven through `next` as the
 * reconciler drives it: gate met at once, after a while, timing out with Keep and with Revert;
 * a failing before or after step; what onResolve never does (onFailure reverts, dry runs).
 */
import { describe, expect, it } from '@jest/globals';
import { CONDITION_TYPES, EVENT_REASONS, REASONS } from '../../../../src/api/v1alpha1/constants.js';
import type { OnResolve, Remediation, Runbook } from '../../../../src/api/v1alpha1/schema.js';
import type { ActionOutcome } from '../../../../src/actions/types.js';
import type { Decision, Observed } from '../../../../src/controller/remediation/decision.js';
import { next } from '../../../../src/controller/remediation/protocol.js';
import { findCondition } from '../../../../src/api/v1alpha1/conditions.js';
import { FakeClock } from '../../../../src/util/clock.js';
import { T0, aRemediation, aRunbook, aStep, observed, withStatus } from './builders.js';

const ping = { name: 'ping', redisCheck: { url: 'redis://redis:6379/0' } };
const pingStep = aStep({
  name: 'ping-store',
  action: 'redisCheck',
  rolloutRestart: undefined,
  redisCheck: { url: 'redis://redis:6379/0' },
});
const healthStep = aStep({
  name: 'verify-health',
  action: 'httpCheck',
  rolloutRestart: undefined,
  httpCheck: { url: 'http://web/health' },
});

function runbook(onResolve: OnResolve | undefined, extra: Partial<Runbook['spec']> = {}): Runbook {
  return aRunbook({
    spec: {
      steps: [
        aStep({ name: 'restart' }),
        aStep({
          name: 'env',
          action: 'setEnv',
          rolloutRestart: undefined,
          setEnv: { env: [{ name: 'DEDUP_BACKEND', value: 'memory' }] },
          revertOnResolve: true,
        }),
      ],
      ...(onResolve ? { onResolve } : {}),
      ...extra,
    },
  });
}

const FULL: OnResolve = {
  before: [pingStep],
  gate: { checks: [ping], timeout: '5m', interval: '15s' },
  after: [healthStep],
};
// Record layout of FULL: 0 restart, 1 env, 2 ping-store, 3 revert-gate, 4 verify-health.

const done = (message = 'ok'): ActionOutcome => ({ kind: 'done', message });
const waiting = (ms = 15_000): ActionOutcome => ({
  kind: 'inProgress',
  message: 'waiting: ping: Error: connect ECONNREFUSED',
  requeueAfterMs: ms,
});
const failed = (): ActionOutcome => ({
  kind: 'failed',
  message: 'GET http://web/health: 503',
  code: 'KR_ERR_ACTION_FAILED',
  reason: 'CheckFailed',
  retryable: false,
});

interface Driven {
  rem: Remediation;
  ops: string[];
  decisions: Decision[];
}

/** Passes as the reconciler makes them, until nothing more happens. */
function drive(
  rem: Remediation,
  rb: Runbook,
  opts: { outcome?: (index: number, n: number) => ActionOutcome; clock?: FakeClock; dryRun?: boolean } = {},
): Driven {
  const ops: string[] = [];
  const decisions: Decision[] = [];
  const calls = new Map<number, number>();
  let cur = rem;
  for (let i = 0; i < 200; i++) {
    const obs: Observed = observed(cur, { runbook: rb, clock: opts.clock });
    let d = next(obs);
    const op = d.op;
    if (op.kind === 'plan') {
      ops.push(`plan ${op.index}`);
      d = next(obs, { op, result: { plan: { before: { n: op.index } } } });
    } else if (op.kind === 'apply') {
      const n = (calls.get(op.index) ?? 0) + 1;
      calls.set(op.index, n);
      ops.push(`apply ${op.index}`);
      d = next(obs, { op, outcome: opts.outcome?.(op.index, n) ?? done(), at: obs.now });
    } else if (op.kind === 'revert') {
      ops.push(`revert ${op.index}`);
      d = next(obs, { op, outcome: done('restored'), at: obs.now });
    }
    decisions.push(d);
    const written = withStatus(cur, d.status);
    if (op.kind === 'none' && JSON.stringify(written.status) === JSON.stringify(cur.status)) break;
    cur = written;
    if (op.kind === 'none' && d.requeueAfterMs === undefined) break;
    if (opts.clock && d.requeueAfterMs && d.requeueAfterMs > 1) opts.clock.advance(d.requeueAfterMs);
  }
  return { rem: cur, ops, decisions };
}

/** The run, done, then its alert resolved. */
function resolvedRun(rb: Runbook, clock?: FakeClock): Remediation {
  const { rem, ops } = drive(aRemediation(), rb, { clock });
  expect(ops).toEqual(['plan 0', 'apply 0', 'plan 1', 'apply 1']);
  expect(rem.status?.phase).toBe('Succeeded');
  return { ...rem, spec: { ...rem.spec, alert: { ...rem.spec.alert!, status: 'resolved' } } };
}

const condOf = (r: Remediation, type: string) => findCondition(r.status?.conditions, type);
const eventReasons = (ds: Decision[]) =>
  ds.flatMap((d) => d.notes.flatMap((n) => (n.kind === 'event' ? [n.reason] : [])));

describe('onResolve: copied at start, idle until the alert resolves', () => {
  it('the records of onResolve are copied with the steps, marked with their stage, and wait', () => {
    const { rem } = drive(aRemediation(), runbook(FULL));
    const steps = rem.status!.steps!;
    expect(steps.map((s) => [s.name, s.stage ?? '', s.phase])).toEqual([
      ['restart', '', 'Succeeded'],
      ['env', '', 'Succeeded'],
      ['ping-store', 'BeforeRevert', 'Pending'],
      ['revert-gate', 'RevertGate', 'Pending'],
      ['verify-health', 'AfterRevert', 'Pending'],
    ]);
    expect(steps[3]!.spec).toMatchObject({
      action: 'waitUntil',
      timeout: '5m',
      waitUntil: { checks: [ping], interval: '15s' },
    });
    // Keep: the gate's step fails the stage (no continueOnFailure).
    expect(steps[3]!.spec).not.toHaveProperty('continueOnFailure');
    expect(rem.status?.progress).toBe('2/2');
    expect(rem.status?.message).toBe('all 2 steps succeeded');
  });
});

describe('onResolve: the gate', () => {
  it('met at once: before, gate, revert, after, Reverted', () => {
    const rb = runbook(FULL);
    const { rem, ops, decisions } = drive(resolvedRun(rb), rb);
    expect(ops).toEqual(['plan 2', 'apply 2', 'plan 3', 'apply 3', 'revert 1', 'plan 4', 'apply 4']);
    expect(rem.status?.phase).toBe('Reverted');
    expect(rem.status?.steps?.map((s) => s.phase)).toEqual([
      'Succeeded',
      'Reverted',
      'Succeeded',
      'Succeeded',
      'Succeeded',
    ]);
    expect(condOf(rem, CONDITION_TYPES.reverted)).toMatchObject({
      status: 'True',
      reason: REASONS.revertSucceeded,
    });
    expect(rem.status?.message).toBe('reverted 1 step; onResolve.after done (1 step)');
    expect(rem.status?.progress).toBe('5/5');
    const reasons = eventReasons(decisions);
    expect(reasons.filter((r) => r === EVENT_REASONS.awaitingRevertGate)).toHaveLength(1);
    expect(reasons.filter((r) => r === EVENT_REASONS.revertGateOpen)).toHaveLength(1);
  });

  it('met after a while: Reverting with AwaitingRevertGate meanwhile, re-evaluated at the interval', () => {
    const rb = runbook(FULL);
    const clock = new FakeClock(T0);
    const start = resolvedRun(rb, clock);
    const { rem, ops, decisions } = drive(start, rb, {
      clock,
      outcome: (i, n) => (i === 3 && n < 4 ? waiting() : done('every check passes: ping')),
    });
    expect(ops).toEqual([
      'plan 2',
      'apply 2',
      'plan 3',
      'apply 3',
      'apply 3',
      'apply 3',
      'apply 3',
      'revert 1',
      'plan 4',
      'apply 4',
    ]);
    const waitingOnes = decisions.filter(
      (d) =>
        findCondition(d.status.conditions, CONDITION_TYPES.reverted)?.reason === REASONS.awaitingRevertGate,
    );
    expect(waitingOnes.length).toBeGreaterThanOrEqual(3);
    for (const d of waitingOnes) {
      expect(d.status.phase).toBe('Reverting');
      expect(findCondition(d.status.conditions, CONDITION_TYPES.progressing)?.reason).toBe(
        REASONS.awaitingRevertGate,
      );
    }
    // the interval, not a sleep: each look asks to be requeued after 15 s
    const gateLooks = decisions.filter(
      (d) => d.status.steps?.[3]?.phase === 'Running' && d.op.kind === 'none',
    );
    expect(gateLooks.some((d) => d.requeueAfterMs === 15_000)).toBe(true);
    expect(eventReasons(decisions).filter((r) => r === EVENT_REASONS.awaitingRevertGate)).toHaveLength(1);
    expect(rem.status?.phase).toBe('Reverted');
  });

  it('times out with onTimeout Keep (the default): nothing reverted, RevertGateTimeout, Event, audit', () => {
    const rb = runbook(FULL);
    const clock = new FakeClock(T0);
    const { rem, ops, decisions } = drive(resolvedRun(rb, clock), rb, {
      clock,
      outcome: (i) => (i === 3 ? waiting() : done()),
    });
    expect(ops).not.toContain('revert 1');
    expect(ops).not.toContain('plan 4');
    expect(ops.filter((o) => o === 'apply 3').length).toBeGreaterThan(10);
    expect(rem.status?.phase).toBe('Failed');
    expect(rem.status?.steps?.map((s) => s.phase)).toEqual([
      'Succeeded',
      'Succeeded',
      'Succeeded',
      'Failed',
      'Pending',
    ]);
    expect(rem.status?.steps?.[3]?.message).toMatch(/timed out after 5m/);
    expect(condOf(rem, CONDITION_TYPES.reverted)).toMatchObject({
      status: 'False',
      reason: REASONS.revertGateTimeout,
    });
    expect(rem.status?.message).toMatch(/^not reverted: the revert gate did not pass .*onTimeout: Keep/);
    expect(condOf(rem, CONDITION_TYPES.succeeded)?.status).toBe('True');
    expect(eventReasons(decisions)).toContain(EVENT_REASONS.revertGateTimeout);
    const ends = decisions.flatMap((d) =>
      d.notes.flatMap((n) => (n.kind === 'audit' && n.event === 'reverted' ? [n] : [])),
    );
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ phase: 'Failed', details: { reason: REASONS.revertGateTimeout } });
    // the deadline is the gate's timeout from its checkpoint: about 5 minutes of looks
    const gateStarted = Date.parse(rem.status!.steps![3]!.startedAt!);
    const gateEnded = Date.parse(rem.status!.steps![3]!.finishedAt!);
    expect(gateEnded - gateStarted).toBeGreaterThanOrEqual(300_000);
    expect(gateEnded - gateStarted).toBeLessThan(320_000);
  });

  it('times out with onTimeout Revert: reverts anyway, then the after steps', () => {
    const rb = runbook({ ...FULL, gate: { ...FULL.gate!, onTimeout: 'Revert' } });
    const clock = new FakeClock(T0);
    const { rem, ops, decisions } = drive(resolvedRun(rb, clock), rb, {
      clock,
      outcome: (i) => (i === 3 ? waiting() : done()),
    });
    expect(rem.status?.steps?.[3]?.spec).toMatchObject({ continueOnFailure: true });
    expect(ops.slice(-3)).toEqual(['revert 1', 'plan 4', 'apply 4']);
    expect(rem.status?.phase).toBe('Reverted');
    expect(rem.status?.steps?.[3]?.phase).toBe('Failed');
    expect(eventReasons(decisions).filter((r) => r === EVENT_REASONS.revertGateTimeout)).toHaveLength(1);
  });

  it('a restart while the gate waits resumes it: the deadline counts from the checkpoint', () => {
    const rb = runbook(FULL);
    const clock = new FakeClock(T0);
    const first = drive(resolvedRun(rb, clock), rb, {
      clock,
      outcome: (i) => (i === 3 ? waiting() : done()),
    });
    // the same status, seen later by a new process: the gate is Running and past its deadline
    const saw = first.decisions.find((d) => d.status.steps?.[3]?.phase === 'Running')!;
    const restarted = withStatus(first.rem, saw.status);
    const late = new FakeClock(new Date(Date.parse(saw.status.steps![3]!.startedAt!) + 301_000));
    const d = next(observed(restarted, { runbook: rb, clock: late }));
    expect(d.op.kind).toBe('none');
    expect(findCondition(d.status.conditions, CONDITION_TYPES.reverted)?.reason).toBe(
      REASONS.revertGateTimeout,
    );
  });
});

describe('onResolve: before and after steps', () => {
  it('a before step that fails: nothing reverted, ResolveStepFailed', () => {
    const rb = runbook(FULL);
    const { rem, ops } = drive(resolvedRun(rb), rb, { outcome: (i) => (i === 2 ? failed() : done()) });
    expect(ops).toEqual(['plan 2', 'apply 2']);
    expect(rem.status?.phase).toBe('Failed');
    expect(condOf(rem, CONDITION_TYPES.reverted)).toMatchObject({
      status: 'False',
      reason: REASONS.resolveStepFailed,
    });
    expect(rem.status?.message).toMatch(/^not reverted: onResolve.before step ping-store failed/);
    expect(rem.status?.steps?.[1]?.phase).toBe('Succeeded');
  });

  it('an after step that fails: the revert is done, ResolveStepFailed says the check after it failed', () => {
    const rb = runbook(FULL);
    const { rem, ops } = drive(resolvedRun(rb), rb, { outcome: (i) => (i === 4 ? failed() : done()) });
    expect(ops).toEqual(['plan 2', 'apply 2', 'plan 3', 'apply 3', 'revert 1', 'plan 4', 'apply 4']);
    expect(rem.status?.steps?.[1]?.phase).toBe('Reverted');
    expect(condOf(rem, CONDITION_TYPES.reverted)).toMatchObject({
      status: 'False',
      reason: REASONS.resolveStepFailed,
    });
    expect(rem.status?.message).toMatch(/^reverted, but onResolve.after step verify-health failed/);
  });

  it('a gate alone (no before, no after)', () => {
    const rb = runbook({ gate: FULL.gate! });
    const { rem, ops } = drive(resolvedRun(rb), rb);
    expect(ops).toEqual(['plan 2', 'apply 2', 'revert 1']);
    expect(rem.status?.phase).toBe('Reverted');
  });

  it('only after steps and nothing to revert (a ramp): they run when the alert resolves', () => {
    const rb = aRunbook({ spec: { steps: [aStep()], onResolve: { after: [healthStep] } } });
    const { rem: ran } = drive(aRemediation(), rb);
    const resolved = {
      ...ran,
      spec: { ...ran.spec, alert: { ...ran.spec.alert!, status: 'resolved' as const } },
    };
    const { rem, ops } = drive(resolved, rb);
    expect(ops).toEqual(['plan 1', 'apply 1']);
    expect(rem.status?.phase).toBe('Reverted');
    expect(rem.status?.message).toBe('reverted 0 steps; onResolve.after done (1 step)');
  });
});

describe('onResolve: what it never does', () => {
  it('an onFailure revert runs no onResolve step', () => {
    const rb = runbook(FULL, { onFailure: { revert: true } });
    const rbFailing = {
      ...rb,
      spec: {
        ...rb.spec,
        steps: [
          ...rb.spec.steps,
          aStep({ name: 'check', action: 'waitForRollout', rolloutRestart: undefined, waitForRollout: {} }),
        ],
      },
    };
    const { rem, ops } = drive(aRemediation(), rbFailing, { outcome: (i) => (i === 2 ? failed() : done()) });
    expect(ops).toEqual(['plan 0', 'apply 0', 'plan 1', 'apply 1', 'plan 2', 'apply 2', 'revert 1']);
    expect(rem.status?.phase).toBe('Reverted');
    expect(rem.status?.steps?.filter((s) => s.stage).every((s) => s.phase === 'Pending')).toBe(true);
  });

  it('a dry run runs no onResolve step', () => {
    const rb = runbook(FULL);
    const { rem: ran } = drive(aRemediation({ spec: { dryRun: true } }), rb);
    const resolved = {
      ...ran,
      spec: { ...ran.spec, alert: { ...ran.spec.alert!, status: 'resolved' as const } },
    };
    const { ops } = drive(resolved, rb);
    expect(ops).toEqual([]);
  });

  it('a failed run that changed nothing runs no after step on resolve', () => {
    const rb = aRunbook({ spec: { steps: [aStep()], onResolve: { after: [healthStep] } } });
    const { rem: ran } = drive(aRemediation(), rb, { outcome: () => failed() });
    expect(ran.status?.phase).toBe('Failed');
    const resolved = {
      ...ran,
      spec: { ...ran.spec, alert: { ...ran.spec.alert!, status: 'resolved' as const } },
    };
    expect(drive(resolved, rb).ops).toEqual([]);
  });
});
