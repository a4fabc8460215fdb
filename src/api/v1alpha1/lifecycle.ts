/**
 * When a Remediation is over, read from its conditions: shared by both controllers (the
 * Remediation controller stops deciding, the Runbook controller stops counting it as active,
 * and both read loop protection's attempts the same way: the Remediation controller to block,
 * retention to keep the evidence).
 */
import { CONDITION_TYPES, REASONS } from './constants.js';
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

/** Reasons of a False Succeeded condition that mean the run was skipped, not that it failed. */
const SKIPPED_REASONS = new Set<string>([
  REASONS.rejected,
  REASONS.revertRequested,
  REASONS.gitopsManaged,
  REASONS.guardNotMet,
  REASONS.notApproved,
]);

/** A False Succeeded condition with this reason means the run was skipped, not that it failed. */
export function isSkippedReason(reason: string): boolean {
  return SKIPPED_REASONS.has(reason);
}

/** Loop protection's default: this many failed attempts in a row on one target block the next. */
export const DEFAULT_MAX_CONSECUTIVE_FAILURES = 3;

/** Parsed keys by object: the peers' keys are read on every pass, and a cached object is reused until it changes. */
const parsedKeys = new WeakMap<Remediation, { target: string; key: string | undefined }>();

/** The target key of a Remediation from its `status.target`, or undefined before it was resolved. */
export function targetKeyOf(rem: Remediation): string | undefined {
  const t = rem.status?.target;
  if (!t) return undefined;
  const known = parsedKeys.get(rem);
  if (known?.target === t) return known.key;
  const parts = t.split('/');
  const key =
    parts.length === 2
      ? `${parts[0]}/${rem.metadata.namespace ?? ''}/${parts[1]}`
      : parts.length === 3
        ? t
        : undefined;
  parsedKeys.set(rem, { target: t, key });
  return key;
}

/** Creation order, ties broken by name, so every replica agrees on who is older. */
export function isOlder(a: Remediation, b: Remediation): boolean {
  const ta = Date.parse(a.metadata.creationTimestamp ?? '') || 0;
  const tb = Date.parse(b.metadata.creationTimestamp ?? '') || 0;
  if (ta !== tb) return ta < tb;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '');
}

/** When a Remediation finished (status.completedAt), else when it was created; in ms. */
export function finishedAt(rem: Remediation): number {
  return Date.parse(rem.status?.completedAt ?? rem.metadata.creationTimestamp ?? '') || 0;
}

/**
 * Newest finished first: the order loop protection reads attempts in and retention keeps them
 * in, so that deleting the older ones never changes a verdict. completedAt has milliseconds
 * (older objects: seconds); an exact tie goes to the newer by creation, the order in which the
 * target lock runs attempts on one target (`isOlder`).
 */
export function newestFinishedFirst(a: Remediation, b: Remediation): number {
  const d = finishedAt(b) - finishedAt(a);
  if (d !== 0) return d;
  if (isOlder(a, b)) return 1;
  return isOlder(b, a) ? -1 : 0;
}

/** 'failed' | 'succeeded' for a finished attempt; undefined for anything that is not one. */
export function attemptOutcome(rem: Remediation): 'failed' | 'succeeded' | undefined {
  const st = rem.status;
  if (!st?.startedAt || (st.dryRun ?? rem.spec.dryRun === true)) return undefined;
  const done = findCondition(st.conditions, CONDITION_TYPES.succeeded);
  if (!done) return undefined;
  if (done.status === 'True') return 'succeeded';
  // Skipped mid-run (a guard not met, no approval by the deadline): not a failure.
  return isSkippedReason(done.reason) ? undefined : 'failed';
}
