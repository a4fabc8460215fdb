/** Phase, progress and the status patch: derived, never stored as independent truth. */
import { CONDITION_TYPES, REASONS } from '../../api/v1alpha1/constants.js';
import {
  CHECK_ACTIONS,
  type Remediation,
  type RemediationPhase,
  type RemediationStatus,
  type StepStatus,
} from '../../api/v1alpha1/schema.js';
import { deepEqual } from '../../util/deep-equal.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import { isSkippedReason } from '../../api/v1alpha1/lifecycle.js';

const STEP_DONE = new Set<StepStatus['phase']>([
  'Succeeded',
  'DryRun',
  'Skipped',
  'Failed',
  'Reverting',
  'Reverted',
]);

export function isStepFinished(rec: StepStatus): boolean {
  return STEP_DONE.has(rec.phase);
}

/**
 * Whether a run is a dry run: fixed in `status.dryRun` when it starts, so flipping
 * `spec.dryRun` mid-run can neither skip the gates nor skip the reverts. Before the start
 * (and for runs started before the field existed) the spec says.
 */
export function isDryRun(rem: Remediation, status: RemediationStatus | undefined = rem.status): boolean {
  return status?.dryRun ?? rem.spec.dryRun === true;
}

/** `done/total`, e.g. `2/5`. */
export function progressOf(steps: readonly StepStatus[] | undefined): string | undefined {
  if (!steps || steps.length === 0) return undefined;
  // The work after resolve counts once it began; until then the run's own steps are the whole.
  const counted = steps.some((r) => r.stage && r.phase !== 'Pending') ? steps : steps.filter((r) => !r.stage);
  return `${counted.filter(isStepFinished).length}/${counted.length}`;
}

/** Reasons of a False Succeeded condition that mean "never ran" rather than "failed". */

/**
 * The phase, from the conditions (as medik8s does): Succeeded decides whether it is over,
 * Reverted whether an undo is under way or done, Approved and Progressing where it waits.
 */
export function derivePhase(s: RemediationStatus): RemediationPhase {
  const c = s.conditions;
  const succeeded = findCondition(c, CONDITION_TYPES.succeeded);
  const reverted = findCondition(c, CONDITION_TYPES.reverted);
  const blocked = findCondition(c, CONDITION_TYPES.blocked);
  if (succeeded) {
    if (reverted?.status === 'Unknown') return 'Reverting';
    if (reverted?.status === 'True') return 'Reverted';
    // The undo failed: changes are half in place, a person must look.
    if (reverted?.status === 'False') return 'Failed';
    if (succeeded.status === 'True') return succeeded.reason === REASONS.dryRun ? 'DryRun' : 'Succeeded';
    if (isSkippedReason(succeeded.reason)) return 'Skipped';
    if (blocked?.status === 'True' && blocked.reason === REASONS.loopProtection) return 'Blocked';
    return 'Failed';
  }
  // Before Progressing: a step that waits for a person (steps[].requireApproval) waits mid-run.
  const approved = findCondition(c, CONDITION_TYPES.approved);
  // A refused self-approval (four eyes) still waits for another person.
  if (
    approved?.status === 'False' &&
    (approved.reason === REASONS.awaitingApproval || approved.reason === REASONS.selfApproval)
  )
    return 'AwaitingApproval';
  if (findCondition(c, CONDITION_TYPES.progressing)?.status === 'True')
    return verifying(s.steps) ? 'Verifying' : 'Running';
  return 'Pending';
}

/** The changes are made (a non-check step succeeded) and every step left is a check. */
function verifying(steps: RemediationStatus['steps']): boolean {
  const all = (steps ?? []).filter((r) => !r.stage);
  const left = all.filter((r) => r.phase === 'Pending' || r.phase === 'Running');
  return (
    left.length > 0 &&
    left.every((r) => CHECK_ACTIONS.has(r.action)) &&
    all.some((r) => r.phase === 'Succeeded' && !CHECK_ACTIONS.has(r.action))
  );
}

/**
 * A JSON merge patch of the status from `before` to `after`, top-level keys only (arrays are
 * replaced whole by merge patch anyway), removed keys as null. Undefined when nothing changed,
 * so an idle pass writes nothing.
 */
export function statusPatch(
  before: RemediationStatus | undefined,
  after: RemediationStatus,
): Record<string, unknown> | undefined {
  const b = (before ?? {}) as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (a[k] === undefined) {
      if (b[k] !== undefined) patch[k] = null;
    } else if (!deepEqual(a[k], b[k])) patch[k] = a[k];
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}
