/**
 * Whose rights a Remediation's steps use (issue #17, ADR 0023). In `serviceAccount` mode every
 * read and change of a target is made impersonating a ServiceAccount of the Remediation's own
 * namespace, so Kubernetes RBAC (not the Runbook's author) decides what a Runbook may touch.
 * In `operator` mode (single-tenant) the steps use the operator's own rights, as before.
 *
 * Pure: the identity is decided here once, copied into `status.identity` when the steps are
 * copied, and read back from there, so a Runbook edited (or deleted) mid-run cannot change whose
 * rights a running Remediation's next step or revert uses.
 */
import type { Remediation, Runbook } from '../api/v1alpha1/schema.js';

export const IDENTITY_MODES = ['operator', 'serviceAccount'] as const;
export type IdentityMode = (typeof IDENTITY_MODES)[number];

export interface IdentitySettings {
  readonly mode: IdentityMode;
  /** The ServiceAccount a Runbook without `serviceAccountName` runs as (serviceAccount mode). */
  readonly defaultServiceAccount: string;
  /** Four eyes (approvals.fourEyes): whoever created a Remediation may not approve it. */
  readonly fourEyes?: boolean;
}

/** Today's behaviour: what a reconciler built without identity settings (older tests) uses. */
export const SINGLE_TENANT: IdentitySettings = { mode: 'operator', defaultServiceAccount: 'default' };

/** `status.identity` of a Remediation run with the operator's own rights. */
export const OPERATOR_IDENTITY = 'operator';

const SA_PREFIX = 'system:serviceaccount:';

export type Identity =
  | { readonly kind: 'operator' }
  | {
      readonly kind: 'serviceAccount';
      readonly namespace: string;
      readonly name: string;
      /** `system:serviceaccount:<namespace>:<name>`: the Impersonate-User header. */
      readonly username: string;
    };

export function serviceAccountIdentity(namespace: string, name: string): Identity {
  return { kind: 'serviceAccount', namespace, name, username: `${SA_PREFIX}${namespace}:${name}` };
}

/**
 * The identity for a Remediation about to start: the Runbook's `serviceAccountName` (inline
 * steps: the Remediation's), else the default one, always in the Remediation's own namespace.
 * A Remediation can only name a Runbook of its namespace, so both are the same namespace.
 */
export function resolveIdentity(
  settings: IdentitySettings,
  rem: Pick<Remediation, 'metadata' | 'spec'>,
  runbook: Pick<Runbook, 'spec'> | undefined,
): Identity {
  if (settings.mode === 'operator') return { kind: 'operator' };
  const named = rem.spec.runbookRef ? runbook?.spec.serviceAccountName : rem.spec.serviceAccountName;
  return serviceAccountIdentity(rem.metadata.namespace ?? '', named || settings.defaultServiceAccount);
}

/** `status.identity` as written: the impersonated user name, or `operator`. */
export function identityText(id: Identity): string {
  return id.kind === 'operator' ? OPERATOR_IDENTITY : id.username;
}

/**
 * The identity a running Remediation uses: the one fixed in its status when it started. Before
 * the start (or for a Remediation started before the field existed) it is resolved now.
 * A recorded `operator` under `serviceAccount` mode (the mode was switched mid-run) is not
 * trusted: the run goes on under the ServiceAccount the Runbook names now.
 */
export function identityOf(
  settings: IdentitySettings,
  rem: Pick<Remediation, 'metadata' | 'spec' | 'status'>,
  runbook: Pick<Runbook, 'spec'> | undefined,
): Identity {
  if (settings.mode === 'operator') return { kind: 'operator' };
  const recorded = parseServiceAccountUser(rem.status?.identity ?? '');
  if (recorded && recorded.namespace === rem.metadata.namespace) return recorded;
  return resolveIdentity(settings, rem, runbook);
}

/** `system:serviceaccount:ns:name` as an identity, or undefined for any other user name. */
export function parseServiceAccountUser(user: string): (Identity & { kind: 'serviceAccount' }) | undefined {
  if (!user.startsWith(SA_PREFIX)) return undefined;
  const [namespace, name, ...rest] = user.slice(SA_PREFIX.length).split(':');
  if (!namespace || !name || rest.length > 0) return undefined;
  return { kind: 'serviceAccount', namespace, name, username: user };
}
