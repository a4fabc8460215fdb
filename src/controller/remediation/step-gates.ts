/**
 * The gates before a step's operation: before it is planned, before its checkpoint is applied,
 * before a revert starts and before each step's revert. Each list is in the order it applies;
 * a new rule for steps is one gate here and one line in a list.
 */
import { CONDITION_TYPES, EVENT_REASONS, REASONS } from '../../api/v1alpha1/constants.js';
import { ANNOTATIONS } from '../../api/v1alpha1/constants.js';
import { formatDuration } from '../../util/duration.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import { BLOCKED_REQUEUE_MS } from './decision.js';
import { unlessDryRun, type StartGate, type StepGate, type Verdict } from './gates.js';
import { failedAbove, holdUnwinds, revertHold } from './layering.js';
import { auditNote, eventNote, remediationName, type GateView } from './pass.js';
import { lockHolder } from './policy.js';
import { stepTimeoutMs } from './retry.js';
import { revertSet } from './revert-set.js';
import { stepApproved } from './approval.js';
import { stepGuard } from './guards.js';

/** A retry (or a revert's retry) waits for its `nextAttemptAt`. */
export const retryDue: StepGate = (p, { rec }) => {
  const due = rec.nextAttemptAt ? Date.parse(rec.nextAttemptAt) : 0;
  return due > p.now.getTime() ? { kind: 'wait', requeueAfterMs: due - p.now.getTime() } : undefined;
};

/**
 * The per-target lock while running: only the oldest active Remediation on a target acts. A
 * lock that was held and is free again says so (Blocked=False).
 */
export const targetFree: StepGate = (p) => {
  const key = p.mainKey();
  const holder = lockHolder(p.rem, key, p.peersOn(key));
  if (!holder) {
    if (findCondition(p.s.conditions, CONDITION_TYPES.blocked)?.status !== 'True') return undefined;
    return {
      kind: 'go',
      conditions: [
        {
          type: CONDITION_TYPES.blocked,
          status: 'False',
          reason: REASONS.started,
          message: 'no longer blocked',
        },
      ],
    };
  }
  const msg = `${key ?? ''} is being remediated by ${remediationName(holder)}, which is older; waiting for it to finish`;
  return {
    kind: 'wait',
    conditions: [
      { type: CONDITION_TYPES.blocked, status: 'True', reason: REASONS.targetLocked, message: msg },
    ],
    onChange: [
      eventNote('Normal', EVENT_REASONS.blocked, msg),
      auditNote('blocked', msg, { details: { reason: REASONS.targetLocked } }),
    ],
    requeueAfterMs: BLOCKED_REQUEUE_MS,
  };
};

/**
 * Before the first apply. The plan pass checked the lock, but possibly on a view that missed a
 * Remediation started at the same instant: only the oldest active one on the target goes on.
 * The others wait, and their attempt starts when they may act, so the wait does not count
 * against the step timeout.
 */
export const firstAttemptTargetFree: StepGate = (p, at) => {
  if ((at.rec.attempt ?? 1) > 1) return undefined;
  const v = targetFree(p, at);
  return v?.kind === 'wait' ? { ...v, step: { startedAt: p.nowText } } : v;
};

/** The step's deadline (its timeout from `startedAt`): past it, the attempt fails and may be retried. */
export const withinDeadline: StepGate = (p, { rec }) => {
  const timeout = stepTimeoutMs(rec, p.obs.config);
  if (p.now.getTime() < Date.parse(rec.startedAt ?? p.nowText) + timeout) return undefined;
  const stuck = rec.message ? `: ${rec.message}` : '';
  return {
    kind: 'failAttempt',
    failure: {
      reason: REASONS.stepFailed,
      message: `timed out after ${formatDuration(timeout)}${stuck}`,
      retryable: true,
    },
  };
};

/**
 * Before a Pending step is planned (and checkpointed). A person approves first, then the guard
 * reads: the reads nearest to the act (approval.ts, guards.ts).
 */
export const BEFORE_PLAN: readonly StepGate[] = [
  retryDue,
  unlessDryRun(targetFree),
  unlessDryRun(stepApproved),
  stepGuard,
];
/** Before a checkpointed (Running) step is applied. */
export const BEFORE_APPLY: readonly StepGate[] = [unlessDryRun(firstAttemptTargetFree), withinDeadline];
/** Before a step's revert is checkpointed (Reverting). */
export const BEFORE_REVERT_CHECKPOINT: readonly StepGate[] = [targetFree];
/** Before a checkpointed revert runs. */
export const BEFORE_REVERT: readonly StepGate[] = [retryDue];

/** Releases a RevertHeld block, saying why, when there is one. */
export function releaseHold(p: GateView, why: string): Verdict | undefined {
  const c = findCondition(p.s.conditions, CONDITION_TYPES.blocked);
  if (c?.status !== 'True' || c.reason !== REASONS.revertHeld) return undefined;
  return {
    kind: 'go',
    status: { message: why },
    conditions: [
      { type: CONDITION_TYPES.blocked, status: 'False', reason: REASONS.revertHeld, message: why },
    ],
  };
}

/**
 * Before a revert on resolve starts: a newer Remediation changed the same fields again and its
 * change is still in place, so this revert waits for that one's (layering.ts). Blocked=True with
 * reason RevertHeld says so; the newer one's status changes wake this one (mapping), and a
 * requeue looks again meanwhile. When the newer one's revert is under way (directly or down a
 * chain of such holds: holdUnwinds), the wait is over in moments and nothing is written.
 */
export const revertNotHeld: StartGate = (p) => {
  const indexes = revertSet(p.s, p.obs.actionInfo, 'resolve');
  // Only peers on the same targets can hold these steps (a hold is a change to the same fields).
  const targets = indexes.map((i) => p.s.steps?.[i]?.target).filter((t) => t !== undefined);
  const peers = p.peersWithStepOn(targets);
  const hold = revertHold(p.rem, indexes, peers);
  if (!hold) {
    const failed = failedAbove(p.rem, indexes, peers);
    return releaseHold(
      p,
      failed
        ? `the revert of remediation ${failed.remediation} (step ${failed.step}) failed; reverting step ` +
            `${failed.mine} now: a value changed since it was set is left alone`
        : 'the newer changes to the same fields are reverted',
    );
  }
  const shown = findCondition(p.s.conditions, CONDITION_TYPES.blocked);
  const heldShown = shown?.status === 'True' && shown.reason === REASONS.revertHeld;
  // A chain that unwinds by itself: no condition, no write; each release wakes the next one
  // down, and the requeue writes RevertHeld if the chain stops (ADR 0026's addendum).
  if (!heldShown && holdUnwinds(hold, peers, (r) => revertSet(r.status ?? {}, p.obs.actionInfo, 'resolve')))
    return { kind: 'waitUnrecorded', requeueAfterMs: BLOCKED_REQUEUE_MS };
  const msg =
    `revert held: step ${hold.mine} waits for remediation ${hold.remediation} (step ${hold.step}), which ` +
    `changed the same fields afterwards and has not been reverted; it reverts first (when its alert ` +
    `resolves, or annotate it ${ANNOTATIONS.revert}=true), or delete it to revert this one now`;
  return {
    kind: 'wait',
    status: { message: msg },
    conditions: [{ type: CONDITION_TYPES.blocked, status: 'True', reason: REASONS.revertHeld, message: msg }],
    // No Event (ADR 0026): the condition is the state, and the revert's one Event, when it
    // ends, says it was held. Ten alerts on one Deployment resolving together held nine reverts.
    onChange: [
      auditNote('blocked', msg, { details: { reason: REASONS.revertHeld, waitsFor: hold.remediation } }),
    ],
    requeueAfterMs: BLOCKED_REQUEUE_MS,
  };
};

/** Before a revert on resolve starts. */
export const BEFORE_REVERT_START: readonly StartGate[] = [revertNotHeld];
