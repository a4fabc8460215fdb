/**
 * Watch mappings for the runtime (controller-runtime's `Watches` with an EnqueueRequestsFromMapFunc):
 * a Runbook change wakes the Remediations that still depend on it (waiting for it to exist or
 * be valid, for approval rules, for a concurrency slot) — not the finished ones.
 */
import type { Remediation, Runbook } from '../../api/v1alpha1/schema.js';
import type { Cache, Request } from '../runtime/types.js';
import { isFinished } from './status.js';

export function isFinal(rem: Remediation): boolean {
  return isFinished(rem.status);
}

/** Runbook → Requests of its non-final Remediations (same namespace, `spec.runbookRef`). */
export function remediationsForRunbook(remediations: Cache<Remediation>): (rb: Runbook) => Request[] {
  return (rb) => {
    const ns = rb.metadata.namespace ?? '';
    return remediations
      .list(ns)
      .filter((r) => r.spec.runbookRef?.name === rb.metadata.name && !isFinal(r))
      .map((r) => ({ namespace: ns, name: r.metadata.name ?? '' }));
  };
}

/** Remediation → its Runbook, so the Runbook's `status.activeRemediations` stays current. */
export function runbookForRemediation(rem: Remediation): Request[] {
  const name = rem.spec.runbookRef?.name;
  return name ? [{ namespace: rem.metadata.namespace ?? '', name }] : [];
}
