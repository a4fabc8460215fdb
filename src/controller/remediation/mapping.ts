/**
 * Watch mappings for the runtime (controller-runtime's `Watches` with an EnqueueRequestsFromMapFunc):
 * a Runbook change wakes the Remediations that still depend on it (waiting for it to exist or
 * be valid, for approval rules, for a concurrency slot) — not the finished ones.
 */
import type { Remediation, Runbook } from '../../api/v1alpha1/schema.js';
import type { Cache, Request } from '../../runtime/types.js';
import { isFinal } from '../../api/v1alpha1/lifecycle.js';

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
