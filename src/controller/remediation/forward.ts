/**
 * The forward stage: the start transition once the start gates let a Remediation through, then
 * its steps in order, each planned (and checkpointed) and then applied.
 */
import { CONDITION_TYPES, REASONS } from '../../api/v1alpha1/constants.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import { isRunStep } from './after-resolve.js';
import { TIMEOUT_SLACK_MS, type Decision, type StepFailure } from './decision.js';
import { finishFailed, finishSucceeded } from './finish.js';
import { runStepGates } from './gates.js';
import type { Pass } from './pass.js';
import { failStep } from './record.js';
import { stepTimeoutMs } from './retry.js';
import { stepSpec } from './resolve.js';
import { BEFORE_APPLY, BEFORE_PLAN } from './step-gates.js';

/** Every start gate let it through: Running. */
export function start(p: Pass): void {
  const { s, rem } = p;
  s.startedAt = p.nowText;
  s.dryRun = rem.spec.dryRun === true;
  if (findCondition(s.conditions, CONDITION_TYPES.blocked)) {
    p.cond({
      type: CONDITION_TYPES.blocked,
      status: 'False',
      reason: REASONS.started,
      message: 'no longer blocked',
    });
  }
  p.cond({
    type: CONDITION_TYPES.progressing,
    status: 'True',
    reason: REASONS.started,
    message: `started ${(s.steps ?? []).filter(isRunStep).length} steps${p.dryRun ? ' (dry run)' : ''}`,
  });
  // No Event: the start is a step on the way, not an outcome. The Progressing condition and
  // startedAt say it; the run's one Event comes with its end (ADR 0026).
}

function running(p: Pass, label: string): void {
  p.cond({
    type: CONDITION_TYPES.progressing,
    status: 'True',
    reason: REASONS.stepRunning,
    message: `${label} running`,
  });
}

/** A gate failed the step's attempt (a timeout, a guard that could not read, no approval): retry or fail. */
function failedBeforeStart(p: Pass, idx: number, f: StepFailure): Decision | undefined {
  failStep(p, idx, f);
  if (findCondition(p.s.conditions, CONDITION_TYPES.succeeded)) return p.done();
  return decideForward(p);
}

/**
 * The next step's operation, or the end of the run. Undefined when every step is done (the
 * run just succeeded): a revert asked for meanwhile may start in the same pass.
 */
export function decideForward(p: Pass): Decision | undefined {
  const steps = p.s.steps ?? [];
  // The records of `onResolve` (a stage) wait for the revert stage (after-resolve.ts).
  const failed = steps.find((r) => isRunStep(r) && r.phase === 'Failed' && !stepSpec(r)?.continueOnFailure);
  if (failed)
    return finishFailed(p, REASONS.stepFailed, `step ${failed.name} failed: ${failed.message ?? ''}`);
  const idx = steps.findIndex((r) => isRunStep(r) && (r.phase === 'Pending' || r.phase === 'Running'));
  if (idx < 0) {
    finishSucceeded(p);
    return undefined;
  }
  const rec = steps[idx]!;
  const label = `step ${idx + 1}/${steps.filter(isRunStep).length} (${rec.name})`;

  if (rec.phase === 'Pending') {
    const stop = runStepGates(p, idx, BEFORE_PLAN);
    if (stop && 'decision' in stop) return stop.decision;
    if (stop && 'skipped' in stop) return decideForward(p);
    if (stop) return failedBeforeStart(p, idx, stop.failedAttempt);
    running(p, label);
    return p.done({ kind: 'plan', index: idx, attempt: (rec.attempt ?? 0) + 1 });
  }

  const stop = runStepGates(p, idx, BEFORE_APPLY);
  if (stop && 'decision' in stop) return stop.decision;
  if (stop && 'skipped' in stop) return decideForward(p);
  if (stop) return failedBeforeStart(p, idx, stop.failedAttempt);
  running(p, label);
  const deadline = Date.parse(rec.startedAt ?? p.nowText) + stepTimeoutMs(rec, p.obs.config);
  p.requeue(deadline - p.now.getTime() + TIMEOUT_SLACK_MS);
  return p.done({ kind: 'apply', index: idx, attempt: rec.attempt ?? 1 });
}
