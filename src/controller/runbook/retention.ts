/**
 * Retention (ADR 0022): which finished Remediations of one Runbook are deleted, as a pure
 * function of the Runbook's Remediations, the limits and now. Kubernetes' answers for Jobs:
 * `ttlSecondsAfterFinished` (TTL-after-finished controller) and the CronJob history limits;
 * the audit table in PostgreSQL is the long history, as Argo Workflows' archive is for its runs.
 *
 * The keeps come first, in order; a Remediation any of them keeps is never deleted:
 *   1. not final (pending, running, verifying, reverting);
 *   2. final with a revertOnResolve change still in place and no revert yet: deleting it would
 *      leave the change in place when the alert resolves;
 *   3. named in `layeredOn` of another Remediation's step that is not reverted: reverts unwind
 *      newest first (ADR 0010), and the order is read from these objects;
 *   4. one of the newest `maxConsecutiveFailures` finished attempts on its target: loop
 *      protection reads exactly those (remediation/policy.ts), so deleting older ones never
 *      changes its verdict, and retention can neither reset nor set off a block;
 *   5. audit rows of it still in the outbox (audit on, not yet written to PostgreSQL).
 * Then the deletes: past `ttlSecondsAfterFinished`, or beyond the history limit of its kind
 * (failed: Failed and Blocked; successful: every other final phase), newest kept first.
 */
import { CONDITION_TYPES } from '../../api/v1alpha1/constants.js';
import type { RETENTION_REASONS } from '../../observability/metrics.js';
import type { Remediation, Runbook } from '../../api/v1alpha1/schema.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';

import {
  attemptOutcome,
  DEFAULT_MAX_CONSECUTIVE_FAILURES,
  finishedAt,
  isFinished,
  newestFinishedFirst,
  targetKeyOf,
} from '../../api/v1alpha1/lifecycle.js';

export interface RetentionLimits {
  successfulHistoryLimit: number;
  failedHistoryLimit: number;
  ttlSecondsAfterFinished: number;
}

export type KeepReason = 'running' | 'revertPending' | 'layeredOn' | 'loopProtection' | 'unaudited';
export type DeleteReason = (typeof RETENTION_REASONS)[number];

export interface RetentionInput {
  runbook: Pick<Runbook, 'metadata' | 'spec'>;
  /** Every Remediation of the namespace (layeredOn may name one of another Runbook). */
  remediations: readonly Remediation[];
  defaults: RetentionLimits;
  now: Date;
  /** `namespace/name` of Remediations whose audit rows are not yet written. */
  unaudited: ReadonlySet<string>;
}

export interface RetentionPlan {
  delete: { rem: Remediation; reason: DeleteReason }[];
  /** When the next TTL runs out among those kept for now only by their age. */
  nextAt?: Date;
  /** Some are kept only until their audit rows are written. */
  awaitsAudit?: boolean;
}

/** The Runbook's own limits over the controller-wide defaults. */
export function limitsOf(rb: Pick<Runbook, 'spec'>, defaults: RetentionLimits): RetentionLimits {
  return {
    successfulHistoryLimit: rb.spec.successfulHistoryLimit ?? defaults.successfulHistoryLimit,
    failedHistoryLimit: rb.spec.failedHistoryLimit ?? defaults.failedHistoryLimit,
    ttlSecondsAfterFinished: rb.spec.ttlSecondsAfterFinished ?? defaults.ttlSecondsAfterFinished,
  };
}

const key = (r: Remediation): string => `${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}`;

/** A revertOnResolve change in place that the alert's resolve would still undo. */
function revertPending(r: Remediation): boolean {
  const s = r.status;
  if (s?.dryRun) return false;
  if (findCondition(s?.conditions, CONDITION_TYPES.reverted)) return false;
  return (s?.steps ?? []).some((rec) => {
    const spec = rec.spec as { revertOnResolve?: boolean } | undefined;
    if (spec?.revertOnResolve !== true) return false;
    return rec.phase === 'Succeeded' || rec.phase === 'Reverting' || (rec.phase === 'Failed' && !!rec.before);
  });
}

/** `namespace/name` of every Remediation a step not yet reverted is layered on. */
function layeredOnHeld(all: readonly Remediation[]): Set<string> {
  const out = new Set<string>();
  for (const r of all) {
    for (const rec of r.status?.steps ?? []) {
      if (rec.phase === 'Reverted') continue;
      for (const l of rec.layeredOn ?? []) out.add(l.remediation);
    }
  }
  return out;
}

/** The newest `limit` finished attempts on each target: what loop protection reads. */
function loopEvidence(mine: readonly Remediation[], limit: number): Set<string> {
  const byTarget = new Map<string, Remediation[]>();
  for (const r of mine) {
    const t = targetKeyOf(r);
    if (!t || attemptOutcome(r) === undefined) continue;
    byTarget.set(t, [...(byTarget.get(t) ?? []), r]);
  }
  const out = new Set<string>();
  for (const list of byTarget.values())
    for (const r of list.sort(newestFinishedFirst).slice(0, limit)) out.add(key(r));
  return out;
}

/** Failed and Blocked count against failedHistoryLimit; every other final phase against the other. */
export function isFailedHistory(r: Remediation): boolean {
  return r.status?.phase === 'Failed' || r.status?.phase === 'Blocked';
}

export function keepReason(
  r: Remediation,
  ctx: { held: ReadonlySet<string>; evidence: ReadonlySet<string>; unaudited: ReadonlySet<string> },
): KeepReason | undefined {
  if (!isFinished(r.status)) return 'running';
  if (revertPending(r)) return 'revertPending';
  if (ctx.held.has(key(r))) return 'layeredOn';
  if (ctx.evidence.has(key(r))) return 'loopProtection';
  if (ctx.unaudited.has(key(r))) return 'unaudited';
  return undefined;
}

export function retentionPlan(input: RetentionInput): RetentionPlan {
  const { runbook, now } = input;
  const limits = limitsOf(runbook, input.defaults);
  const mine = input.remediations.filter(
    (r) =>
      r.metadata.namespace === runbook.metadata.namespace &&
      r.spec.runbookRef?.name === runbook.metadata.name &&
      !r.metadata.deletionTimestamp,
  );
  const ctx = {
    held: layeredOnHeld(input.remediations),
    evidence: loopEvidence(
      mine,
      runbook.spec.safety?.maxConsecutiveFailures ?? DEFAULT_MAX_CONSECUTIVE_FAILURES,
    ),
    unaudited: input.unaudited,
  };
  const finished = mine.filter((r) => isFinished(r.status)).sort(newestFinishedFirst);
  const plan: RetentionPlan = { delete: [] };
  const ttlMs = limits.ttlSecondsAfterFinished * 1000;
  const rank = { failed: 0, successful: 0 };
  for (const r of finished) {
    // Ranked among its kind whether or not it is kept: a limit counts what is in the cluster.
    const kind = isFailedHistory(r) ? 'failed' : 'successful';
    rank[kind] += 1;
    const keep = keepReason(r, ctx);
    if (keep === 'unaudited') plan.awaitsAudit = true;
    if (keep) continue;
    const expires = finishedAt(r) + ttlMs;
    if (expires <= now.getTime()) plan.delete.push({ rem: r, reason: 'ttl' });
    else if (kind === 'failed' && rank.failed > limits.failedHistoryLimit)
      plan.delete.push({ rem: r, reason: 'failedHistoryLimit' });
    else if (kind === 'successful' && rank.successful > limits.successfulHistoryLimit)
      plan.delete.push({ rem: r, reason: 'successfulHistoryLimit' });
    else if (!plan.nextAt || expires < plan.nextAt.getTime()) plan.nextAt = new Date(expires);
  }
  return plan;
}
