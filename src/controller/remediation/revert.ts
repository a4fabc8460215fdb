/**
 * The revert stage, once a run is over: a revert request (annotation, or the alert resolved)
 * or `onFailure.revert` undoes the reversible steps in reverse order, each checkpointed as
 * Reverting before its side effect: Reverting → Reverted.
 */
import { ANNOTATIONS, CONDITION_TYPES, EVENT_REASONS, REASONS } from '../../api/v1alpha1/constants.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import { afterRevert, beforeRevert, resolveWorkDue } from './after-resolve.js';
import { CHECKPOINT_REQUEUE_MS, type Decision } from './decision.js';
import { applyVerdict, runStartGates, runStepGates } from './gates.js';
import type { Pass } from './pass.js';
import { stepSummary } from './finish.js';
import { revertMode, revertRequested, revertSet } from './revert-set.js';
import { BEFORE_REVERT, BEFORE_REVERT_CHECKPOINT, BEFORE_REVERT_START, releaseHold } from './step-gates.js';

/** A revert on resolve is asked for and there is something to undo: it starts, unless held. */
function startRevert(p: Pass): Decision | undefined {
  const { s, rem } = p;
  if (p.dryRun || !revertRequested(rem) || !resolveWorkDue(s, p.obs.actionInfo)) {
    const release = releaseHold(p, 'the revert is no longer asked for');
    if (release) applyVerdict(p, release);
    return p.done();
  }
  s.revertRequestedAt ??= p.nowText;
  const stop = runStartGates(p, BEFORE_REVERT_START);
  if (stop) return stop;
  s.revertMode = 'onResolve';
  const why = revertReason(p);
  p.cond({
    type: CONDITION_TYPES.reverted,
    status: 'Unknown',
    reason: REASONS.revertRequested,
    message: `reverting: ${why}`,
  });
  // No Event yet: the revert's one Event says how it ended, and why it ran (ADR 0026).
  return undefined;
}

/** Why the revert runs, as the Reverted condition and the revert's Event say it. */
function revertReason(p: Pass): string {
  if (p.s.revertMode === 'onFailure') return 'onFailure.revert';
  return p.rem.metadata.annotations?.[ANNOTATIONS.revert] === 'true'
    ? `annotation ${ANNOTATIONS.revert}=true`
    : 'the alert resolved';
}

/** A revert that waited for newer changes to the same fields (RevertHeld) says so in its Event. */
function heldNote(p: Pass): string {
  const c = findCondition(p.s.conditions, CONDITION_TYPES.blocked);
  return c?.reason === REASONS.revertHeld && c.status === 'False'
    ? '; held until the newer changes to the same fields were reverted'
    : '';
}

function allReverted(p: Pass, n: number): Decision {
  const after = (p.s.steps ?? []).filter((r) => r.stage === 'AfterRevert').length;
  const msg = `reverted ${n} step${n === 1 ? '' : 's'}${after && p.s.revertMode === 'onResolve' ? `; onResolve.after done (${after} step${after === 1 ? '' : 's'})` : ''}`;
  p.cond({ type: CONDITION_TYPES.reverted, status: 'True', reason: REASONS.revertSucceeded, message: msg });
  p.cond({
    type: CONDITION_TYPES.progressing,
    status: 'False',
    reason: REASONS.revertSucceeded,
    message: msg,
  });
  p.s.completedAt = p.nowMilli;
  p.s.message = msg;
  // The revert's one Event: why it ran and what each step restored (ADR 0026).
  const reverted = (p.s.steps ?? []).filter((r) => r.phase === 'Reverted');
  p.event(
    'Normal',
    EVENT_REASONS.reverted,
    `${msg} (${revertReason(p)}${heldNote(p)})${stepSummary(reverted)}`,
  );
  p.audit('reverted', msg, { phase: 'Reverted' });
  return p.done();
}

export function decideRevert(p: Pass): Decision {
  const reverted = findCondition(p.s.conditions, CONDITION_TYPES.reverted);
  if (reverted && reverted.status !== 'Unknown') return p.done();
  if (!reverted) {
    const stop = startRevert(p);
    if (stop) return stop;
  }
  const mode = revertMode(p);
  // On resolve: onResolve.before and the gate first (after-resolve.ts).
  if (mode === 'resolve') {
    const d = beforeRevert(p);
    if (d) return d;
  }
  const set = revertSet(p.s, p.obs.actionInfo, mode);
  const idx = [...set].reverse().find((i) => p.s.steps![i]!.phase !== 'Reverted');
  if (idx === undefined) return (mode === 'resolve' && afterRevert(p)) || allReverted(p, set.length);
  const rec = p.s.steps![idx]!;
  p.cond({
    type: CONDITION_TYPES.progressing,
    status: 'True',
    reason: REASONS.revertRequested,
    message: `reverting step ${rec.name}`,
  });
  if (rec.phase === 'Reverting') {
    const stop = runStepGates(p, idx, BEFORE_REVERT);
    if (stop && 'decision' in stop) return stop.decision;
    return p.done({ kind: 'revert', index: idx, attempt: rec.attempt ?? 1 });
  }
  const stop = runStepGates(p, idx, BEFORE_REVERT_CHECKPOINT);
  if (stop && 'decision' in stop) return stop.decision;
  // Checkpoint before the side effect: a crash after it resumes with revert(), not a re-check.
  rec.revertedFrom = rec.phase === 'Failed' ? 'Failed' : 'Succeeded';
  rec.phase = 'Reverting';
  rec.revertAttempt = 1;
  delete rec.nextAttemptAt;
  rec.message = 'revert started';
  p.audit('step_started', `revert of step ${rec.name} started`, { step: rec.name, phase: 'Reverting' });
  p.requeue(CHECKPOINT_REQUEUE_MS);
  // An action that can tell reads first: a revert with nothing to send needs no checkpoint, as
  // nothing is sent (ADR 0028). This status is then written only if it has (protocol.ts).
  if (p.obs.actionInfo(rec.action)?.checksRevert)
    return p.done({ kind: 'checkRevert', index: idx, attempt: 1 });
  return p.done();
}
