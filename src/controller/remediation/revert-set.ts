/** Which steps a revert undoes, and why it runs: read by the decision and by `needsPeers`. */
import { ANNOTATIONS, CONDITION_TYPES } from '../../api/v1alpha1/constants.js';
import type { ActionName, Remediation, RemediationStatus } from '../../api/v1alpha1/schema.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import type { ActionInfo } from './decision.js';
import type { GateView } from './pass.js';
import { stepSpec } from './resolve.js';

export type RevertMode = 'resolve' | 'failure';

/** A revert is asked for: by a person (annotation) or because the alert resolved (intake). */
export function revertRequested(rem: Remediation): boolean {
  return rem.metadata.annotations?.[ANNOTATIONS.revert] === 'true' || rem.spec.alert?.status === 'resolved';
}

/**
 * Steps to undo, in forward order: done (not dry run), reversible, and either marked
 * revertOnResolve (a revert request) or any reversible one (onFailure.revert after a failure).
 * A Failed step with a recorded `before` counts as done: its change may have landed (the
 * call went through, then the check failed), and a revert restores `before`, idempotently.
 */
export function revertSet(
  s: Readonly<RemediationStatus>,
  actionInfo: (name: ActionName) => ActionInfo | undefined,
  mode: RevertMode,
): number[] {
  const out: number[] = [];
  for (const [i, rec] of (s.steps ?? []).entries()) {
    const done = ['Succeeded', 'Reverting', 'Reverted'].includes(rec.phase);
    if (!done && !(rec.phase === 'Failed' && rec.before)) continue;
    if (!actionInfo(rec.action)?.reversible) continue;
    if (mode === 'resolve' && !stepSpec(rec)?.revertOnResolve) continue;
    out.push(i);
  }
  return out;
}

/** onFailure.revert applies: the Runbook asks for it and the run changed something. */
export function onFailureRevert(p: GateView): boolean {
  return p.obs.runbook?.spec.onFailure?.revert === true && !p.dryRun;
}

/** The kind of revert: as recorded when it started, so a Runbook edited (or deleted) mid-revert cannot shrink the set. */
export function revertMode(p: GateView): RevertMode {
  if (p.s.revertMode) return p.s.revertMode === 'onFailure' ? 'failure' : 'resolve';
  // Reverts started before the field existed.
  const failed = findCondition(p.s.conditions, CONDITION_TYPES.succeeded)?.status === 'False';
  return failed && onFailureRevert(p) ? 'failure' : 'resolve';
}
