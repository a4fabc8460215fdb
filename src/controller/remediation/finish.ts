/**
 * The ends of a run. `finish` marks the end (the Succeeded condition) and emits its notes once,
 * on the transition; a failure may start the onFailure revert in the same write.
 */
import { CONDITION_TYPES, EVENT_REASONS, REASONS } from '../../api/v1alpha1/constants.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import type { StepStatus } from '../../api/v1alpha1/schema.js';
import { CHECKPOINT_REQUEUE_MS, type Decision, type Note } from './decision.js';
import { auditNote, eventNote, remediationName, type Pass } from './pass.js';
import { onFailureRevert, revertSet } from './revert-set.js';

/** Marks the end (Succeeded condition) and adds `notes` once, on the transition. */
export function finish(
  p: Pass,
  status: 'True' | 'False',
  reason: string,
  message: string,
  notes: readonly Note[],
): Decision {
  const changed = p.cond({ type: CONDITION_TYPES.succeeded, status, reason, message });
  if (findCondition(p.s.conditions, CONDITION_TYPES.progressing)) {
    p.cond({ type: CONDITION_TYPES.progressing, status: 'False', reason, message });
  }
  p.s.message = message;
  p.s.completedAt ??= p.nowMilli;
  if (changed) p.notes.push(...notes);
  return p.done();
}

export function finishFailed(p: Pass, reason: string, message: string): Decision {
  const target = p.mainTarget();
  const revert =
    onFailureRevert(p) &&
    revertSet(p.s, p.obs.actionInfo, 'failure').length > 0 &&
    !findCondition(p.s.conditions, CONDITION_TYPES.reverted);
  // One Event for the end: the failure, what happens next and what the steps did (ADR 0026).
  const then = revert ? '; undoing the reversible steps already done (onFailure.revert)' : '';
  const d = finish(p, 'False', reason, message, [
    eventNote('Warning', EVENT_REASONS.failed, `${message}${then}${stepSummary(runSteps(p))}`),
    ...(target && p.s.startedAt
      ? [
          eventNote(
            'Warning',
            EVENT_REASONS.failed,
            `kube-remediator: remediation ${remediationName(p.rem)} failed`,
            target,
          ),
        ]
      : []),
    auditNote('finished', message, { phase: 'Failed', details: { reason } }),
  ]);
  if (revert) {
    p.s.revertMode = 'onFailure';
    p.cond({
      type: CONDITION_TYPES.reverted,
      status: 'Unknown',
      reason: REASONS.revertRequested,
      message: 'onFailure.revert: undoing the reversible steps already done',
    });
    p.requeue(CHECKPOINT_REQUEUE_MS);
    return p.done();
  }
  return d;
}

/** Every step is done: Succeeded (or DryRun). A revert asked for meanwhile starts after it, in the same pass. */
export function finishSucceeded(p: Pass): void {
  const dry = p.dryRun;
  const n = (p.s.steps ?? []).filter((r) => r.stage === undefined).length;
  const msg = dry
    ? `dry run of ${n} steps done: nothing was changed; see status.steps[].diff`
    : `all ${n} steps succeeded`;
  // The run's one Event (no Event per step, none on the target): its message tells what each
  // step did, as `kubectl describe rem` shows it (ADR 0026).
  finish(p, 'True', dry ? REASONS.dryRun : REASONS.allStepsSucceeded, msg, [
    eventNote(
      'Normal',
      dry ? EVENT_REASONS.dryRun : EVENT_REASONS.succeeded,
      `${msg}${stepSummary(runSteps(p))}`,
    ),
    auditNote('finished', msg, { phase: dry ? 'DryRun' : 'Succeeded' }),
  ]);
}

/** The run's own steps (not those of onResolve, which wait for the revert stage). */
function runSteps(p: Pass): StepStatus[] {
  return (p.s.steps ?? []).filter((r) => r.stage === undefined);
}

/**
 * The steps' outcomes as one Event's message goes on: `: name (action): message; ...`, with the
 * phase when it is not the plain outcome. The Event carries the story of the run in one write;
 * status.steps keeps the detail (before, after, diff, output).
 */
export function stepSummary(steps: readonly StepStatus[]): string {
  const done = steps.filter((r) => r.phase !== 'Pending');
  if (done.length === 0) return '';
  const plain = new Set(['Succeeded', 'DryRun', 'Reverted']);
  const line = (r: StepStatus): string =>
    `${r.name} (${r.action})${plain.has(r.phase) ? '' : ` ${r.phase}`}${r.message ? `: ${r.message}` : ''}`;
  return `: ${done.map(line).join('; ')}`;
}
