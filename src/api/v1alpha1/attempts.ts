/**
 * What loop protection counts (controller/remediation/policy.ts) and retention keeps
 * (controller/runbook/retention.ts, ADR 0022): finished attempts on a target. Here, below both
 * controllers, so that the two read an attempt the same way (ADR 0018).
 */
import { CONDITION_TYPES } from './constants.js';
import { findCondition } from './conditions.js';
import type { Remediation } from './schema.js';

export const DEFAULT_MAX_CONSECUTIVE_FAILURES = 3;

/** The target key of a Remediation from its `status.target`, or undefined before it was resolved. */
export function targetKeyOf(rem: Remediation): string | undefined {
  const t = rem.status?.target;
  if (!t) return undefined;
  const parts = t.split('/');
  if (parts.length === 2) return `${parts[0]}/${rem.metadata.namespace ?? ''}/${parts[1]}`;
  return parts.length === 3 ? t : undefined;
}

/** 'failed' | 'succeeded' for a finished attempt; undefined for anything that is not one. */
export function attemptOutcome(rem: Remediation): 'failed' | 'succeeded' | undefined {
  const st = rem.status;
  if (!st?.startedAt || (st.dryRun ?? rem.spec.dryRun === true)) return undefined;
  const done = findCondition(st.conditions, CONDITION_TYPES.succeeded);
  if (!done) return undefined;
  return done.status === 'True' ? 'succeeded' : 'failed';
}
