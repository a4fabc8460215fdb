/**
 * Watch mappings for the runtime (controller-runtime's `Watches` with an EnqueueRequestsFromMapFunc):
 * a Runbook change wakes the Remediations that still depend on it (waiting for it to exist or
 * be valid, for approval rules, for a concurrency slot) — not the finished ones.
 */
import { CONDITION_TYPES, REASONS } from '../../api/v1alpha1/constants.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import type { Remediation, Runbook } from '../../api/v1alpha1/schema.js';
import type { Cache, Request, WatchEvent } from '../../runtime/types.js';
import { isFinal, isOlder, targetKeyOf } from '../../api/v1alpha1/lifecycle.js';
import { isActive } from './policy.js';

/**
 * Only a Remediation that has not started yet (or waits for approval or a slot) reads the
 * Runbook to decide; a running one has its steps copied and re-reads the Runbook on its own
 * passes. Waking every running Remediation on each Runbook status write (usage counters) cost
 * several passes per Remediation in the controller benchmark.
 */
function waitsOnRunbook(r: Remediation): boolean {
  if (isFinal(r)) return false;
  const phase = r.status?.phase;
  return !r.status?.steps?.length || phase === 'Pending' || phase === 'AwaitingApproval';
}

/** Runbook → Requests of its Remediations that wait on it (same namespace, `spec.runbookRef`). */
export function remediationsForRunbook(remediations: Cache<Remediation>): (rb: Runbook) => Request[] {
  return (rb) => {
    const ns = rb.metadata.namespace ?? '';
    return remediations
      .list(ns)
      .filter((r) => r.spec.runbookRef?.name === rb.metadata.name && waitsOnRunbook(r))
      .map((r) => ({ namespace: ns, name: r.metadata.name ?? '' }));
  };
}

/** Remediation → its Runbook, so the Runbook's `status.activeRemediations` stays current. */
export function runbookForRemediation(rem: Remediation): Request[] {
  const name = rem.spec.runbookRef?.name;
  return name ? [{ namespace: rem.metadata.namespace ?? '', name }] : [];
}

/** Why `r` waits for a slot (policy.ts startBlocker, step-gates targetFree), or undefined. */
function slotWait(r: Remediation): string | undefined {
  // Cheap first: this runs over every Remediation when one finishes.
  const phase = r.status?.phase;
  if (phase !== 'Pending' && phase !== 'Running') return undefined;
  if (isFinal(r)) return undefined;
  const c = findCondition(r.status?.conditions, CONDITION_TYPES.blocked);
  if (c?.status !== 'True') return undefined;
  return c.reason === REASONS.targetLocked ||
    c.reason === REASONS.clusterBudget ||
    c.reason === REASONS.concurrencyLimit
    ? c.reason
    : undefined;
}

const request = (r: Remediation): Request => ({
  namespace: r.metadata.namespace ?? '',
  name: r.metadata.name ?? '',
});

/**
 * Remediation → the Remediations waiting for the slot it held. When one finishes (or is
 * deleted), the oldest that waits for its target goes next, and as many of the oldest waiting for the cluster budget
 * or its Runbook's `maxConcurrent` as there are free slots; the others keep waiting (their
 * requeue, or the next finish). Without it a Remediation waiting behind a long step (a
 * `waitUntil`, a rollout) looked again only on its 10 s requeue or on a Runbook status write.
 * Only the oldest: waking every waiter at once would start them all on the same view of the
 * cache, and all but one would wait again. (In the storm benchmark the runs are short enough
 * that the queue reaches a waiter after its predecessor finished: none waits there.)
 */
export function slotWaiters(
  remediations: Cache<Remediation>,
  clusterBudget: number,
): (rem: Remediation, event?: WatchEvent) => Request[] {
  return (rem, event) => {
    if (!isFinal(rem) && event !== 'delete') return [];
    const key = targetKeyOf(rem);
    const all = remediations.list();
    const waiting = all.filter((r) => slotWait(r) !== undefined);
    if (waiting.length === 0) return [];
    const oldest = (rs: Remediation[], n: number): Remediation[] =>
      [...rs].sort((a, b) => (isOlder(a, b) ? -1 : isOlder(b, a) ? 1 : 0)).slice(0, Math.max(0, n));
    const free = clusterBudget - all.filter(isActive).length;
    const sameTarget = key
      ? waiting.filter((r) => slotWait(r) === REASONS.targetLocked && targetKeyOf(r) === key)
      : [];
    const forBudget = waiting.filter((r) => slotWait(r) === REASONS.clusterBudget);
    const sameRunbook = waiting.filter(
      (r) =>
        slotWait(r) === REASONS.concurrencyLimit &&
        r.metadata.namespace === rem.metadata.namespace &&
        r.spec.runbookRef?.name === rem.spec.runbookRef?.name,
    );
    const woken = new Map<string, Request>();
    for (const r of [...oldest(sameTarget, 1), ...oldest(forBudget, free), ...oldest(sameRunbook, 1)]) {
      const q = request(r);
      woken.set(`${q.namespace}/${q.name}`, q);
    }
    return [...woken.values()];
  };
}
