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
import { isActive, SLOT_REASONS } from './policy.js';

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
  return c?.status === 'True' && SLOT_REASONS.has(c.reason) ? c.reason : undefined;
}

const request = (r: Remediation): Request => ({
  namespace: r.metadata.namespace ?? '',
  name: r.metadata.name ?? '',
});

const byAge = (a: Remediation, b: Remediation): number => (isOlder(a, b) ? -1 : isOlder(b, a) ? 1 : 0);

/**
 * Remediation → the Remediations waiting for the slot it held. When one finishes (or is
 * deleted), the oldest that waits for its target goes next, and as many of the oldest waiting
 * for the cluster budget as there are free slots, and the oldest waiting for its Runbook's
 * `maxConcurrent`; the others keep waiting (their requeue, or the next finish). Without it a
 * Remediation waiting behind a long step (a `waitUntil`, a rollout) looked again only on its
 * 10 s requeue or on a Runbook status write. Only the oldest: waking every waiter at once would
 * start them all on the same view of the cache, and all but one would wait again. (In the storm
 * benchmark the runs are short enough that the queue reaches a waiter after its predecessor
 * finished: none waits there.)
 */
export function slotWaiters(
  remediations: Cache<Remediation>,
  clusterBudget: number,
): (rem: Remediation, event?: WatchEvent) => Request[] {
  return (rem, event) => {
    if (!isFinal(rem) && event !== 'delete') return [];
    const key = targetKeyOf(rem);
    const all = remediations.list();
    const sameTarget: Remediation[] = [];
    const forBudget: Remediation[] = [];
    const sameRunbook: Remediation[] = [];
    for (const r of all) {
      const why = slotWait(r);
      if (why === REASONS.targetLocked && key !== undefined && targetKeyOf(r) === key) sameTarget.push(r);
      else if (why === REASONS.clusterBudget) forBudget.push(r);
      else if (
        why === REASONS.concurrencyLimit &&
        r.metadata.namespace === rem.metadata.namespace &&
        r.spec.runbookRef?.name === rem.spec.runbookRef?.name
      )
        sameRunbook.push(r);
    }
    if (sameTarget.length + forBudget.length + sameRunbook.length === 0) return [];
    const free = clusterBudget - all.filter(isActive).length;
    const woken = new Map<string, Request>();
    for (const r of [
      ...sameTarget.sort(byAge).slice(0, 1),
      ...forBudget.sort(byAge).slice(0, Math.max(0, free)),
      ...sameRunbook.sort(byAge).slice(0, 1),
    ]) {
      const q = request(r);
      woken.set(`${q.namespace}/${q.name}`, q);
    }
    return [...woken.values()];
  };
}
