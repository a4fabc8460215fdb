/**
 * The one decision protocol. A pass of the reconciler calls `next(observed)` and gets the
 * desired status and at most one operation (plan, apply or revert a step); once it ran that
 * operation it calls `next(observed, effect)` with what the operation gave, and writes the
 * status that comes back. The unit tables drive `next` the same way, so tests and production
 * cannot run different protocols.
 *
 * The life of a Remediation, stage by stage:
 *   start     the start gates (start-gates.ts, in order), then Running;
 *   forward   each step: gates (step-gates.ts: approval, guard), plan (the effect is the checkpoint: Running,
 *             attempt, startedAt, before/after, written BEFORE anything changes), apply (its
 *             outcome recorded: done, in progress → look again, failed → retry or fail);
 *   revert    once over (Succeeded / Failed / DryRun), a revert request or onFailure.revert
 *             undoes reversible steps in reverse order, each checkpointed as Reverting first.
 *   escalate  beside all of these (escalation.ts): an escalation due is checkpointed, then sent.
 * A guard's reads and an escalation's send are operations too (`guard`, `escalate`), recorded
 * by `next(observed, effect)` like the others.
 * A crash between any two writes is harmless: every pass starts again from the status.
 */
import { CONDITION_TYPES } from '../../api/v1alpha1/constants.js';
import type { ActionName, Remediation } from '../../api/v1alpha1/schema.js';
import type { ActionOutcome } from '../../actions/types.js';
import { ERROR_CODES } from '../../util/errors.js';
import { deepEqual } from '../../util/deep-equal.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import type { ActionInfo, CheckRevertOperation, Decision, Effect, Observed, Operation } from './decision.js';
import { decideForward, start } from './forward.js';
import { decideGitops } from './gitops.js';
import { runStartGates } from './gates.js';
import { Pass } from './pass.js';
import { recordApply, recordPlan, recordRevert } from './record.js';
import { decideRevert } from './revert.js';
import { revertRequested } from './revert-set.js';
import { resolveWorkDue } from './after-resolve.js';
import { START_GATES } from './start-gates.js';
import { isDryRun } from './status.js';
import { recordGuard } from './guards.js';
import { recordEscalation, withEscalations } from './escalation.js';

/** What to do now on `observed`; with `effect`, what to write after the operation asked for ran. */
export function next(observed: Observed, effect?: Effect): Decision {
  const d = decide(observed);
  if (!effect) return d;
  if (!sameOperation(d.op, effect.op)) {
    return { op: { kind: 'none' }, status: d.status, notes: [], effectLost: true };
  }
  if ('nothingToDo' in effect) return recordCheckRevert(observed, d, effect);
  const p = new Pass(observed, d.status);
  p.notes.push(...d.notes);
  if ('result' in effect) {
    recordPlan(p, effect.op, effect.result);
    return p.done();
  }
  if ('evaluation' in effect) {
    recordGuard(p, effect.op, effect.evaluation);
    return p.done();
  }
  if (effect.op.kind === 'escalate') {
    recordEscalation(p, effect.op, effect.outcome);
    return p.done();
  }
  if (effect.op.kind === 'apply') recordApply(p, effect.op, effect.outcome);
  else recordRevert(p, effect.op, effect.outcome);
  const recorded = p.done();
  return settled(effect.outcome) ? withFollowUp(observed, recorded, effect.at) : recorded;
}

/**
 * Whether a pass on `rem` may look at other Remediations, decided from its status before
 * deciding: while it has not started or runs (budgets, the lock, loop protection, layering),
 * while it reverts (the lock), and when a revert may start (a newer change may hold it). Not
 * for dry runs, nor for the many that are over with nothing left to do.
 */
export function needsPeers(
  rem: Remediation,
  actionInfo: (name: ActionName) => ActionInfo | undefined,
): boolean {
  const s = rem.status;
  if (isDryRun(rem, s)) return false;
  if (!findCondition(s?.conditions, CONDITION_TYPES.succeeded)) return true;
  const reverted = findCondition(s?.conditions, CONDITION_TYPES.reverted);
  if (reverted) return reverted.status === 'Unknown';
  return revertRequested(rem) && resolveWorkDue(s ?? {}, actionInfo);
}

/**
 * After a checkRevert: with something to send, the Reverting checkpoint as decided (written;
 * then the revert runs on it); with nothing, the step is recorded Reverted with checkRevert's
 * message, and what follows without an operation (the finish) goes into the same write.
 */
function recordCheckRevert(
  obs: Observed,
  d: Decision,
  effect: Extract<Effect, { op: CheckRevertOperation }>,
): Decision {
  if (effect.nothingToDo === undefined) return { ...d, op: { kind: 'none' } };
  const p = new Pass(obs, d.status);
  p.notes.push(...d.notes);
  const op = { kind: 'revert', index: effect.op.index, attempt: effect.op.attempt } as const;
  recordRevert(p, op, { kind: 'done', message: effect.nothingToDo });
  return withFollowUp(obs, p.done(), effect.at);
}

/** The stages, then the escalations due laid over them (escalation.ts: beside the steps, not instead). */
function decide(obs: Observed): Decision {
  return withEscalations(obs, decideStages(obs));
}

function decideStages(obs: Observed): Decision {
  const p = new Pass(obs, obs.remediation.status);
  if (!obs.remediation.status?.phase) p.audit('created', 'remediation seen by the controller');
  if (!findCondition(p.s.conditions, CONDITION_TYPES.succeeded)) {
    if (!p.s.startedAt) {
      const stop = runStartGates(p, START_GATES);
      if (stop) return stop;
      start(p);
    }
    const g = decideGitops(p);
    if (g) return g;
    const d = decideForward(p);
    if (d) return d;
  }
  // Over (Succeeded set): only a revert can still happen (and a GitOps pause end, gitops.ts).
  const g = decideGitops(p);
  if (g) return g;
  return decideRevert(p);
}

function sameOperation(a: Operation, b: Operation): boolean {
  if (a.kind === 'none' || b.kind === 'none') return a.kind === b.kind;
  return a.kind === b.kind && a.index === b.index && a.attempt === b.attempt;
}

/** The step's attempt is over (done, or failed for a reason other than the API being unreachable). */
function settled(outcome: ActionOutcome): boolean {
  return (
    outcome.kind === 'done' || (outcome.kind === 'failed' && outcome.code !== ERROR_CODES.kubeUnavailable)
  );
}

/**
 * After an effect's outcome: when what the next pass would decide on that status is a status
 * change alone that starts nothing (the Remediation finishes, a revert waits), it goes into the
 * same write. A one-step Remediation then takes two status writes (checkpoint; outcome and
 * finish) instead of three. Anything that starts something (plan or apply a step, a revert's
 * checkpoint) is not decided here: the reconciler's checkpointAhead decides it on the peers as
 * they are after the effect and, for a next checkpoint, adds it to the same write (ADR 0026);
 * its side effect waits for the next pass either way. `now`: the time after the effect (the
 * pass's own `now` is from before it).
 */
function withFollowUp(obs: Observed, d: Decision, now: Date): Decision {
  const later: Observed = { ...obs, remediation: { ...obs.remediation, status: d.status }, now };
  const after = decide(later);
  if (after.op.kind !== 'none' || !deepEqual(after.status.steps, d.status.steps)) return d;
  return { ...after, notes: [...d.notes, ...after.notes] };
}
