/**
 * The work after resolve (a Runbook's `onResolve`), inside the revert stage of a revert on
 * resolve: `before` steps, the gate (the step `revert-gate`, a waitUntil with the gate's
 * timeout), the revert itself (revert.ts), `after` steps. Each is a record in `status.steps`
 * marked with its `stage`, copied at start, and runs as every step does: gates, plan (the
 * checkpoint), apply, retries; only the end of a stage is decided here.
 *
 *   a `before` or `after` step fails    Reverted=False, reason ResolveStepFailed (a `before`
 *                                       failure reverts nothing)
 *   the gate waits                      Reverted=Unknown, reason AwaitingRevertGate
 *   the gate times out, onTimeout Keep  Reverted=False, reason RevertGateTimeout: the change
 *                                       stays (counted as revert_failed, which alerts)
 *   the gate times out, onTimeout Revert  the revert goes on (the gate step has
 *                                       continueOnFailure, which is how its copy records it)
 */
import { CONDITION_TYPES, EVENT_REASONS, REASONS } from '../../api/v1alpha1/constants.js';
import type { RemediationStatus, StepStage, StepStatus } from '../../api/v1alpha1/schema.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import { TIMEOUT_SLACK_MS, type ActionInfo, type Decision } from './decision.js';
import { runStepGates } from './gates.js';
import { remediationName, type Pass } from './pass.js';
import { failStep } from './record.js';
import { stepSpec } from './resolve.js';
import { stepTimeoutMs } from './retry.js';
import { revertSet } from './revert-set.js';
import { BEFORE_APPLY, BEFORE_PLAN } from './step-gates.js';

/** Whether the record belongs to the run itself (not to the work after resolve). */
export const isRunStep = (rec: StepStatus): boolean => rec.stage === undefined;

export function hasResolveWork(s: Readonly<RemediationStatus>): boolean {
  return (s.steps ?? []).some((r) => r.stage !== undefined);
}

/**
 * A revert on resolve has something to do: steps to undo, or work after resolve on a run that
 * succeeded (a run that failed without changing anything has no switch-back to verify).
 */
export function resolveWorkDue(
  s: Readonly<RemediationStatus>,
  actionInfo: (name: StepStatus['action']) => ActionInfo | undefined,
): boolean {
  if (revertSet(s, actionInfo, 'resolve').length > 0) return true;
  return hasResolveWork(s) && findCondition(s.conditions, CONDITION_TYPES.succeeded)?.status === 'True';
}

const STAGE_FIELD: Record<StepStage, string> = {
  BeforeRevert: 'onResolve.before',
  RevertGate: 'onResolve.gate',
  AfterRevert: 'onResolve.after',
};

/** Ends the revert stage without (all of) the revert: a person must look. */
function endKept(p: Pass, reason: string, msg: string, rec: StepStatus): Decision {
  p.cond({ type: CONDITION_TYPES.reverted, status: 'False', reason, message: msg });
  p.cond({ type: CONDITION_TYPES.progressing, status: 'False', reason, message: msg });
  p.s.completedAt = p.nowMilli;
  p.s.message = msg;
  p.event('Warning', reason, msg);
  const target = p.mainTarget();
  if (target)
    p.event('Warning', reason, `kube-remediator: remediation ${remediationName(p.rem)}: ${msg}`, target);
  // phase Failed: counted as revert_failed, whose alert tells the on-call that a change stayed.
  p.audit('reverted', msg, { phase: 'Failed', details: { reason, step: rec.name } });
  return p.done();
}

/** The gate waits (Reverted=Unknown, AwaitingRevertGate), with an Event and audit row once. */
function awaitingGate(p: Pass, rec: StepStatus): void {
  const msg = `revert waits for its gate (${rec.spec ? gateChecks(rec) : 'checks'}): ${rec.message ?? 'starting'}`;
  const changed = p.cond({
    type: CONDITION_TYPES.reverted,
    status: 'Unknown',
    reason: REASONS.awaitingRevertGate,
    message: msg,
  });
  p.cond({
    type: CONDITION_TYPES.progressing,
    status: 'True',
    reason: REASONS.awaitingRevertGate,
    message: msg,
  });
  if (changed) {
    const timeout = stepSpec(rec)?.timeout ?? '';
    const what = `the revert waits until ${gateChecks(rec)} pass${timeout ? `, at most ${timeout}` : ''}`;
    p.event('Normal', EVENT_REASONS.awaitingRevertGate, what);
    p.audit('blocked', what, {
      step: rec.name,
      phase: 'Reverting',
      details: { reason: REASONS.awaitingRevertGate },
    });
  }
}

function gateChecks(rec: StepStatus): string {
  return (stepSpec(rec)?.waitUntil?.checks ?? []).map((c) => c.name).join(', ');
}

/** Back to "reverting" once the gate is behind (passed, or timed out with onTimeout Revert). */
function gatePassed(p: Pass, rec: StepStatus): void {
  const timedOut = rec.phase === 'Failed';
  const msg = timedOut
    ? `revert gate did not pass (${rec.message ?? ''}); onTimeout: Revert, reverting anyway`
    : `revert gate passed: ${rec.message ?? ''}`;
  const wasWaiting =
    findCondition(p.s.conditions, CONDITION_TYPES.reverted)?.reason === REASONS.awaitingRevertGate;
  p.cond({
    type: CONDITION_TYPES.reverted,
    status: 'Unknown',
    reason: REASONS.revertRequested,
    message: msg,
  });
  if (wasWaiting) {
    p.event(
      timedOut ? 'Warning' : 'Normal',
      timedOut ? EVENT_REASONS.revertGateTimeout : EVENT_REASONS.revertGateOpen,
      msg,
    );
    p.audit('step_finished', msg, { step: rec.name, phase: rec.phase });
  }
}

/**
 * The next operation of one stage, its end (a decision that stops the revert stage), or
 * undefined when the stage is done and the revert goes on.
 */
function runStage(p: Pass, stage: StepStage): Decision | undefined {
  const steps = p.s.steps ?? [];
  const failed = steps.find(
    (r) => r.stage === stage && r.phase === 'Failed' && !stepSpec(r)?.continueOnFailure,
  );
  if (failed) {
    if (stage === 'RevertGate')
      return endKept(
        p,
        REASONS.revertGateTimeout,
        `not reverted: the revert gate did not pass (${failed.message ?? ''}); onTimeout: Keep leaves the change in place for a person`,
        failed,
      );
    const done = stage === 'AfterRevert' ? 'reverted, but ' : 'not reverted: ';
    return endKept(
      p,
      REASONS.resolveStepFailed,
      `${done}${STAGE_FIELD[stage]} step ${failed.name} failed: ${failed.message ?? ''}`,
      failed,
    );
  }
  const idx = steps.findIndex((r) => r.stage === stage && (r.phase === 'Pending' || r.phase === 'Running'));
  if (idx < 0) {
    const gate = steps.find((r) => r.stage === 'RevertGate');
    if (stage === 'RevertGate' && gate) gatePassed(p, gate);
    return undefined;
  }
  const rec = steps[idx]!;
  const status = (): void => {
    if (stage === 'RevertGate') return awaitingGate(p, rec);
    p.cond({
      type: CONDITION_TYPES.progressing,
      status: 'True',
      reason: REASONS.resolveStepRunning,
      message: `${STAGE_FIELD[stage]} step ${rec.name} running`,
    });
  };
  if (rec.phase === 'Pending') {
    const stop = runStepGates(p, idx, BEFORE_PLAN);
    if (stop && 'decision' in stop) return stop.decision;
    if (stop && 'skipped' in stop) return runStage(p, stage);
    if (stop) {
      failStep(p, idx, stop.failedAttempt);
      return runStage(p, stage);
    }
    status();
    return p.done({ kind: 'plan', index: idx, attempt: (rec.attempt ?? 0) + 1 });
  }
  const stop = runStepGates(p, idx, BEFORE_APPLY);
  if (stop && 'decision' in stop) return stop.decision;
  if (stop && 'skipped' in stop) return runStage(p, stage);
  if (stop) {
    failStep(p, idx, stop.failedAttempt);
    return runStage(p, stage);
  }
  status();
  const deadline = Date.parse(rec.startedAt ?? p.nowText) + stepTimeoutMs(rec, p.obs.config);
  p.requeue(deadline - p.now.getTime() + TIMEOUT_SLACK_MS);
  return p.done({ kind: 'apply', index: idx, attempt: rec.attempt ?? 1 });
}

/** Before the revert: the `before` steps, then the gate. Undefined: go on with the revert. */
export function beforeRevert(p: Pass): Decision | undefined {
  return runStage(p, 'BeforeRevert') ?? runStage(p, 'RevertGate');
}

/** After the revert: the `after` steps. Undefined: the work after resolve is done. */
export function afterRevert(p: Pass): Decision | undefined {
  return runStage(p, 'AfterRevert');
}
