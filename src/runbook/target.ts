/**
 * How a resolved target is named. The key (`Kind/namespace/name`) is what the target lock, loop
 * protection and cooldowns count by; the display form is `status.target` (`Kind/name` inside
 * the Remediation's own namespace).
 */
import type { TargetRef } from '../api/v1alpha1/schema.js';

type Named = Pick<Required<TargetRef>, 'kind' | 'namespace' | 'name'>;

/** `Kind/namespace/name`, the key of the lock, of loop protection and of cooldowns. */
export function targetKey(t: Named): string {
  return `${t.kind}/${t.namespace}/${t.name}`;
}

/** `Kind/name` when the target is in the Remediation's namespace, else `Kind/namespace/name`. */
export function displayTarget(t: Named, ownNamespace: string): string {
  return t.namespace === ownNamespace ? `${t.kind}/${t.name}` : targetKey(t);
}
