/**
 * Where a Runbook may act: its own namespace plus `safety.allowedNamespaces`. One rule and one
 * message for the three places that check it: Runbook validation (literal namespaces), the
 * intake (rendered targets, before a Remediation is created) and the Remediation controller
 * (the same rendering, again at start, since a Remediation may be written by hand).
 */
import type { Remediation, Runbook, Safety } from '../api/v1alpha1/schema.js';

/** The namespaces a Runbook in `namespace` with these safety rules may act in. */
export function runbookScope(
  namespace: string,
  safety: Pick<Safety, 'allowedNamespaces'> | undefined,
): Set<string> {
  return new Set([namespace, ...(safety?.allowedNamespaces ?? [])]);
}

/**
 * The scope of a Remediation's steps: its Runbook's. Inline steps may act only in the
 * Remediation's own namespace, because whoever may create a Remediation must not reach further
 * through the operator than their own namespace.
 */
export function remediationScope(rem: Remediation, runbook: Runbook | undefined): Set<string> {
  const own = rem.metadata.namespace ?? '';
  if (!rem.spec.runbookRef) return new Set([own]);
  return runbookScope(runbook?.metadata.namespace ?? own, runbook?.spec.safety);
}

/** Why `namespace` (of `what`, e.g. `Deployment/web`, when known) is refused, and what to do. */
export function outOfScopeMessage(namespace: string, scope: ReadonlySet<string>, what?: string): string {
  return `namespace "${namespace}"${what ? ` of ${what}` : ''} is outside the runbook's scope (${[...scope].join(', ')}): add it to safety.allowedNamespaces`;
}
