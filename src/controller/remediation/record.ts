/**
 * Recording an effect (pure too): the status to write after the reconciler ran the operation a
 * decision asked for. plan() becomes the checkpoint, written before apply() can run; apply()
 * and revert() outcomes become the step's record, with one retry rule for both (retry.ts).
 */
import { CONDITION_TYPES, EVENT_REASONS, REASONS } from '../../api/v1alpha1/constants.js';
import type { StepStatus } from '../../api/v1alpha1/schema.js';
import type { ActionOutcome } from '../../actions/types.js';
import { ERROR_CODES } from '../../util/errors.js';
import {
  CHECKPOINT_REQUEUE_MS,
  TIMEOUT_SLACK_MS,
  TRANSIENT_REQUEUE_MS,
  type ApplyOperation,
  type PlanOperation,
  type PlanResult,
  type RevertOperation,
  type StepFailure,
} from './decision.js';
import { finishFailed } from './finish.js';
import { layeredOn } from './layering.js';
import type { Pass } from './pass.js';
import { stepSpec } from './resolve.js';
import { REVERT_MAX_ATTEMPTS, retryOrGiveUp, stepMaxAttempts, stepTimeoutMs } from './retry.js';

/**
 * Records a failed attempt: retry with backoff while attempts remain and the failure is
 * retryable, else the step fails (and with it the Remediation, unless continueOnFailure).
 */
export function failStep(p: Pass, idx: number, f: StepFailure): void {
  const rec = p.s.steps![idx]!;
  const attempt = rec.attempt ?? 1;
  const v = retryOrGiveUp('attempt', attempt, stepMaxAttempts(rec), f, p.now);
  if (v.retry) {
    rec.phase = 'Pending';
    rec.nextAttemptAt = v.at;
    rec.message = v.message;
    p.cond({
      type: CONDITION_TYPES.progressing,
      status: 'True',
      reason: REASONS.stepRetrying,
      message: `step ${rec.name}: ${rec.message}`,
    });
    p.event('Warning', EVENT_REASONS.stepRetrying, `step ${rec.name}: ${rec.message}`);
    p.audit('step_finished', rec.message, {
      step: rec.name,
      phase: 'Retrying',
      details: { attempt, reason: f.reason },
    });
    p.requeue(v.delayMs);
    return;
  }
  rec.phase = 'Failed';
  rec.finishedAt = p.nowText;
  delete rec.nextAttemptAt;
  rec.message = v.message;
  p.audit('step_finished', rec.message, {
    step: rec.name,
    phase: 'Failed',
    details: { attempt, reason: f.reason, ...(rec.output ? { output: rec.output } : {}) },
  });
  // A step of the work after resolve ends its stage, not the run (after-resolve.ts).
  if (!stepSpec(rec)?.continueOnFailure && !rec.stage) {
    // The run's RemediationFailed names the step and why: one Event for one outcome (ADR 0026).
    finishFailed(p, f.reason, `step ${rec.name} failed: ${rec.message}`);
  } else {
    p.event('Warning', EVENT_REASONS.stepFailed, `step ${rec.name} (${rec.action}) failed: ${rec.message}`);
    p.requeue(CHECKPOINT_REQUEUE_MS);
  }
}

/** The checkpoint after plan(): Running, attempt, startedAt, before/after, written BEFORE apply. */
export function recordPlan(p: Pass, op: PlanOperation, result: PlanResult): void {
  const rec = p.s.steps![op.index]!;
  rec.attempt = op.attempt;
  delete rec.nextAttemptAt;
  delete rec.finishedAt;
  if ('error' in result) return failStep(p, op.index, result.error);
  const { plan } = result;
  if (plan.refused) {
    // Refusals (bounds, paused rollout) are decided before anything is sent: never retried.
    const { reason, message } = plan.refused;
    return failStep(p, op.index, { reason, message: `refused: ${message}`, retryable: false });
  }
  rec.phase = 'Running';
  rec.startedAt = p.nowText;
  rec.message = `attempt ${op.attempt} started`;
  // A retry keeps the first `before`: an earlier attempt may have landed, and then the new
  // plan's `before` is already the changed value, which a revert would "restore".
  if (!(op.attempt > 1 && rec.before)) {
    if (plan.before) rec.before = plan.before;
    else delete rec.before;
  }
  if (plan.after) rec.after = plan.after;
  else delete rec.after;
  // Reverts unwind newest first: note whose change this one changes again (layering.ts). A
  // retry keeps the first attempt's, as it keeps its `before`.
  if (!(op.attempt > 1 && rec.layeredOn)) {
    const on = p.dryRun ? [] : layeredOn(p.rem, rec, p.peers());
    if (on.length > 0) rec.layeredOn = on;
    else delete rec.layeredOn;
  }
  // No Event: the checkpoint is on the way to an outcome, and the step's record says it (ADR 0026).
  p.audit('step_started', `step ${rec.name} started`, {
    step: rec.name,
    phase: 'Running',
    details: { attempt: op.attempt, before: plan.before, after: plan.after },
  });
  p.requeue(CHECKPOINT_REQUEUE_MS);
}

/**
 * The API server was unreachable during apply() or revert(): the checkpoint stays and the same
 * attempt (same stamp) runs again, so a call that did land is recognised, not repeated.
 */
function unreachable(p: Pass, rec: StepStatus, outcome: ActionOutcome): boolean {
  if (outcome.kind !== 'failed' || outcome.code !== ERROR_CODES.kubeUnavailable) return false;
  rec.message = outcome.message;
  p.requeue(TRANSIENT_REQUEUE_MS);
  return true;
}

/** The record after apply(). */
export function recordApply(p: Pass, op: ApplyOperation, outcome: ActionOutcome): void {
  const rec = p.s.steps![op.index]!;
  if (outcome.kind === 'inProgress') {
    // Kept so that a timeout can say where it was stuck (e.g. "1/3 ready; web-x CrashLoopBackOff").
    rec.message = outcome.message;
    recordOutput(rec, outcome);
    const deadline = Date.parse(rec.startedAt ?? p.nowText) + stepTimeoutMs(rec, p.obs.config);
    p.requeue(Math.max(1, Math.min(outcome.requeueAfterMs, deadline - p.now.getTime() + TIMEOUT_SLACK_MS)));
    return;
  }
  if (unreachable(p, rec, outcome)) return;
  recordOutput(rec, outcome);
  if (outcome.kind === 'failed') {
    const { reason, message, retryable } = outcome;
    return failStep(p, op.index, { reason, message, retryable });
  }
  rec.phase = p.dryRun ? 'DryRun' : 'Succeeded';
  rec.finishedAt = p.nowText;
  rec.message = outcome.message;
  // Like the plan: a retry keeps the `before` of the first attempt.
  if (outcome.before && !((rec.attempt ?? 1) > 1 && rec.before)) rec.before = outcome.before;
  if (outcome.after) rec.after = outcome.after;
  if (outcome.diff) rec.diff = outcome.diff;
  // No Event per step: the run's Event at its end carries every step's outcome (ADR 0026).
  p.audit('step_finished', outcome.message, {
    step: rec.name,
    phase: rec.phase,
    details: { before: rec.before, after: rec.after, diff: rec.diff, output: rec.output },
  });
  p.requeue(CHECKPOINT_REQUEUE_MS);
}

/** What the attempt read (StepStatus.output, see actions/output.ts): the latest outcome's, or none. */
function recordOutput(rec: StepStatus, outcome: ActionOutcome): void {
  if (outcome.output) rec.output = outcome.output;
  else delete rec.output;
}

/** The record after revert(). */
export function recordRevert(p: Pass, op: RevertOperation, outcome: ActionOutcome): void {
  const rec = p.s.steps![op.index]!;
  if (outcome.kind === 'inProgress') {
    rec.message = outcome.message;
    p.requeue(outcome.requeueAfterMs);
    return;
  }
  if (unreachable(p, rec, outcome)) return;
  if (outcome.kind === 'done') {
    rec.phase = 'Reverted';
    rec.revertedAt = p.nowText;
    delete rec.nextAttemptAt;
    rec.message = outcome.message;
    // The revert's one Event comes when the whole revert is over (revert.ts, ADR 0026).
    p.audit('reverted', outcome.message, {
      step: rec.name,
      phase: 'Reverted',
      details: { restored: rec.before },
    });
    p.requeue(CHECKPOINT_REQUEUE_MS);
    return;
  }
  const attempt = rec.revertAttempt ?? 1;
  const v = retryOrGiveUp('revert attempt', attempt, REVERT_MAX_ATTEMPTS, outcome, p.now);
  if (v.retry) {
    // Like a step: try again after a backoff; the Reverting checkpoint stays.
    rec.revertAttempt = attempt + 1;
    rec.nextAttemptAt = v.at;
    rec.message = v.message;
    p.event('Warning', EVENT_REASONS.stepRetrying, `step ${rec.name}: ${rec.message}`);
    p.audit('step_finished', rec.message, {
      step: rec.name,
      phase: 'Retrying',
      details: { revertAttempt: attempt, reason: outcome.reason },
    });
    p.requeue(v.delayMs);
    return;
  }
  // A failed undo needs a person: the step is back where it was (its change is in place).
  rec.phase = rec.revertedFrom ?? 'Succeeded';
  delete rec.nextAttemptAt;
  const why = v.attempts > 1 ? v.message : `failed: ${v.message}`;
  rec.message = `revert ${why}`;
  const msg = `revert of step ${rec.name} ${why}`;
  p.cond({ type: CONDITION_TYPES.reverted, status: 'False', reason: REASONS.revertFailed, message: msg });
  p.cond({ type: CONDITION_TYPES.progressing, status: 'False', reason: REASONS.revertFailed, message: msg });
  p.s.completedAt = p.nowMilli;
  p.s.message = msg;
  p.event('Warning', EVENT_REASONS.failed, msg);
  p.audit('reverted', msg, { step: rec.name, phase: 'Failed', details: { reason: outcome.reason } });
}
