/**
 * When a Remediation is over, read from its conditions: shared by both controllers (the
 * Remediation controller stops deciding, the Runbook controller stops counting it as active).
 */
import { CONDITION_TYPES } from './constants.js';
import { findCondition } from './conditions.js';
import type { Remediation, RemediationStatus } from './schema.js';

/** Over: nothing more happens unless a revert is asked for (see the Remediation protocol). */
export function isFinished(s: RemediationStatus | undefined): boolean {
  const c = s?.conditions;
  return (
    findCondition(c, CONDITION_TYPES.succeeded) !== undefined &&
    findCondition(c, CONDITION_TYPES.reverted)?.status !== 'Unknown'
  );
}

export function isFinal(rem: Remediation): boolean {
  return isFinished(rem.status);
}
